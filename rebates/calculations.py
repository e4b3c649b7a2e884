"""The rebate rules of DESIGN §6 as pure functions on ``Decimal`` and dates: no ORM, easy to test — the reference.

A line's *facts* (its tier's base rate, which bonus rules it meets, whether the partner was attested) are
gathered elsewhere, in bulk; here they become rounded components. Rounding goes through ``portal.money`` only.
``reference_rows`` applies the rules, naively and line by line, to a snapshot of the program's data: the fast
paths of ``generator.py`` (the set-based SQL of PostgreSQL, the bulk Python path elsewhere) must equal it, and a
property-based test proves they do.
"""

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from deals.compliance import earns_services_bonus
from partners.calculations import tier_on
from portal.catalog import ProductLine
from portal.fiscal import Quarter, add_months
from portal.money import ZERO, percent_of

from .models import COMPONENT_ORDER, Component

BASE = Component.BASE.value
NEW_BUSINESS = Component.NEW_BUSINESS.value
DEAL_REGISTRATION = Component.DEAL_REGISTRATION.value
BLENDED = Component.BLENDED.value
SERVICES = Component.SERVICES.value
EXCLUSIVITY_UPLIFT = Component.EXCLUSIVITY_UPLIFT.value
# The bonus components decided by a line's facts, in statement order (the uplift comes on top of them).
FACT_BONUSES = (NEW_BUSINESS, DEAL_REGISTRATION, BLENDED, SERVICES)

HARDWARE_LINES = (ProductLine.SERVER.value, ProductLine.STORAGE.value)  # new business and blended: these only


@dataclass(frozen=True)
class Earned:
    """One component a line earns, with its rate in percentage points and its rounded amount."""

    component: str
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True)
class LineFacts:
    """What decides a line's components on its booked date."""

    net_amount: Decimal
    base_rate: Decimal | None  # the tier × product line rate valid on the booked date; None: no base rate
    new_business: bool = False
    deal_registration: bool = False
    blended: bool = False
    services: bool = False
    attested: bool = False


@dataclass(frozen=True, order=True)
class RebateRow:
    """One component of one order line as a quarter close writes it (a ``RebateLine`` without its statement)."""

    order_line_id: int
    component: str
    partner_id: int
    tier_id: int
    net_amount: Decimal
    rate: Decimal
    amount: Decimal
    is_adjustment: bool


def normal_rate(rate: Decimal) -> Decimal:
    """2 and 2.000 are the same rate: compare and store them the same way on every path (3 places, exact)."""
    return rate.quantize(Decimal("0.001"))


# --- rules ----------------------------------------------------------------------------------------------------


def is_new_business(
    *, product_line: str, booked_on: date, earlier_positive_dates: Sequence[date], lookback_months: int
) -> bool:
    """A server / storage line whose customer had no positive line of that product line, any channel, booked
    in ``[booked_on - lookback, booked_on)``. ``earlier_positive_dates`` must be sorted."""
    if product_line not in HARDWARE_LINES:
        return False
    window_start = add_months(booked_on, -lookback_months)
    index = bisect_left(earlier_positive_dates, window_start)
    return not (index < len(earlier_positive_dates) and earlier_positive_dates[index] < booked_on)


def is_blended(*, product_line: str, partner_lines_in_quarter: Iterable[str]) -> bool:
    """A server / storage line of a customer for whom the partner booked at least one positive server line and
    one positive storage line in the line's quarter (``partner_lines_in_quarter``: those product lines)."""
    lines = set(partner_lines_in_quarter)
    return product_line in HARDWARE_LINES and all(line in lines for line in HARDWARE_LINES)


def active_on(day: date, starts_on: date, ends_on: date | None) -> bool:
    """``starts_on <= day < ends_on`` (``ends_on`` blank: open-ended)."""
    return starts_on <= day and (ends_on is None or ends_on > day)


def quarter_bounds(day: date) -> tuple[date, date]:
    """The first and last day of the fiscal quarter containing ``day``."""
    quarter = Quarter.containing(day)
    return quarter.start, quarter.next().start - timedelta(days=1)


# --- amounts --------------------------------------------------------------------------------------------------


def with_uplift(components: list[Earned], uplift_rate: Decimal | None) -> list[Earned]:
    """Append the 1.25X uplift: ``uplift_rate`` % of the sum of the line's rounded components, rounded."""
    if uplift_rate is None:
        return components
    subtotal = sum((earned.amount for earned in components), start=ZERO)
    return [*components, Earned(EXCLUSIVITY_UPLIFT, uplift_rate, percent_of(subtotal, uplift_rate))]


def line_components(facts: LineFacts, rates: dict[str, Decimal]) -> list[Earned]:
    """The components of one (positive) line, in statement order; ``rates`` maps each bonus component to its
    rate valid on the booked date (a missing one does not apply)."""
    earned: list[Earned] = []
    if facts.base_rate is not None:
        earned.append(Earned(BASE, facts.base_rate, percent_of(facts.net_amount, facts.base_rate)))
    applies_to_line = {
        NEW_BUSINESS: facts.new_business,
        DEAL_REGISTRATION: facts.deal_registration,
        BLENDED: facts.blended,
        SERVICES: facts.services,
    }
    for component in FACT_BONUSES:
        if applies_to_line[component] and rates.get(component) is not None:
            earned.append(Earned(component, rates[component], percent_of(facts.net_amount, rates[component])))
    return with_uplift(earned, rates.get(EXCLUSIVITY_UPLIFT) if facts.attested else None)


def credited_line(credit: "ReferenceLine", candidates: Iterable["ReferenceLine"]) -> "ReferenceLine | None":
    """The one line of the credited order a credit is judged against (DESIGN §6): of the same product line and
    the same service delivery, else of the same product line alone; the lowest line number when several qualify.
    ``candidates``: the credited order's lines that are not credits themselves."""
    same_line = [line for line in candidates if line.product_line == credit.product_line]
    if not same_line:
        return None
    return min(same_line, key=lambda line: (line.service_delivery != credit.service_delivery, line.line_number))


def credit_components(net_amount: Decimal, credited: dict[str, Decimal]) -> list[Earned]:
    """A credit earns the components its credited line earned (``credited``: component → rate), at the same
    rates, on its own (negative) amount; the uplift applies to the credit's rounded components."""
    earned = [
        Earned(component, credited[component], percent_of(net_amount, credited[component]))
        for component in COMPONENT_ORDER
        if component != EXCLUSIVITY_UPLIFT and component in credited
    ]
    return with_uplift(earned, credited.get(EXCLUSIVITY_UPLIFT))


def total(components: Iterable[Earned]) -> Decimal:
    return sum((earned.amount for earned in components), start=ZERO)


# --- the reference: a quarter close, line by line, on a snapshot of the program's data ------------------------


@dataclass(frozen=True)
class ReferenceLine:
    """An order line as the rules read it (``partner_id`` None: a direct line)."""

    id: int
    order_id: int
    line_number: int
    partner_id: int | None
    customer_id: int
    product_line: str
    net_amount: Decimal
    booked_on: date
    service_delivery: str = ""
    registration_won: bool = False  # linked to a registration whose status is won
    credited_order_id: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """Everything a close reads, as plain values (dates of spans are ``[start, end)``, ``end`` None: open)."""

    lines: Sequence[ReferenceLine]  # every order line, any channel
    ledger: Mapping[int, Sequence[tuple[str, Decimal, int]]]  # order line id → (component, rate, tier id) issued
    tier_changes: Mapping[int, Sequence[tuple[date, int]]]  # partner id → (effective_on, tier id), history order
    authorized_tier_id: int
    attestations: Mapping[int, Sequence[tuple[date, date | None]]]  # partner id → Dell-only attestation spans
    delivery_certifications: Mapping[
        int, Sequence[tuple[date, date]]
    ]  # partner id → verified services-delivery records
    base_rates: Sequence[tuple[int, str, date, date | None, Decimal]]  # (tier id, product line, from, until, rate)
    component_rates: Sequence[tuple[str, date, date | None, Decimal]]  # (component, from, until, rate)
    program_start: date
    lookback_months: int


def _rate_on(rates: Iterable[tuple], day: date) -> Decimal | None:
    for *_key, valid_from, valid_until, rate in rates:
        if active_on(day, valid_from, valid_until):
            return rate
    return None


def _line_earned(line: ReferenceLine, snapshot: Snapshot) -> tuple[int, dict[str, Decimal], list[Earned]] | None:
    """The tier, the component rates and the components of a positive partner line from the program start
    (from the ledger when it is on a statement already); None for any other line."""
    if (
        line.partner_id is None
        or line.credited_order_id is not None
        or line.net_amount <= 0
        or line.booked_on < snapshot.program_start
    ):
        return None
    if line.id in snapshot.ledger:
        issued = snapshot.ledger[line.id]
        return issued[0][2], {component: rate for component, rate, _tier in issued}, []
    day, partner_id = line.booked_on, line.partner_id
    tier_id = tier_on(snapshot.tier_changes.get(partner_id, ()), day, snapshot.authorized_tier_id)
    earlier = sorted(
        other.booked_on
        for other in snapshot.lines
        if other.customer_id == line.customer_id
        and other.product_line == line.product_line
        and other.net_amount > 0
        and other.booked_on < day
    )
    quarter_start, quarter_end = quarter_bounds(day)
    in_quarter = [
        other.product_line
        for other in snapshot.lines
        if other.partner_id == partner_id
        and other.customer_id == line.customer_id
        and other.net_amount > 0
        and quarter_start <= other.booked_on <= quarter_end
    ]
    certified = any(active_on(day, s, e) for s, e in snapshot.delivery_certifications.get(partner_id, ()))
    facts = LineFacts(
        net_amount=line.net_amount,
        base_rate=_rate_on((r for r in snapshot.base_rates if r[:2] == (tier_id, line.product_line)), day),
        new_business=is_new_business(
            product_line=line.product_line,
            booked_on=day,
            earlier_positive_dates=earlier,
            lookback_months=snapshot.lookback_months,
        ),
        deal_registration=line.registration_won,
        blended=is_blended(product_line=line.product_line, partner_lines_in_quarter=in_quarter),
        services=earns_services_bonus(
            product_line=line.product_line, service_delivery=line.service_delivery, delivery_certified=certified
        ),
        attested=any(active_on(day, s, e) for s, e in snapshot.attestations.get(partner_id, ())),
    )
    rates = {}
    for component in (*FACT_BONUSES, EXCLUSIVITY_UPLIFT):
        rate = _rate_on((r for r in snapshot.component_rates if r[0] == component), day)
        if rate is not None:
            rates[component] = rate
    components = line_components(facts, rates)
    return tier_id, {earned.component: earned.rate for earned in components}, components


def reference_rows(
    snapshot: Snapshot, *, quarter: Quarter, partner_ids: Iterable[int] | None = None, until: date | None = None
) -> list[RebateRow]:
    """Every rebate row the close of ``quarter`` writes: each partner line booked from the program start to the
    quarter's end (or ``until``) that is on no statement, with its components; a credit with those of its one
    credited line. ``partner_ids`` narrows it for an accrual estimate. Sorted, as the fast paths return them."""
    partner_ids = None if partner_ids is None else set(partner_ids)
    end = until or quarter.end
    rows = []
    for line in snapshot.lines:
        if (
            line.partner_id is None
            or not snapshot.program_start <= line.booked_on <= end
            or line.id in snapshot.ledger
            or (partner_ids is not None and line.partner_id not in partner_ids)
        ):
            continue
        if line.credited_order_id is None:
            earned = _line_earned(line, snapshot)
            if earned is None:
                continue
            tier_id, _rates, components = earned
        else:
            candidates = [
                other
                for other in snapshot.lines
                if other.order_id == line.credited_order_id and other.credited_order_id is None
            ]
            chosen = credited_line(line, candidates)
            earned = None if chosen is None else _line_earned(chosen, snapshot)
            if earned is None:
                continue
            tier_id, rates, _components = earned
            components = credit_components(line.net_amount, rates)
        rows += [
            RebateRow(
                order_line_id=line.id,
                component=item.component,
                partner_id=line.partner_id,
                tier_id=tier_id,
                net_amount=line.net_amount,
                rate=normal_rate(item.rate),
                amount=item.amount,
                is_adjustment=line.booked_on < quarter.start,
            )
            for item in components
        ]
    return sorted(rows)
