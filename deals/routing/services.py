"""Routing of direct orders to the channel (DESIGN §5), and the partner's and staff's answers to it.

A direct order is decided once, on its booked date (``RoutingCase``, one per order):

1. the customer is channel-locked on that date → reason ``locked``;
2. else a protected registration covers the customer and one of the order's product lines → ``registration``;
3. else the order total is strictly under the hard-deck ceiling of the customer's zone → ``under_ceiling``;
4. else it stays direct: a case with reason ``not_routed`` records why, so staff see every direct order's
   decision and the nightly job never looks at that order again.

The order is offered (``RoutingOffer``) to, in turn: the holder of the covering registration, the incumbent of
the lock, then — among the active partners of the customer's country not yet offered this order — the one with
the lowest (offers made to it this quarter ÷ its tier's routing weight), ties by lowest id. Each offer gives
``Program.routing_offer_days`` to answer; a decline or a timeout moves the order to the next candidate; with none
left the case closes and the order stays direct, with the reason.

Runs are deterministic (orders in booked date then id order, exact fractions) and serialised by a row lock on the
program settings, because each choice depends on the offers made before it. Cases being answered at that very
moment are skipped (``skip_locked``) and picked up by the next run.
"""

import heapq
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.models import Membership, Partner, Tier, Zone, ZoneCountry
from partners.selectors import partner_recipients, tier_ids_on_day
from portal.batches import failures_pending, failures_unresolved, run_isolated
from portal.bulkcopy import copy_rows
from portal.emailcontext import Column, ModelRef, PortalLink
from portal.emails import UsersEmail, emails_queue, emails_queue_query
from portal.events import ROUTED_OFFER_RECEIVED, PartnerEvent, events_publish
from portal.fiscal import Quarter
from portal.jobs import job_run_once
from portal.models import Program

from ..models import (
    ChannelLock,
    ChannelLockOverride,
    Customer,
    Order,
    OrderLine,
    Registration,
    RoutingCase,
    RoutingOffer,
)
from .locks import LockState, channel_locks_on_dates, channel_locks_refresh, lock_states

JOB_NAME = "deals.route_direct_orders"
BATCH_SIZE = 500
SQL_BATCH_SIZE = 5000  # decided by one query: a batch is only its writes
OFFER_EMAIL_TEMPLATE = "deals/email/routed_offer"


class RoutingError(Exception):
    """An answer that cannot be applied (the offer is closed, the deadline passed, a reason is missing)."""


# Runs -------------------------------------------------------------------------------------------------------------


def route_direct_orders(*, as_of: date, force: bool = False) -> dict | None:
    """Route the direct orders booked on or before ``as_of`` and expire unanswered offers, once per date."""
    # Items that failed on an earlier run of this date are retried by running the date again.
    force = force or failures_pending(JOB_NAME)
    return job_run_once(JOB_NAME, as_of.isoformat(), lambda: routing_run(as_of=as_of), force=force)


def routing_run(*, as_of: date, reference: bool = False) -> dict:
    """Expire the offers whose deadline passed before ``as_of`` (offering to the next candidate), then decide
    every direct order booked on or before ``as_of`` that has no case yet. Safe to re-run: it only picks up
    offers still open and orders still without a case.

    ``reference=True`` decides the new orders by the Python reference on PostgreSQL too (the equivalence test
    compares it with the one query)."""
    with transaction.atomic():
        allocator = _Allocator.start(day=as_of, reference=reference)
        pending = failures_unresolved(JOB_NAME)
        expired, expire_failures = _expire_offers(allocator, pending)
        decided = _route_new_orders(allocator, pending, reference=reference)
    if expire_failures:
        decided["failed_items"] = decided.get("failed_items", 0) + expire_failures
    return {"as_of": as_of.isoformat(), "expired_offers": expired, **decided}


def _routing_mutex() -> Program:
    """Serialise the writers that choose partners (the nightly run, a decline, a staff reassignment)."""
    program, _created = Program.objects.select_for_update().get_or_create(pk=1)
    return program


@dataclass
class _Allocator:
    """The choices of one run on ``day``: the program, zones, candidate pools and this quarter's offer counts.

    The fair-share choice is a heap per country of ``(offers ÷ weight, partner id, offers)``: a choice costs
    O(log pool) instead of a scan of the pool, which made a night quadratic in (orders × partners of a country).
    The ratio is kept exact as an integer, ``offers × (L ÷ weight)`` with ``L`` the least common multiple of the
    tiers' weights, which orders the partners as the fractions do: building a ``Fraction`` per entry (gcd
    included) and comparing them in Python was ≈ 0.07 s of a profiled night of 5,000 partners.
    A partner's entry is replaced when its count changes (the old one is dropped when it surfaces). The pools are
    plain ids and weights, every country's read at once (three queries) the first time a choice is needed.
    """

    day: date
    program: Program
    offer_counts: dict[int, int]
    ceilings: dict[str, Decimal]
    pools: dict[str, list[int]] | None = None  # country → active partner ids, in id order
    weights: dict[int, int] = field(default_factory=dict)  # partner id → its tier's routing weight on ``day``
    steps: dict[int, int] = field(default_factory=dict)  # partner id → L ÷ its weight: one offer's share of the ratio
    countries: dict[int, str] = field(default_factory=dict)  # partner id → country, for the pooled partners
    heaps: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)
    reference: bool = False  # the run's emails queued by the Python reference, not by one query (PostgreSQL)

    @classmethod
    def start(cls, *, day: date, reference: bool = False) -> "_Allocator":
        program = _routing_mutex()
        quarter = Quarter.containing(day)
        counts = defaultdict(int)
        rows = (
            RoutingOffer.objects.filter(offered_on__gte=quarter.start, offered_on__lte=quarter.end)
            .values("partner_id")
            .annotate(offers=Count("id"))
            .order_by()
            .values_list("partner_id", "offers")
        )
        for partner_id, offers in rows:
            counts[partner_id] = offers
        return cls(day=day, program=program, offer_counts=counts, ceilings={}, reference=reference)

    @property
    def respond_by(self) -> date:
        return self.day + timedelta(days=self.program.routing_offer_days)

    def ceiling(self, country: str) -> Decimal:
        """The hard-deck ceiling of ``country``'s zone (as ``Zone.objects.for_country``), every zone read at once."""
        if not self.ceilings:
            default = None
            rows = Zone.objects.order_by("code").values_list("countries__country", "hard_deck_ceiling", "is_default")
            for zone_country, ceiling, is_default in rows:
                if zone_country is not None:
                    self.ceilings.setdefault(zone_country, ceiling)
                if is_default and default is None:
                    default = ceiling
            self.ceilings[None] = default
        if country in self.ceilings:
            return self.ceilings[country]
        if self.ceilings[None] is None:
            raise Zone.DoesNotExist("No default zone")
        return self.ceilings[None]

    def pool(self, country: str) -> list[int]:
        """The active partners of ``country`` (ids), each with its tier's routing weight on the run's day."""
        if self.pools is None:
            tiers = Tier.objects.in_bulk()
            authorized_id = next(pk for pk, tier in tiers.items() if tier.code == Tier.AUTHORIZED)
            tier_ids = tier_ids_on_day(self.day, authorized_id=authorized_id)
            common = math.lcm(*(max(tier.routing_weight, 1) for tier in tiers.values()))
            self.pools = defaultdict(list)
            for partner_id, partner_country in (
                Partner.objects.filter(active=True).order_by("id").values_list("id", "country")
            ):
                self.pools[partner_country].append(partner_id)
                self.countries[partner_id] = partner_country
                weight = max(tiers[tier_ids.get(partner_id, authorized_id)].routing_weight, 1)
                self.weights[partner_id] = weight
                self.steps[partner_id] = common // weight
        return self.pools.get(country, [])

    def _heap(self, country: str) -> list[tuple[int, int, int]]:
        if country not in self.heaps:
            counts, steps = self.offer_counts, self.steps
            heap = [(counts[pk] * steps[pk], pk, counts[pk]) for pk in self.pool(country)]
            heapq.heapify(heap)
            self.heaps[country] = heap
        return self.heaps[country]

    def fair_choice(self, country: str, excluded=()) -> int | None:
        """The active partner of ``country`` not in ``excluded`` with the lowest offers ÷ weight, then lowest id.

        The ratios are compared exactly (integers scaled by the weights' common multiple), never as floats.
        """
        heap = self._heap(country)
        skipped = []
        chosen = None
        while heap:
            _ratio, partner_id, count = heap[0]
            if count != self.offer_counts[partner_id]:
                heapq.heappop(heap)  # stale: the partner's current entry is further down
            elif partner_id in excluded:
                skipped.append(heapq.heappop(heap))
            else:
                chosen = partner_id
                break
        for entry in skipped:
            heapq.heappush(heap, entry)
        return chosen

    def next_target(self, case: RoutingCase, excluded: set[int]) -> tuple[int, str] | None:
        """The next partner (id) to offer ``case`` to, and why it was chosen; ``None`` when nobody is left."""
        registration = case.registration
        if registration is not None and registration.partner.active and registration.partner_id not in excluded:
            return registration.partner_id, RoutingOffer.Source.REGISTRATION
        if case.incumbent is not None and case.incumbent.active and case.incumbent_id not in excluded:
            return case.incumbent_id, RoutingOffer.Source.INCUMBENT
        partner_id = self.fair_choice(case.order.customer.country, excluded)
        if partner_id is None:
            return None
        return partner_id, RoutingOffer.Source.FAIR_SHARE

    def first_target(self, decision: "_Decision") -> tuple[int, str] | None:
        """``next_target`` of a new case, from its decision: nobody asked yet."""
        if decision.registration_id is not None and decision.holder_active:
            return decision.holder_id, RoutingOffer.Source.REGISTRATION
        if decision.incumbent_id is not None and decision.incumbent_active:
            return decision.incumbent_id, RoutingOffer.Source.INCUMBENT
        partner_id = self.fair_choice(decision.country)
        if partner_id is None:
            return None
        return partner_id, RoutingOffer.Source.FAIR_SHARE

    def record_offer(self, partner_id: int) -> None:
        self.offer_counts[partner_id] += 1
        country = self.countries.get(partner_id)
        if country is not None and country in self.heaps:
            count = self.offer_counts[partner_id]
            heapq.heappush(self.heaps[country], (count * self.steps[partner_id], partner_id, count))

    def checkpoint(self):
        """Remember the offer counts; return the function that puts them back (a rolled-back batch)."""
        saved = dict(self.offer_counts)

        def restore():
            self.offer_counts = defaultdict(int, saved)
            self.heaps = {}  # rebuilt from the restored counts when next needed

        return restore


class _Decision(NamedTuple):
    """What one direct order's case records, decided on its booked date: plain values, the same from the one
    query (PostgreSQL) and from the Python reference."""

    order_id: int
    number: str
    customer_id: int
    country: str
    booked_on: date
    total: Decimal
    ceiling: Decimal | None  # None: no zone for the country and no default zone
    reason: str
    credit: bool  # a credit (or an order without lines): not routed, whatever else holds
    incumbent_id: int | None
    incumbent_active: bool
    registration_id: int | None
    holder_id: int | None  # the registration's partner
    holder_active: bool


def _route_new_orders(allocator: _Allocator, pending: set[str], *, reference: bool = False) -> dict:
    """Decide the direct orders without a case, oldest first, in batches, each batch in a savepoint.

    On PostgreSQL the orders are selected, locked and decided by one query (``_DECIDE_SQL``); elsewhere (and with
    ``reference``) they are selected and locked once and decided a batch at a time in Python (``_decide``). Only
    the fair-share choice, sequential by nature, is made in Python in both, over plain values. A batch that fails
    is run again order by order, and an order that fails alone is recorded for staff (``JobItemFailure``) and
    left without a case for the next run.
    """
    counts = {reason: 0 for reason in RoutingCase.Reason.values} | {"offers": 0, "unassigned": 0}
    if connection.vendor == "postgresql" and not reference:
        decisions = _decide_sql(allocator)
        # Large batches (each costs a few statements); an order that cannot be written goes alone, so that it is
        # recorded without running its batch again order by order.
        good = [decision for decision in decisions if _writable(decision)]
        batch_size = SQL_BATCH_SIZE
        items = good + [decision for decision in decisions if not _writable(decision)]
        batches = [good[start : start + batch_size] for start in range(0, len(good), batch_size)]
        batches += [[decision] for decision in items[len(good) :]]

        def process(batch):
            return _route_batch(batch, allocator)
    else:
        items = list(
            Order.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                channel=Order.Channel.DIRECT,
                partner__isnull=True,
                booked_on__gte=allocator.program.start_date,
                booked_on__lte=allocator.day,
                routing_case__isnull=True,
            )
            .select_related("customer")
            .order_by("booked_on", "id")
        )

        def process(batch):
            return _route_batch(_decide(batch, allocator), allocator)

        batches = [items[start : start + BATCH_SIZE] for start in range(0, len(items), BATCH_SIZE)]

    outcome = run_isolated(
        job=JOB_NAME,
        period=allocator.day.isoformat(),
        batches=batches,
        process=process,
        key=lambda item: f"order {item.number}",
        checkpoint=allocator.checkpoint,
        pending=pending,
    )
    for result in outcome.results:
        for name, value in result.items():
            counts[name] += value
    if outcome.failed:
        counts["failed_items"] = len(outcome.failed)  # listed in the admin (``JobItemFailure``), retried next run
    return counts


class OrderTotalOverflow(Exception):
    """An order whose total cannot be stored in ``RoutingCase.order_total`` (corrupt or absurd amounts)."""


_TOTAL_FIELD = RoutingCase._meta.get_field("order_total")
_TOTAL_LIMIT = Decimal(10) ** (_TOTAL_FIELD.max_digits - _TOTAL_FIELD.decimal_places)
_CREDIT_OUTCOME = "Not routed: a credit (or an order without lines) follows the order it corrects."
_CASE_FIELDS = [
    "order_id", "reason", "status", "order_total", "ceiling", "incumbent_id", "registration_id", "outcome",
    "decided_on", "closed_on", "created_at", "updated_at",
]  # fmt: skip
_OFFER_FIELDS = [
    "case_id", "partner_id", "source", "offered_on", "respond_by", "status", "decline_reason", "note", "created_at",
]  # fmt: skip


def _writable(decision: _Decision) -> bool:
    """Whether ``decision`` can be written: its total fits the case and its country has a ceiling."""
    return abs(decision.total) < _TOTAL_LIMIT and decision.ceiling is not None


def _route_batch(decisions: list[_Decision], allocator: _Allocator) -> dict:
    """Write the cases of ``decisions`` and offer each routed one to its first candidate, in order (each offer
    changes the next fair-share choice): one insert of the cases, one of the offers, one notification pass."""
    counts = defaultdict(int)
    day, respond_by, now = allocator.day, allocator.respond_by, timezone.now()
    cases, targets = [], []
    for decision in decisions:
        total, ceiling = decision.total, decision.ceiling
        if abs(total) >= _TOTAL_LIMIT:
            # PostgreSQL would refuse the row (numeric overflow); SQLite would store it: refuse it the same way.
            raise OrderTotalOverflow(f"Order {decision.number}: total {total} does not fit the routing case.")
        if ceiling is None:
            raise Zone.DoesNotExist("No default zone")
        counts[decision.reason] += 1
        status, closed_on, outcome = RoutingCase.Status.OFFERED, None, ""
        if decision.reason == RoutingCase.Reason.NOT_ROUTED:
            status, closed_on = RoutingCase.Status.DIRECT, day
            outcome = (
                _CREDIT_OUTCOME
                if decision.credit
                else f"Not routed: customer not channel-locked, no protected registration, "
                f"total {total} at or over the ceiling {ceiling}."
            )
        else:
            target = allocator.first_target(decision)
            if target is None:
                status, closed_on = RoutingCase.Status.DIRECT, day
                outcome = f"Stays direct: no active partner in {decision.country} to offer it to."
                counts["unassigned"] += 1
            else:
                allocator.record_offer(target[0])
                targets.append((len(cases), decision, *target))
        cases.append((
            decision.order_id, decision.reason, status, total, ceiling, decision.incumbent_id,
            decision.registration_id, outcome, day, closed_on, now, now,
        ))  # fmt: skip
    # The unique order key makes a concurrent second case fail the whole run: nothing is ever half-done.
    case_ids = copy_rows(RoutingCase, _CASE_FIELDS, cases)
    offer_ids = copy_rows(
        RoutingOffer,
        _OFFER_FIELDS,
        [
            (case_ids[index], partner_id, source, day, respond_by, RoutingOffer.Status.OFFERED, "", "", now)
            for index, _decision, partner_id, source in targets
        ],
    )
    counts["offers"] += len(offer_ids)
    query = connection.vendor == "postgresql" and not allocator.reference
    _notify_offers([
        _OfferNotice(offer_id, partner_id, decision.order_id, decision.number, decision.customer_id, respond_by,
                     decision.total)
        for offer_id, (_index, decision, partner_id, _source) in zip(offer_ids, targets, strict=True)
    ], query=query)  # fmt: skip
    return counts


def _decide(orders: list[Order], allocator: _Allocator) -> list[_Decision]:
    """The Python reference of ``_DECIDE_SQL`` (SQLite, and the equivalence test): each order decided on its
    booked date, reading the batch's lines, locks and registrations in a few queries."""
    lines_by_order: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
    for order_id, product_line, amount in OrderLine.objects.filter(order_id__in=[o.pk for o in orders]).values_list(
        "order_id", "product_line", "net_amount"
    ):
        lines_by_order[order_id].append((product_line, amount))

    locks = channel_locks_on_dates(
        {(order.customer_id, order.booked_on) for order in orders}, months=allocator.program.channel_lock_months
    )
    registrations = _protecting_registrations(orders)
    active = set(
        Partner.objects.filter(pk__in={lock.partner_id for lock in locks.values()}, active=True).values_list(
            "pk", flat=True
        )
    )

    decisions = []
    for order in orders:
        lines = lines_by_order[order.pk]
        total = sum((amount for _line, amount in lines), start=Decimal("0.00"))
        if abs(total) >= _TOTAL_LIMIT:
            raise OrderTotalOverflow(f"Order {order.number}: total {total} does not fit the routing case.")
        product_lines = {line for line, amount in lines if amount > 0}
        ceiling = allocator.ceiling(order.customer.country)
        lock = locks.get((order.customer_id, order.booked_on))
        registration = next(
            (
                registration
                for registration in registrations.get(order.customer_id, [])
                if _registration_protects(registration, order.booked_on, product_lines)
            ),
            None,
        )
        credit = not lines or any(amount < 0 for _line, amount in lines)
        if credit:
            reason = RoutingCase.Reason.NOT_ROUTED
        elif lock is not None:
            reason = RoutingCase.Reason.LOCKED
        elif registration is not None:
            reason = RoutingCase.Reason.REGISTRATION
        elif total < ceiling:
            reason = RoutingCase.Reason.UNDER_CEILING
        else:
            reason = RoutingCase.Reason.NOT_ROUTED
        decisions.append(
            _Decision(
                order_id=order.pk,
                number=order.number,
                customer_id=order.customer_id,
                country=order.customer.country,
                booked_on=order.booked_on,
                total=total,
                ceiling=ceiling,
                reason=reason,
                credit=credit,
                incumbent_id=lock.partner_id if lock else None,
                incumbent_active=lock is not None and lock.partner_id in active,
                registration_id=registration.pk if registration else None,
                holder_id=registration.partner_id if registration else None,
                holder_active=registration is not None and registration.partner.active,
            )
        )
    return decisions


# The decisions of ``_decide`` as one query over every direct order without a case (PostgreSQL), as the bench's
# baseline: ``picked`` selects and locks the orders (``SKIP LOCKED``, as the ORM's selection), ``direct`` sums
# their lines (the product lines of the positive ones, whether any is a credit), then for each order on its booked
# date: the ceiling of its country's zone (else the default zone's), its customer's latest qualifying order
# (``LATERAL``, on the lines' (customer, booked on) index) and latest staff override — the lock as
# ``channel_locks_on_dates`` makes it, ``date + interval`` clamping month ends like ``add_months`` — and the first
# registration protecting one of its positive product lines (as ``_registration_protects``).
_DECIDE_SQL = """
WITH picked AS (
    SELECT o.id, o.number, o.customer_id, o.booked_on
    FROM deals_order AS o
    WHERE o.channel = 'direct' AND o.partner_id IS NULL AND o.booked_on >= %(start)s AND o.booked_on <= %(as_of)s
      AND NOT EXISTS (SELECT 1 FROM deals_routingcase AS rc WHERE rc.order_id = o.id)
    FOR UPDATE OF o SKIP LOCKED
),
direct AS (
    SELECT p.id, p.number, p.customer_id, p.booked_on, c.country,
           COALESCE(SUM(l.net_amount), 0.00) AS total,
           COUNT(l.id) = 0 OR bool_or(l.net_amount < 0) AS credit,
           COALESCE(array_agg(DISTINCT l.product_line) FILTER (WHERE l.net_amount > 0), '{}') AS product_lines
    FROM picked AS p
    JOIN deals_customer AS c ON c.id = p.customer_id
    LEFT JOIN deals_orderline AS l ON l.order_id = p.id
    GROUP BY p.id, p.number, p.customer_id, p.booked_on, c.country
),
decided AS (
    SELECT d.*,
           COALESCE(
               (SELECT z.hard_deck_ceiling FROM partners_zonecountry AS zc JOIN partners_zone AS z ON z.id = zc.zone_id
                WHERE zc.country = d.country),
               (SELECT z.hard_deck_ceiling FROM partners_zone AS z WHERE z.is_default ORDER BY z.code LIMIT 1)
           ) AS ceiling,
           CASE WHEN lo.order_id IS NOT NULL AND ov.kind IS DISTINCT FROM 'released'
                THEN COALESCE(ov.to_partner_id, lo.partner_id) END AS incumbent_id,
           reg.id AS registration_id, reg.partner_id AS holder_id
    FROM direct AS d
    LEFT JOIN LATERAL (
        SELECT l.partner_id, l.order_id, l.booked_on
        FROM deals_orderline AS l
        WHERE l.customer_id = d.customer_id AND l.partner_id IS NOT NULL AND l.net_amount > 0
          AND l.booked_on <= d.booked_on
          AND l.booked_on > (d.booked_on - make_interval(months => %(months)s))::date - 4
        ORDER BY l.booked_on DESC, l.order_id DESC, l.partner_id DESC
        LIMIT 1
    ) AS latest ON true
    LEFT JOIN LATERAL (  -- the lock holds until its expiry (exclusive)
        SELECT latest.partner_id, latest.order_id, latest.booked_on
        WHERE (latest.booked_on + make_interval(months => %(months)s))::date > d.booked_on
    ) AS lo ON true
    LEFT JOIN LATERAL (
        SELECT v.kind, v.to_partner_id, v.effective_on
        FROM deals_channellockoverride AS v
        WHERE v.customer_id = d.customer_id AND v.effective_on <= d.booked_on
        ORDER BY v.effective_on DESC, v.id DESC
        LIMIT 1
    ) AS last_override ON true
    LEFT JOIN LATERAL (  -- the override decides when it is effective on or after the lock's order
        SELECT last_override.kind, last_override.to_partner_id WHERE last_override.effective_on >= lo.booked_on
    ) AS ov ON true
    LEFT JOIN LATERAL (
        SELECT r.id, r.partner_id
        FROM deals_registration AS r
        WHERE r.customer_id = d.customer_id AND r.status IN ('approved', 'expired', 'won')
          AND r.approved_on <= d.booked_on AND r.protection_ends_on >= d.booked_on
          AND (r.status <> 'won' OR r.won_on >= d.booked_on)
          AND EXISTS (SELECT 1 FROM deals_registrationline AS rl
                      WHERE rl.registration_id = r.id AND rl.product_line = ANY (d.product_lines))
        ORDER BY r.approved_on, r.id
        LIMIT 1
    ) AS reg ON true
)
SELECT d.id, d.number, d.customer_id, d.country, d.booked_on, d.total, d.ceiling,
       CASE WHEN d.credit THEN 'not_routed' WHEN d.incumbent_id IS NOT NULL THEN 'locked'
            WHEN d.registration_id IS NOT NULL THEN 'registration'
            WHEN d.total < d.ceiling THEN 'under_ceiling' ELSE 'not_routed' END,
       d.credit, d.incumbent_id, COALESCE(i.active, false), d.registration_id, d.holder_id, COALESCE(h.active, false)
FROM decided AS d
LEFT JOIN partners_partner AS i ON i.id = d.incumbent_id
LEFT JOIN partners_partner AS h ON h.id = d.holder_id
ORDER BY d.booked_on, d.id
"""


def _decide_sql(allocator: _Allocator) -> list[_Decision]:
    """Select, lock and decide every direct order without a case in one query (``_DECIDE_SQL``)."""
    params = {
        "start": allocator.program.start_date,
        "as_of": allocator.day,
        "months": allocator.program.channel_lock_months,
    }
    with connection.cursor() as cursor:
        cursor.execute(_DECIDE_SQL, params)
        return [_Decision(*row) for row in cursor.fetchall()]


def _registration_protects(registration: Registration, day: date, product_lines: set[str]) -> bool:
    """Whether ``registration`` protected ``day`` for one of ``product_lines``: approved (still, since expired, or
    won on or after ``day``) with ``approved_on <= day <= protection_ends_on``. Past days are answered exactly,
    whatever happened to the registration since."""
    if not (registration.approved_on <= day <= registration.protection_ends_on):
        return False
    if registration.status == Registration.Status.WON and registration.won_on < day:
        return False
    return bool(registration.registered_lines & product_lines)


def _protecting_registrations(orders: list[Order]) -> dict[int, list[Registration]]:
    """The registrations of the batch's customers protected at some point of the batch's dates, per customer,
    first approved first (first in time wins), each with its ``registered_lines``."""
    if not orders:
        return {}
    rows = (
        Registration.objects.filter(
            customer_id__in={order.customer_id for order in orders},
            status__in=[Registration.Status.APPROVED, Registration.Status.EXPIRED, Registration.Status.WON],
            approved_on__lte=max(order.booked_on for order in orders),
            protection_ends_on__gte=min(order.booked_on for order in orders),
        )
        .select_related("partner")
        .prefetch_related("lines")
        .order_by("approved_on", "id")
    )
    found: dict[int, list[Registration]] = defaultdict(list)
    for registration in rows:
        registration.registered_lines = {line.product_line for line in registration.lines.all()}
        found[registration.customer_id].append(registration)
    return found


def _new_offer(case: RoutingCase, partner_id: int, source: str, allocator: _Allocator, note: str = ""):
    allocator.record_offer(partner_id)
    return RoutingOffer(
        case=case,
        partner_id=partner_id,
        source=source,
        offered_on=allocator.day,
        respond_by=allocator.respond_by,
        note=note,
    )


def _close_unassigned(case: RoutingCase, day: date, *, save: bool = True, offered: bool = True) -> None:
    case.status = RoutingCase.Status.DIRECT
    case.closed_on = day
    if offered:
        case.outcome = "Stays direct: no partner left to offer it to (every candidate declined or did not answer)."
    else:
        case.outcome = f"Stays direct: no active partner in {case.order.customer.country} to offer it to."
    if save:
        case.save(update_fields=["status", "closed_on", "outcome", "updated_at"])


def _offer_next(case: RoutingCase, allocator: _Allocator) -> RoutingOffer | None:
    """Offer ``case`` (locked, without an open offer) to its next candidate, or close it; return the offer."""
    excluded = set(case.offers.values_list("partner_id", flat=True))
    target = allocator.next_target(case, excluded)
    if target is None:
        _close_unassigned(case, allocator.day, offered=bool(excluded))
        return None
    offer = _new_offer(case, *target, allocator)
    offer.save()
    if case.status != RoutingCase.Status.OFFERED:
        case.status = RoutingCase.Status.OFFERED
        case.closed_on = None
        case.save(update_fields=["status", "closed_on", "updated_at"])
    _notify([offer])
    return offer


def _expire_offers(allocator: _Allocator, pending: set[str] | None = None) -> tuple[int, int]:
    """Time out the open offers whose deadline passed before the run's day, and offer to the next candidate.

    In batches, each in a savepoint; a case that fails alone is recorded for staff and its offer stays open, so
    the next run times it out again. Return (offers expired, cases that failed).
    """
    cases = list(
        RoutingCase.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            status=RoutingCase.Status.OFFERED,
            offers__status=RoutingOffer.Status.OFFERED,
            offers__respond_by__lt=allocator.day,
        )
        .select_related("order__customer", "incumbent", "registration__partner")
        .order_by("order__booked_on", "order_id")
    )
    outcome = run_isolated(
        job=JOB_NAME,
        period=allocator.day.isoformat(),
        batches=[cases[start : start + BATCH_SIZE] for start in range(0, len(cases), BATCH_SIZE)],
        process=lambda batch: _expire_batch(batch, allocator),
        key=lambda case: f"offer of order {case.order.number}",
        checkpoint=allocator.checkpoint,
        pending=pending,
    )
    return sum(outcome.results), len(outcome.failed)


def _expire_batch(cases: list[RoutingCase], allocator: _Allocator) -> int:
    expired = RoutingOffer.objects.filter(
        case__in=cases, status=RoutingOffer.Status.OFFERED, respond_by__lt=allocator.day
    ).update(status=RoutingOffer.Status.EXPIRED, decided_at=timezone.now())
    # Next candidates for the whole batch: one query for who was already asked, bulk writes, one notification pass.
    asked = defaultdict(set)
    for case_id, partner_id in RoutingOffer.objects.filter(case__in=cases).values_list("case_id", "partner_id"):
        asked[case_id].add(partner_id)
    offers, closed = [], []
    for case in cases:
        target = allocator.next_target(case, asked[case.pk])
        if target is None:
            _close_unassigned(case, allocator.day, save=False, offered=bool(asked[case.pk]))
            case.updated_at = timezone.now()
            closed.append(case)
        else:
            offers.append(_new_offer(case, *target, allocator))
    RoutingOffer.objects.bulk_create(offers)
    RoutingCase.objects.bulk_update(closed, ["status", "closed_on", "outcome", "updated_at"])
    _notify(offers)
    return expired


# Emails -----------------------------------------------------------------------------------------------------------


class _OfferNotice(NamedTuple):
    """What an offer's email and event say, as plain values."""

    offer_id: int
    partner_id: int
    order_id: int
    order_number: str
    customer_id: int
    respond_by: date
    total: Decimal


def _notify(offers: list[RoutingOffer]) -> None:
    """``_notify_offers`` of saved offers (their case and order loaded)."""
    _notify_offers([
        _OfferNotice(offer.pk, offer.partner_id, offer.case.order_id, offer.case.order.number,
                     offer.case.order.customer_id, offer.respond_by, offer.case.order_total)
        for offer in offers
    ])  # fmt: skip


# What the offer email's template reads with the offer (``portal.emailcontext``: the instances are read when the
# email is rendered by its send task, not by the job).
_OFFER_RELATIONS = ("case", "case__order", "case__order__customer", "partner")


def _notify_offers(notices: list[_OfferNotice], *, query: bool = False) -> None:
    """Email each offer to the partner's admin and sales users (once per offer and user, after commit), and
    publish its event: from ids, no instance read or built per offer. With ``query`` (PostgreSQL) the emails are
    written by one query joining the offers to their partners' users (``_offer_emails_queue``)."""
    if not notices:
        return
    events_publish([
        PartnerEvent(ROUTED_OFFER_RECEIVED, notice.partner_id, f"routing-offer:{notice.offer_id}", {
            "id": notice.offer_id, "order_number": notice.order_number, "respond_by": notice.respond_by.isoformat()})
        for notice in notices
    ])  # fmt: skip
    if query:
        _offer_emails_queue(notices)
        return
    users_by_partner = partner_recipients(
        {notice.partner_id for notice in notices}, [Membership.Role.ADMIN, Membership.Role.SALES]
    )
    emails_queue(
        UsersEmail(
            key=f"routing-offer:{notice.offer_id}",
            users=users_by_partner[notice.partner_id],
            template=OFFER_EMAIL_TEMPLATE,
            context=_offer_context(
                notice.offer_id, notice.order_id, notice.customer_id, notice.partner_id, notice.total
            ),
        )
        for notice in notices
        if users_by_partner.get(notice.partner_id)
    )


def _offer_context(offer_id, order_id, customer_id, partner_id, total) -> dict:
    """An offer email's context: its values, or the ``Column`` of each in ``_OFFER_RECIPIENTS_SQL``."""
    return {
        "offer": ModelRef("deals.routingoffer", offer_id, _OFFER_RELATIONS),
        "order": ModelRef("deals.order", order_id, ("customer",)),
        "customer": ModelRef("deals.customer", customer_id),
        "partner": ModelRef("partners.partner", partner_id),
        "total": total,
        "path": PortalLink("deals:routed_list"),
    }


# The recipients of the offers' emails, as ``partner_recipients`` reads them (the active admin and sales users of
# the offer's partner), each with its offer's values (arrays, in the order of the notices).
_OFFER_RECIPIENTS_SQL = """
SELECT 'routing-offer:' || n.offer_id AS message_key, u.id AS user_id, u.email, u.language,
       n.offer_id, n.order_id, n.customer_id, n.partner_id, n.total
FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::numeric[])
     AS n (offer_id, order_id, customer_id, partner_id, total)
JOIN partners_membership AS m ON m.partner_id = n.partner_id AND m.role IN (%s, %s)
JOIN portal_user AS u ON u.id = m.user_id AND u.is_active
"""


def _offer_emails_queue(notices: list[_OfferNotice]) -> int:
    """The emails of ``_notify_offers`` for ``notices``, written by one query (PostgreSQL)."""
    names = ("offer_id", "order_id", "customer_id", "partner_id", "total")
    values = [[getattr(notice, name) for notice in notices] for name in names]
    return emails_queue_query(
        query=_OFFER_RECIPIENTS_SQL,
        params=[*values, Membership.Role.ADMIN.value, Membership.Role.SALES.value],
        template=OFFER_EMAIL_TEMPLATE,
        context=_offer_context(
            Column("offer_id"), Column("order_id"), Column("customer_id"), Column("partner_id"),
            Column("total", "decimal"),
        ),
    )  # fmt: skip


# Answers ----------------------------------------------------------------------------------------------------------


def _locked_offer(offer: RoutingOffer) -> tuple[RoutingCase, RoutingOffer]:
    case = (
        RoutingCase.objects.select_for_update(of=("self",))
        .select_related("order__customer", "incumbent", "registration__partner")
        .get(pk=offer.case_id)
    )
    return case, RoutingOffer.objects.select_related("partner").get(pk=offer.pk)


def routed_offer_accept(*, offer: RoutingOffer, user, today: date | None = None) -> RoutingOffer:
    """Accept a routed order for the offer's partner: from its booked date the order counts as that partner's
    (``Order.partner`` and its lines' ``partner``: tiers, rebates and the channel lock read them).

    Idempotent: accepting an offer already accepted returns it unchanged (a double click).
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        case, offer = _locked_offer(offer)
        if offer.status == RoutingOffer.Status.ACCEPTED:
            return offer
        if offer.status != RoutingOffer.Status.OFFERED:
            raise RoutingError(_("This offer is no longer open."))
        if offer.respond_by < today:
            raise RoutingError(_("The deadline to answer this offer has passed."))
        offer.status = RoutingOffer.Status.ACCEPTED
        offer.decided_by = user
        offer.decided_at = timezone.now()
        offer.save(update_fields=["status", "decided_by", "decided_at"])
        case.status = RoutingCase.Status.ACCEPTED
        case.accepted_partner = offer.partner
        case.closed_on = today
        case.outcome = f"Accepted by {offer.partner.code} on {today.isoformat()}."
        case.save(update_fields=["status", "accepted_partner", "closed_on", "outcome", "updated_at"])
        # The credits booked against the order (direct credit orders) follow it: they reduce what it earns.
        credit_order_ids = list(
            OrderLine.objects.filter(credited_order_id=case.order_id, partner__isnull=True).values_list(
                "order_id", flat=True
            )
        )
        order_ids = [case.order_id, *credit_order_ids]
        Order.objects.filter(pk__in=order_ids, partner__isnull=True).update(partner=offer.partner)
        OrderLine.objects.filter(order_id__in=order_ids, partner__isnull=True).update(partner=offer.partner)
        # The order now counts for the partner's lock from its booked date: bring the customer's lock up to date
        # now rather than at night, so pages and the next routing decision see it.
        channel_locks_refresh(as_of=max(today, case.order.booked_on), customer_ids=[case.order.customer_id])
    return offer


def routed_offer_decline(*, offer: RoutingOffer, user, reason: str, today: date | None = None) -> RoutingOffer:
    """Decline a routed order with a reason; it is offered at once to the next candidate (or stays direct).

    Idempotent: declining an offer already declined returns it unchanged.
    """
    reason = (reason or "").strip()
    if not reason:
        raise RoutingError(_("Please give a reason for declining."))
    today = today or timezone.localdate()
    with transaction.atomic():
        allocator = _Allocator.start(day=today)
        case, offer = _locked_offer(offer)
        if offer.status == RoutingOffer.Status.DECLINED:
            return offer
        if offer.status != RoutingOffer.Status.OFFERED:
            raise RoutingError(_("This offer is no longer open."))
        offer.status = RoutingOffer.Status.DECLINED
        offer.decline_reason = reason
        offer.decided_by = user
        offer.decided_at = timezone.now()
        offer.save(update_fields=["status", "decline_reason", "decided_by", "decided_at"])
        _offer_next(case, allocator)
    return offer


def routing_reassign(
    *, case: RoutingCase, partner: Partner, reason: str, staff_user, today: date | None = None
) -> RoutingOffer:
    """Staff: withdraw the case's open offer (if any) and offer the order to ``partner``, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise RoutingError(_("A reason is required."))
    if not partner.active:
        raise RoutingError(_("This partner is not active."))
    today = today or timezone.localdate()
    with transaction.atomic():
        allocator = _Allocator.start(day=today)
        case = RoutingCase.objects.select_for_update(of=("self",)).select_related("order").get(pk=case.pk)
        if case.status == RoutingCase.Status.ACCEPTED:
            raise RoutingError(_("This order was already accepted by a partner."))
        RoutingOffer.objects.filter(case=case, status=RoutingOffer.Status.OFFERED).update(
            status=RoutingOffer.Status.WITHDRAWN, note=reason, decided_by=staff_user, decided_at=timezone.now()
        )
        offer = _new_offer(case, partner.pk, RoutingOffer.Source.STAFF, allocator, note=reason)
        offer.save()
        case.status = RoutingCase.Status.OFFERED
        case.closed_on = None
        case.outcome = f"Reassigned by staff to {partner.code} on {today.isoformat()}: {reason}"
        case.save(update_fields=["status", "closed_on", "outcome", "updated_at"])
        _notify([offer])
    return offer


# Staff overrides of channel locks ---------------------------------------------------------------------------------


class ChannelLockError(Exception):
    """A staff release or transfer that cannot be applied (no lock, a bad date or partner, no reason)."""


def lock_transfer_candidates(customer: Customer):
    """The partners a lock of ``customer`` can be transferred to: active, in the customer's zone."""
    zone = Zone.objects.for_country(customer.country)
    same_zone = Q(country__in=ZoneCountry.objects.filter(zone=zone).values("country"))
    if zone.is_default:  # the default zone holds the countries listed nowhere
        same_zone |= ~Q(country__in=ZoneCountry.objects.values("country"))
    return Partner.objects.filter(same_zone, active=True).order_by("code")


def channel_lock_current(customer: Customer, *, today: date) -> LockState | None:
    """The customer's lock on ``today`` from its orders and overrides, or ``None`` when it is not locked."""
    state = lock_states(as_of=today, customer_ids=[customer.pk], months=Program.current().channel_lock_months).get(
        customer.pk
    )
    return state if state is not None and state.is_active_on(today) else None


def channel_lock_release(
    *, customer: Customer, reason: str, staff_user, effective_on: date | None = None, today: date | None = None
) -> ChannelLockOverride:
    """Staff: release the customer's lock from ``effective_on`` (default today), with a reason; the next qualifying
    order booked after that day locks it again under the normal rules."""
    return _channel_lock_override(
        customer=customer,
        kind=ChannelLockOverride.Kind.RELEASED,
        to_partner=None,
        reason=reason,
        staff_user=staff_user,
        effective_on=effective_on,
        today=today,
    )


def channel_lock_transfer(
    *,
    customer: Customer,
    to_partner: Partner,
    reason: str,
    staff_user,
    effective_on: date | None = None,
    today: date | None = None,
) -> ChannelLockOverride:
    """Staff: make ``to_partner`` the incumbent from ``effective_on`` (default today), with a reason, keeping the
    lock's running expiry; the next qualifying order booked after that day decides again by the normal rules."""
    return _channel_lock_override(
        customer=customer,
        kind=ChannelLockOverride.Kind.TRANSFERRED,
        to_partner=to_partner,
        reason=reason,
        staff_user=staff_user,
        effective_on=effective_on,
        today=today,
    )


def _channel_lock_override(*, customer, kind, to_partner, reason, staff_user, effective_on, today):
    """Record the override and bring the stored lock and its history up to date at once (the nightly job would
    write the same row and event: the event's unique override key makes a re-run write nothing twice)."""
    reason = (reason or "").strip()
    if not reason:
        raise ChannelLockError(_("A reason is required."))
    today = today or timezone.localdate()
    effective_on = effective_on or today
    if effective_on > today:
        raise ChannelLockError(_("The effective date cannot be in the future."))
    with transaction.atomic():
        # Serialise with the nightly job and with another override of the same customer.
        list(ChannelLock.objects.select_for_update().filter(customer=customer))
        state = channel_lock_current(customer, today=today)
        if state is None:
            raise ChannelLockError(_("This customer is not channel-locked."))
        if effective_on < state.booked_on or (state.override_on is not None and effective_on < state.override_on):
            raise ChannelLockError(
                _("The effective date must be on or after %(day)s (the lock's latest order or override).")
                % {"day": max(state.booked_on, state.override_on or state.booked_on).isoformat()}
            )
        if kind == ChannelLockOverride.Kind.TRANSFERRED:
            if to_partner.pk == state.partner_id:
                raise ChannelLockError(_("This partner is already the incumbent."))
            if not lock_transfer_candidates(customer).filter(pk=to_partner.pk).exists():
                raise ChannelLockError(_("Choose an active partner of the customer's zone."))
        override = ChannelLockOverride.objects.create(
            customer=customer,
            kind=kind,
            from_partner_id=state.partner_id,
            to_partner=to_partner,
            effective_on=effective_on,
            reason=reason,
            created_by=staff_user,
        )
        channel_locks_refresh(as_of=today, customer_ids=[customer.pk])
    return override
