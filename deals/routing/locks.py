"""Channel locks ("hard deck", DESIGN §5): a partner order makes its customer channel-exclusive.

An order counts for a lock when it counts for a partner (``OrderLine.partner`` is set: the partner's own orders
and the routed orders it accepted) and has at least one positive line (a credit alone is a correction, not a
purchase). The customer is locked on day D by its latest such order booked on B when ``B <= D < B + 36 months``
(``Program.channel_lock_months``); the partner of that order is the *incumbent*.

The orders are the truth: ``channel_lock_on`` answers for any past day from them, which is what routing uses.
``ChannelLock`` rows are the latest state, written by the nightly ``channel_locks_apply`` for staff and pages,
with their history in ``ChannelLockEvent``.
"""

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from portal.fiscal import add_months
from portal.jobs import job_run_once
from portal.models import Program

from ..models import ChannelLock, ChannelLockEvent, OrderLine

JOB_NAME = "deals.channel_locks"
# add_months clamps month ends (29 Feb + 36 months = 28 Feb), so "B + 36 months > D" is not exactly
# "B > D - 36 months": the queries take a few days more and the exact test is done on each row.
_CLAMP_MARGIN = timedelta(days=4)


@dataclass(frozen=True)
class LockState:
    """A customer's lock as its latest qualifying order makes it."""

    customer_id: int
    partner_id: int
    order_id: int
    booked_on: date
    expires_on: date  # exclusive: the first day the customer is free again

    def is_active_on(self, day: date) -> bool:
        return self.booked_on <= day < self.expires_on


def lock_expiry(booked_on: date, *, months: int) -> date:
    """Return the first day a lock from an order booked on ``booked_on`` no longer holds."""
    return add_months(booked_on, months)


def latest_qualifying_orders(*, as_of: date, customer_ids=None, booked_after: date | None = None) -> dict[int, tuple]:
    """Return ``{customer_id: (partner_id, order_id, booked_on)}`` for each customer's latest qualifying order
    booked on or before ``as_of`` (and after ``booked_after``), in one windowed query.

    Ties on the booked date go to the order imported last (highest id), so the answer is deterministic.
    """
    lines = OrderLine.objects.filter(partner__isnull=False, net_amount__gt=0, booked_on__lte=as_of)
    if booked_after is not None:
        lines = lines.filter(booked_on__gt=booked_after)
    if customer_ids is not None:
        lines = lines.filter(customer_id__in=list(customer_ids))
    ranked = (
        lines.annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("customer_id")],
                order_by=[F("booked_on").desc(), F("order_id").desc(), F("id").desc()],
            )
        )
        .filter(rank=1)
        .values_list("customer_id", "partner_id", "order_id", "booked_on")
    )
    return {customer_id: (partner_id, order_id, booked_on) for customer_id, partner_id, order_id, booked_on in ranked}


def channel_lock_on(customer_ids, day: date, *, months: int | None = None) -> dict[int, LockState]:
    """Return the active lock of each of ``customer_ids`` on ``day``, derived from the orders (exact for any past
    day, whatever the nightly job did); customers without a lock are absent."""
    months = Program.current().channel_lock_months if months is None else months
    latest = latest_qualifying_orders(
        as_of=day, customer_ids=customer_ids, booked_after=add_months(day, -months) - _CLAMP_MARGIN
    )
    locks = {}
    for customer_id, (partner_id, order_id, booked_on) in latest.items():
        state = LockState(customer_id, partner_id, order_id, booked_on, lock_expiry(booked_on, months=months))
        if state.is_active_on(day):
            locks[customer_id] = state
    return locks


def channel_locks_on_dates(pairs, *, months: int | None = None) -> dict[tuple[int, date], LockState]:
    """Return the active lock of each ``(customer_id, day)`` of ``pairs`` on that day, from one query over the
    customers' qualifying orders (for routing a batch of orders, each on its own booked date)."""
    pairs = set(pairs)
    if not pairs:
        return {}
    months = Program.current().channel_lock_months if months is None else months
    first_day = min(day for _customer, day in pairs)
    rows = (
        OrderLine.objects.filter(
            partner__isnull=False,
            net_amount__gt=0,
            customer_id__in={customer_id for customer_id, _day in pairs},
            booked_on__gt=add_months(first_day, -months) - _CLAMP_MARGIN,
            booked_on__lte=max(day for _customer, day in pairs),
        )
        .values_list("customer_id", "booked_on", "order_id", "partner_id")
        .order_by("customer_id", "booked_on", "order_id")
        .distinct()
    )
    history: dict[int, list[tuple[date, int, int]]] = defaultdict(list)
    for customer_id, booked_on, order_id, partner_id in rows:
        history[customer_id].append((booked_on, order_id, partner_id))
    locks = {}
    for customer_id, day in pairs:
        orders = history.get(customer_id, [])
        # The latest order booked on or before ``day``; sorted by (date, id), so ties go to the highest order id,
        # as in the nightly job.
        index = bisect_right([booked_on for booked_on, _order, _partner in orders], day) - 1
        if index < 0:
            continue
        booked_on, order_id, partner_id = orders[index]
        state = LockState(customer_id, partner_id, order_id, booked_on, lock_expiry(booked_on, months=months))
        if state.is_active_on(day):
            locks[(customer_id, day)] = state
    return locks


def channel_locks_apply(*, as_of: date, force: bool = False) -> dict | None:
    """Apply the channel locks as of ``as_of``, once per date (``force`` re-runs it: the result is the same)."""
    return job_run_once(JOB_NAME, as_of.isoformat(), lambda: channel_locks_refresh(as_of=as_of), force=force)


def channel_locks_refresh(*, as_of: date, customer_ids=None) -> dict:
    """Bring the ``ChannelLock`` rows (of ``customer_ids``, or all) to their state on ``as_of`` and write the events.

    Set-based: one windowed query for the latest qualifying orders, one for the stored rows, one upsert of the
    changed rows and one insert of the events (plus one query for the customers whose lock lapsed). Rows already
    brought to a later date are left alone: a replay of an older date never rewinds the current state.
    """
    months = Program.current().channel_lock_months
    with transaction.atomic():
        stored_rows = ChannelLock.objects.select_for_update()
        if customer_ids is not None:
            customer_ids = list(customer_ids)
            stored_rows = stored_rows.filter(customer_id__in=customer_ids)
        stored = {lock.customer_id: lock for lock in stored_rows.order_by("customer_id")}
        active = channel_lock_on(customer_ids, as_of, months=months) if customer_ids != [] else {}
        lapsed_ids = [
            customer_id
            for customer_id, lock in stored.items()
            if lock.released_on is None and customer_id not in active and lock.applied_on <= as_of
        ]
        # A lapsed lock ends on the expiry of the customer's latest qualifying order (a late import can have
        # moved it past the stored one).
        lapsed = latest_qualifying_orders(as_of=as_of, customer_ids=lapsed_ids) if lapsed_ids else {}

        rows: list[ChannelLock] = []
        events: list[ChannelLockEvent] = []
        counts = {"locked": 0, "extended": 0, "transferred": 0, "released": 0}
        for customer_id in sorted(active):
            state = active[customer_id]
            lock = stored.get(customer_id)
            if lock is not None and lock.applied_on > as_of:
                continue
            if lock is not None and lock.released_on is None and lock.last_order_id == state.order_id:
                continue
            continuing = lock is not None and (lock.released_on is None or state.booked_on < lock.expires_on)
            if not continuing:
                kind = ChannelLockEvent.Kind.LOCKED
            elif lock.partner_id == state.partner_id:
                kind = ChannelLockEvent.Kind.EXTENDED
            else:
                kind = ChannelLockEvent.Kind.TRANSFERRED
            counts[kind] += 1
            rows.append(
                ChannelLock(
                    customer_id=customer_id,
                    partner_id=state.partner_id,
                    locked_on=lock.locked_on if continuing else state.booked_on,
                    last_order_id=state.order_id,
                    last_booked_on=state.booked_on,
                    expires_on=state.expires_on,
                    released_on=None,
                    applied_on=as_of,
                )
            )
            events.append(
                ChannelLockEvent(
                    customer_id=customer_id,
                    kind=kind,
                    partner_id=state.partner_id,
                    order_id=state.order_id,
                    effective_on=state.booked_on,
                    expires_on=state.expires_on,
                    recorded_on=as_of,
                )
            )
        for customer_id in lapsed_ids:
            lock = stored[customer_id]
            partner_id, order_id, booked_on = lapsed.get(
                customer_id, (lock.partner_id, lock.last_order_id, lock.last_booked_on)
            )
            expires_on = lock_expiry(booked_on, months=months)
            counts["released"] += 1
            rows.append(
                ChannelLock(
                    customer_id=customer_id,
                    partner_id=partner_id,
                    locked_on=lock.locked_on,
                    last_order_id=order_id,
                    last_booked_on=booked_on,
                    expires_on=expires_on,
                    released_on=expires_on,
                    applied_on=as_of,
                )
            )
            events.append(
                ChannelLockEvent(
                    customer_id=customer_id,
                    kind=ChannelLockEvent.Kind.RELEASED,
                    partner_id=partner_id,
                    order_id=None,
                    effective_on=expires_on,
                    expires_on=None,
                    recorded_on=as_of,
                )
            )
        if rows:
            ChannelLock.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["customer"],
                update_fields=[
                    "partner",
                    "locked_on",
                    "last_order",
                    "last_booked_on",
                    "expires_on",
                    "released_on",
                    "applied_on",
                    "updated_at",
                ],
                batch_size=1000,
            )
        if events:
            ChannelLockEvent.objects.bulk_create(events, ignore_conflicts=True, batch_size=1000)
    return {"as_of": as_of.isoformat(), **counts}
