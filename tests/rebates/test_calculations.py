"""The pure rules of DESIGN §6, to the cent."""

from datetime import date
from decimal import Decimal as D

import pytest

from rebates import calculations as calc

RATES = {
    "new_business": D(8),
    "deal_registration": D(2),
    "blended": D(2),
    "services": D(1),
    "exclusivity_uplift": D(25),
}


def amounts(components):
    return {earned.component: earned.amount for earned in components}


def test_worked_example_gold_attested_to_the_cent():
    server = calc.line_components(
        calc.LineFacts(net_amount=D("10000.00"), base_rate=D(2), deal_registration=True, blended=True, attested=True),
        RATES,
    )
    storage = calc.line_components(
        calc.LineFacts(
            net_amount=D("20000.00"),
            base_rate=D(2),
            new_business=True,
            deal_registration=True,
            blended=True,
            attested=True,
        ),
        RATES,
    )
    assert amounts(server) == {
        "base": D("200.00"),
        "deal_registration": D("200.00"),
        "blended": D("200.00"),
        "exclusivity_uplift": D("150.00"),
    }
    assert amounts(storage) == {
        "base": D("400.00"),
        "new_business": D("1600.00"),
        "deal_registration": D("400.00"),
        "blended": D("400.00"),
        "exclusivity_uplift": D("700.00"),
    }
    before_uplift = sum(e.amount for e in server + storage if e.component != "exclusivity_uplift")
    assert before_uplift == D("3400.00")
    assert sum(e.amount for e in server + storage if e.component == "exclusivity_uplift") == D("850.00")
    assert calc.total(server + storage) == D("4250.00")
    assert [e.component for e in storage] == [
        "base",
        "new_business",
        "deal_registration",
        "blended",
        "exclusivity_uplift",
    ]


@pytest.mark.parametrize(
    ("net", "rate", "expected"),
    [
        (D("0.50"), D(1), D("0.01")),  # 0.005 → 0.01: ties away from zero
        (D("-0.50"), D(1), D("-0.01")),  # and symmetrically for credits
        (D("0.49"), D(1), D("0.00")),
        (D("12.25"), D(2), D("0.25")),  # 0.245 → 0.25
        (D("65000.05"), D(1), D("650.00")),  # 650.0005
    ],
)
def test_each_component_rounds_half_away_from_zero(net, rate, expected):
    (base,) = calc.line_components(calc.LineFacts(net_amount=net, base_rate=rate), {})
    assert base.amount == expected


def test_uplift_rounds_a_quarter_of_the_rounded_components():
    # base 0.02 + services 0.01 = 0.03 → 25 % = 0.0075 → 0.01 (not 25 % of the unrounded 0.03 × …)
    components = calc.line_components(
        calc.LineFacts(net_amount=D("1.00"), base_rate=D(2), services=True, attested=True), RATES
    )
    assert amounts(components) == {"base": D("0.02"), "services": D("0.01"), "exclusivity_uplift": D("0.01")}


def test_a_missing_rate_means_the_component_does_not_apply():
    components = calc.line_components(calc.LineFacts(net_amount=D("100.00"), base_rate=None, blended=True), {})
    assert components == []


def test_new_business_window_is_booked_on_minus_36_months_inclusive_to_booked_on_exclusive():
    booked = date(2017, 3, 15)
    rule = lambda dates: calc.is_new_business(  # noqa: E731
        product_line="server", booked_on=booked, earlier_positive_dates=dates, lookback_months=36
    )
    assert rule([]) is True
    assert rule([date(2014, 3, 15)]) is False  # exactly 36 months before: inside the window
    assert rule([date(2014, 3, 14)]) is True  # a day earlier: outside
    assert rule([date(2017, 3, 15)]) is True  # the same day does not count
    assert rule([date(2017, 3, 14)]) is False
    assert (
        calc.is_new_business(product_line="networking", booked_on=booked, earlier_positive_dates=[], lookback_months=36)
        is False
    )


def test_blended_needs_server_and_storage_in_the_quarter():
    assert calc.is_blended(product_line="server", partner_lines_in_quarter={"server", "storage"}) is True
    assert calc.is_blended(product_line="storage", partner_lines_in_quarter={"storage"}) is False
    assert calc.is_blended(product_line="hci", partner_lines_in_quarter={"server", "storage"}) is False


def test_credit_takes_the_credited_components_on_its_negative_amount():
    components = calc.credit_components(D("-187788.03"), {"base": D(3), "exclusivity_uplift": D(25)})
    assert amounts(components) == {"base": D("-5633.64"), "exclusivity_uplift": D("-1408.41")}


def line(line_number, product_line, delivery=""):
    return calc.ReferenceLine(
        id=line_number,
        order_id=1,
        line_number=line_number,
        partner_id=1,
        customer_id=1,
        product_line=product_line,
        net_amount=D(100),
        booked_on=date(2017, 2, 1),
        service_delivery=delivery,
    )


def test_a_credit_is_judged_against_one_credited_line_same_delivery_first_then_lowest_number():
    resold, delivered, other = line(1, "services", "resold"), line(2, "services", "partner_delivered"), line(3, "hci")
    later_delivered = line(4, "services", "partner_delivered")
    order = [later_delivered, other, delivered, resold]
    assert calc.credited_line(line(9, "services", "partner_delivered"), order) == delivered
    assert calc.credited_line(line(9, "services", "resold"), order) == resold
    # no line of the same delivery: the same product line alone, lowest line number
    assert calc.credited_line(line(9, "services", "resold"), [later_delivered, delivered]) == delivered
    assert calc.credited_line(line(9, "hci"), order) == other
    assert calc.credited_line(line(9, "storage"), order) is None
