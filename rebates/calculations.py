"""The rebate rules of DESIGN §6 as pure functions on ``Decimal`` and dates: no ORM, easy to test.

A line's *facts* (its tier's base rate, which bonus rules it meets, whether the partner was attested) are
gathered elsewhere, in bulk; here they become rounded components. Rounding goes through ``portal.money`` only.
"""

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from portal.fiscal import Quarter, add_months
from portal.money import ZERO, percent_of

BASE = "base"
NEW_BUSINESS = "new_business"
DEAL_REGISTRATION = "deal_registration"
BLENDED = "blended"
SERVICES = "services"
EXCLUSIVITY_UPLIFT = "exclusivity_uplift"
COMPONENT_ORDER = (BASE, NEW_BUSINESS, DEAL_REGISTRATION, BLENDED, SERVICES, EXCLUSIVITY_UPLIFT)

HARDWARE_LINES = ("server", "storage")  # new business and blended apply to these only
RESOLD = "resold"
PARTNER_DELIVERED = "partner_delivered"


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


def earns_services(*, product_line: str, service_delivery: str, delivery_certified: bool) -> bool:
    """A services line resold, or delivered by a partner holding an active services-delivery certification."""
    if product_line != "services":
        return False
    return service_delivery == RESOLD or (service_delivery == PARTNER_DELIVERED and delivery_certified)


def is_compliance_exception(*, product_line: str, service_delivery: str, delivery_certified: bool) -> bool:
    return product_line == "services" and service_delivery == PARTNER_DELIVERED and not delivery_certified


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
    for component, applies in (
        (NEW_BUSINESS, facts.new_business),
        (DEAL_REGISTRATION, facts.deal_registration),
        (BLENDED, facts.blended),
        (SERVICES, facts.services),
    ):
        if applies and rates.get(component) is not None:
            earned.append(Earned(component, rates[component], percent_of(facts.net_amount, rates[component])))
    return with_uplift(earned, rates.get(EXCLUSIVITY_UPLIFT) if facts.attested else None)


def credit_components(net_amount: Decimal, credited: dict[str, Decimal]) -> list[Earned]:
    """A credit earns the components its credited lines earned (``credited``: component → rate), at the same
    rates, on its own (negative) amount; the uplift applies to the credit's rounded components."""
    earned = [
        Earned(component, credited[component], percent_of(net_amount, credited[component]))
        for component in COMPONENT_ORDER
        if component != EXCLUSIVITY_UPLIFT and component in credited
    ]
    return with_uplift(earned, credited.get(EXCLUSIVITY_UPLIFT))


def total(components: Iterable[Earned]) -> Decimal:
    return sum((earned.amount for earned in components), start=ZERO)
