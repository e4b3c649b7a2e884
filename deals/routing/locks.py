"""Channel locks ("hard deck", DESIGN §5): a partner order makes its customer channel-exclusive.

An order counts for a lock when it counts for a partner (``OrderLine.partner`` is set: the partner's own orders
and the routed orders it accepted) and has at least one positive line (a credit alone is a correction, not a
purchase). The customer is locked on day D by its latest such order booked on B when ``B <= D < B + 36 months``
(``Program.channel_lock_months``); the partner of that order is the *incumbent*.

Channel staff can override that (``ChannelLockOverride``, its docstring has the rules): a *release* ends the lock
from its ``effective_on``, a *transfer* makes another partner the incumbent from then with the running expiry kept;
either holds until a qualifying order booked after ``effective_on`` decides again by the normal rules.

The orders and the overrides are the truth: ``channel_lock_on`` answers for any past day from them, which is what
routing uses. ``ChannelLock`` rows are the latest state, written by the nightly ``channel_locks_apply`` for staff
and pages, with their history in ``ChannelLockEvent``.
"""

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from portal.batches import failures_pending, run_isolated
from portal.fiscal import add_months
from portal.jobs import job_run_once
from portal.models import Program

from ..models import ChannelLock, ChannelLockEvent, ChannelLockOverride, OrderLine

JOB_NAME = "deals.channel_locks"
# add_months clamps month ends (29 Feb + 36 months = 28 Feb), so "B + 36 months > D" is not exactly
# "B > D - 36 months": the queries take a few days more and the exact test is done on each row.
_CLAMP_MARGIN = timedelta(days=4)


@dataclass(frozen=True)
class LockState:
    """A customer's lock as its latest qualifying order makes it, or the staff override that follows that order
    (``override_id``: then ``partner_id`` is the partner it was transferred to, or the lock is released)."""

    customer_id: int
    partner_id: int
    order_id: int
    booked_on: date
    expires_on: date  # exclusive: the first day the customer is free again
    override_id: int | None = None
    override_kind: str = ""  # ChannelLockOverride.Kind, when an override decides
    override_on: date | None = None

    @property
    def released_by_staff(self) -> bool:
        return self.override_kind == ChannelLockOverride.Kind.RELEASED

    def is_active_on(self, day: date) -> bool:
        return not self.released_by_staff and self.booked_on <= day < self.expires_on


def _state(customer_id, order: tuple, override: tuple | None, *, months: int) -> LockState:
    """The lock made by ``order`` = (partner, order id, booked on), unless ``override`` = (id, kind, to partner,
    effective on) is effective on or after that order's date: then released, or transferred to the partner with
    the order's expiry kept."""
    partner_id, order_id, booked_on = order
    expires_on = lock_expiry(booked_on, months=months)
    if override is None:
        return LockState(customer_id, partner_id, order_id, booked_on, expires_on)
    override_id, kind, to_partner_id, effective_on = override
    if effective_on < booked_on:
        return LockState(customer_id, partner_id, order_id, booked_on, expires_on)  # a later order decided again
    incumbent_id = to_partner_id if kind == ChannelLockOverride.Kind.TRANSFERRED else partner_id
    return LockState(customer_id, incumbent_id, order_id, booked_on, expires_on, override_id, kind, effective_on)


def latest_overrides(*, as_of: date, customer_ids=None) -> dict[int, tuple]:
    """Return ``{customer_id: (id, kind, to_partner_id, effective_on)}``: each customer's latest staff
    override effective on or before ``as_of`` (ties: the one written last), in one windowed query."""
    overrides = ChannelLockOverride.objects.filter(effective_on__lte=as_of)
    if customer_ids is not None:
        overrides = overrides.filter(customer_id__in=list(customer_ids))
    ranked = (
        overrides.annotate(
            rank=Window(
                RowNumber(), partition_by=[F("customer_id")], order_by=[F("effective_on").desc(), F("id").desc()]
            )
        )
        .filter(rank=1)
        .values_list("customer_id", "id", "kind", "to_partner_id", "effective_on")
    )
    return {row[0]: row[1:] for row in ranked}


def lock_states(*, as_of: date, customer_ids=None, booked_after: date | None = None, months: int) -> dict:
    """Return each customer's ``LockState`` on ``as_of`` (active or not) from its latest qualifying order and its
    latest override: two queries."""
    latest = latest_qualifying_orders(as_of=as_of, customer_ids=customer_ids, booked_after=booked_after)
    overrides = latest_overrides(as_of=as_of, customer_ids=customer_ids) if latest else {}
    return {
        customer_id: _state(customer_id, order, overrides.get(customer_id), months=months)
        for customer_id, order in latest.items()
    }


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
    states = lock_states(
        as_of=day, customer_ids=customer_ids, booked_after=add_months(day, -months) - _CLAMP_MARGIN, months=months
    )
    return {customer_id: state for customer_id, state in states.items() if state.is_active_on(day)}


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
    overrides: dict[int, list[tuple]] = defaultdict(list)
    if history:
        for row in (
            ChannelLockOverride.objects.filter(
                customer_id__in=list(history), effective_on__lte=max(d for _c, d in pairs)
            )
            .order_by("customer_id", "effective_on", "id")
            .values_list("customer_id", "id", "kind", "to_partner_id", "effective_on")
        ):
            overrides[row[0]].append(row[1:])
    locks = {}
    for customer_id, day in pairs:
        orders = history.get(customer_id, [])
        # The latest order booked on or before ``day``; sorted by (date, id), so ties go to the highest order id,
        # as in the nightly job.
        index = bisect_right([booked_on for booked_on, _order, _partner in orders], day) - 1
        if index < 0:
            continue
        booked_on, order_id, partner_id = orders[index]
        # The latest override effective on or before ``day`` (ties: the one written last).
        decided = overrides.get(customer_id, [])
        at = bisect_right([effective_on for _id, _kind, _to, effective_on in decided], day) - 1
        state = _state(customer_id, (partner_id, order_id, booked_on), decided[at] if at >= 0 else None, months=months)
        if state.is_active_on(day):
            locks[(customer_id, day)] = state
    return locks


def channel_locks_apply(*, as_of: date, force: bool = False) -> dict | None:
    """Apply the channel locks as of ``as_of``, once per date (``force`` re-runs it: the result is the same; a
    date with customers that failed is run again, which retries them)."""
    force = force or failures_pending(JOB_NAME)
    return job_run_once(JOB_NAME, as_of.isoformat(), lambda: channel_locks_refresh(as_of=as_of), force=force)


def channel_locks_refresh(*, as_of: date, customer_ids=None, reference: bool = False) -> dict:
    """Bring the ``ChannelLock`` rows (of ``customer_ids``, or all) to their state on ``as_of`` and write the events.

    Set-based and linear: the decisions for the whole batch first (on PostgreSQL one statement with a window
    over the qualifying lines, into a temporary table; elsewhere the Python reference, ``_decisions_python``),
    then the writes in chunks of customers, each in a savepoint (``run_isolated``): a customer whose row cannot
    be written is recorded for staff and retried by the next run, the others are written. Rows already brought
    to a later date are left alone: a replay of an older date never rewinds the current state.

    ``reference=True`` takes the Python path on PostgreSQL too (the property test compares the two).
    """
    months = Program.current().channel_lock_months
    customer_ids = None if customer_ids is None else sorted(set(customer_ids))
    counts = {"locked": 0, "extended": 0, "transferred": 0, "released": 0}
    if customer_ids == []:
        return {"as_of": as_of.isoformat(), **counts}
    with transaction.atomic():
        if connection.vendor == "postgresql" and not reference:
            decided = _decide_sql(as_of=as_of, months=months, customer_ids=customer_ids)

            def write(batch):
                _write_sql(batch, as_of=as_of)
        else:
            rows, events = _decisions_python(as_of=as_of, months=months, customer_ids=customer_ids)
            decided = {event.customer_id: event.kind for event in events}
            rows_by_customer = {row.customer_id: row for row in rows}
            events_by_customer = {event.customer_id: event for event in events}

            def write(batch):
                _write_python([rows_by_customer[c] for c in batch], [events_by_customer[c] for c in batch])

        ordered = sorted(decided)
        outcome = run_isolated(
            job=JOB_NAME,
            period=as_of.isoformat(),
            batches=[ordered[start : start + WRITE_CHUNK] for start in range(0, len(ordered), WRITE_CHUNK)],
            process=write,
            key=lambda customer_id: f"customer {customer_id}",
        )
        failed = {int(key.split()[-1]) for key in outcome.failed}
        for customer_id, kind in decided.items():
            if customer_id not in failed:
                counts[kind] = counts.get(kind, 0) + 1  # staff_released / staff_transferred only when any
    result = {"as_of": as_of.isoformat(), **counts}
    if failed:
        result["failed_items"] = len(failed)  # listed in the admin (``JobItemFailure``), retried by the next run
    return result


WRITE_CHUNK = 5000

# The decisions of ``_decisions_python`` as one statement (PostgreSQL): ``latest_order`` is each customer's latest
# qualifying order on or before the date, ``latest_override`` its latest staff override on or before it, ``latest``
# the state they make (the override decides when it is effective on or after the order's date); ``active`` the
# customers locked on the date (with the stored row, to tell locked / extended / transferred and skip what is
# already applied); ``lapsed`` the stored open locks whose customer is no longer locked (expired, or released by
# staff). ``date + interval 'N months'`` clamps month ends like ``add_months``.
_DECIDE_SQL = """
CREATE TEMPORARY TABLE channel_lock_decisions ON COMMIT DROP AS
WITH latest_order AS (
    SELECT customer_id, partner_id, order_id, booked_on,
           (booked_on + make_interval(months => %(months)s))::date AS expires_on
    FROM (
        SELECT customer_id, partner_id, order_id, booked_on,
               row_number() OVER (PARTITION BY customer_id ORDER BY booked_on DESC, order_id DESC, id DESC) AS rank
        FROM deals_orderline
        WHERE partner_id IS NOT NULL AND net_amount > 0 AND booked_on <= %(as_of)s {line_filter}
    ) AS ranked
    WHERE rank = 1
),
latest_override AS (
    SELECT DISTINCT ON (customer_id) customer_id, id, kind, to_partner_id, effective_on
    FROM deals_channellockoverride
    WHERE effective_on <= %(as_of)s {line_filter}
    ORDER BY customer_id, effective_on DESC, id DESC
),
latest AS (
    SELECT l.customer_id, COALESCE(o.to_partner_id, l.partner_id) AS partner_id, l.order_id, l.booked_on,
           l.expires_on,
           o.id AS override_id, o.kind AS override_kind, o.effective_on AS override_on
    FROM latest_order AS l
    LEFT JOIN latest_override AS o ON o.customer_id = l.customer_id AND o.effective_on >= l.booked_on
),
active AS (
    SELECT l.*, s.customer_id IS NOT NULL AND (s.released_on IS NULL OR l.booked_on < s.released_on) AS continuing,
           s.partner_id AS stored_partner_id, s.locked_on AS stored_locked_on
    FROM latest AS l
    LEFT JOIN deals_channellock AS s ON s.customer_id = l.customer_id
    WHERE l.expires_on > %(as_of)s AND l.override_kind IS DISTINCT FROM 'released'
      AND (s.customer_id IS NULL
           OR (s.applied_on <= %(as_of)s
               AND NOT (s.released_on IS NULL AND s.last_order_id = l.order_id
                        AND s.override_id IS NOT DISTINCT FROM l.override_id)))
)
SELECT customer_id, partner_id, order_id, booked_on, expires_on,
       CASE WHEN continuing THEN stored_locked_on ELSE booked_on END AS locked_on, NULL::date AS released_on,
       CASE WHEN override_kind = 'transferred' THEN 'staff_transferred' WHEN NOT continuing THEN 'locked'
            WHEN stored_partner_id = partner_id THEN 'extended' ELSE 'transferred' END AS kind,
       override_id, override_on
FROM active
UNION ALL
SELECT s.customer_id, COALESCE(l.partner_id, s.partner_id), COALESCE(l.order_id, s.last_order_id),
       COALESCE(l.booked_on, s.last_booked_on), e.expires_on, s.locked_on,
       CASE WHEN l.override_kind = 'released' THEN l.override_on ELSE e.expires_on END,
       CASE WHEN l.override_kind = 'released' THEN 'staff_released' ELSE 'released' END,
       CASE WHEN l.customer_id IS NULL THEN s.override_id ELSE l.override_id END, l.override_on
FROM deals_channellock AS s
LEFT JOIN latest AS l ON l.customer_id = s.customer_id
CROSS JOIN LATERAL (
    SELECT COALESCE(l.expires_on, (s.last_booked_on + make_interval(months => %(months)s))::date) AS expires_on
) AS e
WHERE s.released_on IS NULL AND s.applied_on <= %(as_of)s {lock_filter}
  AND (l.customer_id IS NULL OR l.expires_on <= %(as_of)s OR l.override_kind = 'released')
"""

_WRITE_LOCKS_SQL = """
INSERT INTO deals_channellock (customer_id, partner_id, locked_on, last_order_id, last_booked_on, expires_on,
                               released_on, applied_on, override_id, updated_at)
SELECT customer_id, partner_id, locked_on, order_id, booked_on, expires_on, released_on, %(as_of)s, override_id,
       now()
FROM channel_lock_decisions WHERE customer_id BETWEEN %(first)s AND %(last)s
ON CONFLICT (customer_id) DO UPDATE SET
    partner_id = EXCLUDED.partner_id, locked_on = EXCLUDED.locked_on, last_order_id = EXCLUDED.last_order_id,
    last_booked_on = EXCLUDED.last_booked_on, expires_on = EXCLUDED.expires_on,
    released_on = EXCLUDED.released_on, applied_on = EXCLUDED.applied_on, override_id = EXCLUDED.override_id,
    updated_at = EXCLUDED.updated_at
"""

# Events: an order's event names its order; a release its expiry; a staff override its override (and its date).
_WRITE_EVENTS_SQL = """
INSERT INTO deals_channellockevent (customer_id, kind, partner_id, order_id, override_id, effective_on, expires_on,
                                    recorded_on, created_at)
SELECT customer_id, kind, partner_id,
       CASE WHEN kind IN ('locked', 'extended', 'transferred') THEN order_id END,
       CASE WHEN kind IN ('staff_released', 'staff_transferred') THEN override_id END,
       CASE WHEN kind IN ('released', 'staff_released') THEN released_on
            WHEN kind = 'staff_transferred' THEN override_on ELSE booked_on END,
       CASE WHEN kind IN ('released', 'staff_released') THEN NULL ELSE expires_on END,
       %(as_of)s, now()
FROM channel_lock_decisions WHERE customer_id BETWEEN %(first)s AND %(last)s
ORDER BY customer_id
ON CONFLICT DO NOTHING
"""


def _decide_sql(*, as_of: date, months: int, customer_ids) -> dict[int, str]:
    """Write the decisions into ``channel_lock_decisions`` (dropped at commit); return ``{customer: kind}``."""
    params = {"as_of": as_of, "months": months, "ids": customer_ids}
    line_filter = lock_filter = ""
    if customer_ids is not None:
        line_filter, lock_filter = "AND customer_id = ANY(%(ids)s)", "AND s.customer_id = ANY(%(ids)s)"
    with connection.cursor() as cursor:
        # The stored rows are locked first, as the Python path does, so that an accept refreshing one customer
        # waits for the run (and the run for it): the whole table for a full run (no row lock on every row).
        # (Statements without parameters are sent together: one round trip.)
        if customer_ids is None:
            cursor.execute(
                "LOCK TABLE deals_channellock IN SHARE ROW EXCLUSIVE MODE; DROP TABLE IF EXISTS channel_lock_decisions"
            )
        else:
            cursor.execute("SELECT 1 FROM deals_channellock WHERE customer_id = ANY(%(ids)s) FOR UPDATE", params)
            cursor.execute("DROP TABLE IF EXISTS channel_lock_decisions")
        cursor.execute(_DECIDE_SQL.format(line_filter=line_filter, lock_filter=lock_filter), params)
        # The writes read it by ranges of customers (and one by one after a failure).
        cursor.execute("CREATE INDEX ON channel_lock_decisions (customer_id); ANALYZE channel_lock_decisions")
        cursor.execute("SELECT customer_id, kind FROM channel_lock_decisions")
        return dict(cursor.fetchall())


def _write_sql(customer_ids, *, as_of: date) -> None:
    """Write the decisions of ``customer_ids`` (a sorted slice of the decided customers: a range of ids)."""
    params = {"as_of": as_of, "first": customer_ids[0], "last": customer_ids[-1]}
    with connection.cursor() as cursor:
        cursor.execute(_WRITE_LOCKS_SQL, params)
        cursor.execute(_WRITE_EVENTS_SQL, params)


def _decisions_python(*, as_of: date, months: int, customer_ids) -> tuple[list[ChannelLock], list[ChannelLockEvent]]:
    """The reference decisions (SQLite, and the property test on PostgreSQL): the rows to upsert and their events.

    Windowed queries for the latest qualifying orders and overrides, one for the stored rows (locked), and the
    same two for the customers whose lock lapsed.
    """
    stored_rows = ChannelLock.objects.select_for_update()
    if customer_ids is not None:
        stored_rows = stored_rows.filter(customer_id__in=customer_ids)
    stored = {lock.customer_id: lock for lock in stored_rows.order_by("customer_id")}
    active = channel_lock_on(customer_ids, as_of, months=months)
    lapsed_ids = [
        customer_id
        for customer_id, lock in stored.items()
        if lock.released_on is None and customer_id not in active and lock.applied_on <= as_of
    ]
    # A lapsed lock ends on the expiry of the customer's latest qualifying order (a late import can have
    # moved it past the stored one), or of the transfer that followed it, or on the day staff released it.
    lapsed = lock_states(as_of=as_of, customer_ids=lapsed_ids, months=months) if lapsed_ids else {}

    rows: list[ChannelLock] = []
    events: list[ChannelLockEvent] = []
    for customer_id in sorted(active):
        state = active[customer_id]
        lock = stored.get(customer_id)
        if lock is not None and lock.applied_on > as_of:
            continue
        if (
            lock is not None
            and lock.released_on is None
            and lock.last_order_id == state.order_id
            and lock.override_id == state.override_id
        ):
            continue
        continuing = lock is not None and (lock.released_on is None or state.booked_on < lock.released_on)
        if state.override_kind == ChannelLockOverride.Kind.TRANSFERRED:
            kind = ChannelLockEvent.Kind.STAFF_TRANSFERRED
        elif not continuing:
            kind = ChannelLockEvent.Kind.LOCKED
        elif lock.partner_id == state.partner_id:
            kind = ChannelLockEvent.Kind.EXTENDED
        else:
            kind = ChannelLockEvent.Kind.TRANSFERRED
        staff = kind == ChannelLockEvent.Kind.STAFF_TRANSFERRED
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
                override_id=state.override_id,
            )
        )
        events.append(
            ChannelLockEvent(
                customer_id=customer_id,
                kind=kind,
                partner_id=state.partner_id,
                order_id=None if staff else state.order_id,
                override_id=state.override_id if staff else None,
                effective_on=state.override_on if staff else state.booked_on,
                expires_on=state.expires_on,
                recorded_on=as_of,
            )
        )
    for customer_id in lapsed_ids:
        lock = stored[customer_id]
        state = lapsed.get(customer_id)
        if state is None:
            partner_id, order_id, booked_on = lock.partner_id, lock.last_order_id, lock.last_booked_on
            expires_on, override_id = lock_expiry(booked_on, months=months), lock.override_id
        else:
            partner_id, order_id, booked_on = state.partner_id, state.order_id, state.booked_on
            expires_on, override_id = state.expires_on, state.override_id
        by_staff = state is not None and state.released_by_staff
        released_on = state.override_on if by_staff else expires_on
        rows.append(
            ChannelLock(
                customer_id=customer_id,
                partner_id=partner_id,
                locked_on=lock.locked_on,
                last_order_id=order_id,
                last_booked_on=booked_on,
                expires_on=expires_on,
                released_on=released_on,
                applied_on=as_of,
                override_id=override_id,
            )
        )
        events.append(
            ChannelLockEvent(
                customer_id=customer_id,
                kind=ChannelLockEvent.Kind.STAFF_RELEASED if by_staff else ChannelLockEvent.Kind.RELEASED,
                partner_id=partner_id,
                order_id=None,
                override_id=override_id if by_staff else None,
                effective_on=released_on,
                expires_on=None,
                recorded_on=as_of,
            )
        )
    return rows, events


def _write_python(rows: list[ChannelLock], events: list[ChannelLockEvent]) -> None:
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
            "override",
            "updated_at",
        ],
        batch_size=1000,
    )
    ChannelLockEvent.objects.bulk_create(events, ignore_conflicts=True, batch_size=1000)
