"""Each component's rule and boundaries, through the generator (both paths on PostgreSQL), and SQL = Python."""

import random
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection

from portal.fiscal import Quarter
from rebates.generator import rebate_rows_python, rebate_rows_sql
from tests.factories import rebates as f

pytestmark = pytest.mark.django_db
Q1 = Quarter.parse("FY2018-Q1")


def components(quarter=Q1):
    """{(order number, line number): {component: amount}} — and, on PostgreSQL, SQL agrees with Python."""
    from deals.models import OrderLine

    rows = rebate_rows_python(quarter=quarter)
    if connection.vendor == "postgresql":
        assert rebate_rows_sql(quarter=quarter) == rows
    lines = {line.pk: (line.order.number, line.line_number) for line in OrderLine.objects.select_related("order")}
    result = {}
    for row in rows:
        result.setdefault(lines[row.order_line_id], {})[row.component] = row.amount
    return result


def test_worked_example_through_the_database_to_the_cent():
    gold = f.partner(tier="gold", attested_on=date(2016, 6, 1))
    customer = f.customer()
    f.order(partner=None, channel="direct", customer=customer, booked_on=date(2016, 5, 3), lines=[("server", "500.00")])
    sale = f.order(
        partner=gold,
        customer=customer,
        booked_on=date(2017, 2, 10),
        lines=[("server", "10000.00"), ("storage", "20000.00")],
        number="SO-EX",
    )
    registration = f.won_registration(partner=gold, customer=customer, won_order=sale, approved_on=date(2017, 2, 1))
    sale.lines.update(registration=registration)

    got = components()
    assert got[("SO-EX", 1)] == {
        "base": D("200.00"),
        "deal_registration": D("200.00"),
        "blended": D("200.00"),
        "exclusivity_uplift": D("150.00"),
    }
    assert got[("SO-EX", 2)] == {
        "base": D("400.00"),
        "new_business": D("1600.00"),
        "deal_registration": D("400.00"),
        "blended": D("400.00"),
        "exclusivity_uplift": D("700.00"),
    }
    assert sum(sum(c.values()) for c in got.values()) == D("4250.00")


@pytest.mark.parametrize(
    ("earlier", "new_business"),
    [(date(2014, 3, 15), False), (date(2014, 3, 14), True), (date(2017, 3, 15), True), (None, True)],
)
def test_new_business_36_month_window_edges_any_channel(earlier, new_business):
    p = f.partner()
    customer = f.customer()
    if earlier:  # a direct order of the vendor counts too
        f.order(partner=None, channel="direct", customer=customer, booked_on=earlier, lines=[("storage", "10.00")])
    f.order(partner=p, customer=customer, booked_on=date(2017, 3, 15), lines=[("storage", "1000.00")], number="SO-1")
    assert ("new_business" in components()[("SO-1", 1)]) is new_business


def test_new_business_ignores_credits_and_other_product_lines():
    p = f.partner()
    customer = f.customer()
    old = f.order(partner=p, customer=customer, booked_on=date(2016, 1, 5), lines=[("server", "10.00")])
    f.order(partner=p, customer=customer, booked_on=date(2016, 1, 6), lines=[("server", "-10.00")], credits=old)
    f.order(partner=p, customer=customer, booked_on=date(2016, 2, 1), lines=[("storage", "10.00")])
    f.order(partner=p, customer=customer, booked_on=date(2017, 3, 1), lines=[("storage", "100.00")], number="SO-S")
    assert "new_business" not in components()[("SO-S", 1)]
    # the server line of 2016 is positive: a server line is not new business either
    f.order(partner=p, customer=customer, booked_on=date(2017, 3, 2), lines=[("server", "100.00")], number="SO-V")
    assert "new_business" not in components()[("SO-V", 1)]


def test_blended_needs_server_and_storage_of_the_same_partner_in_the_same_quarter():
    p, other = f.partner(), f.partner()
    customer = f.customer()
    f.order(partner=p, customer=customer, booked_on=date(2017, 4, 30), lines=[("server", "100.00")], number="SO-A")
    f.order(partner=p, customer=customer, booked_on=date(2017, 5, 1), lines=[("storage", "100.00")], number="SO-B")
    f.order(partner=other, customer=customer, booked_on=date(2017, 4, 1), lines=[("storage", "100.00")])
    assert "blended" not in components()[("SO-A", 1)]  # storage of Q2 or of another partner: not blended
    f.order(partner=p, customer=customer, booked_on=date(2017, 2, 1), lines=[("storage", "100.00")], number="SO-C")
    got = components()
    assert "blended" in got[("SO-A", 1)] and "blended" in got[("SO-C", 1)]


def test_services_compliant_partner_delivery_earns_the_bonus_non_compliant_only_the_others():
    compliant, exception = f.partner(), f.partner()
    f.services_delivery_certification(compliant, earned_on=date(2017, 3, 1), expires_on=date(2019, 3, 1))
    f.services_delivery_certification(exception, earned_on=date(2017, 3, 2))  # not yet active on 1 March
    delivered = [("services", "1000.00", {"service_delivery": "partner_delivered"})]
    f.order(partner=compliant, customer=f.customer(), booked_on=date(2017, 3, 1), lines=delivered, number="SO-OK")
    f.order(partner=exception, customer=f.customer(), booked_on=date(2017, 3, 1), lines=delivered, number="SO-KO")
    f.order(
        partner=exception,
        customer=f.customer(),
        booked_on=date(2017, 3, 1),
        lines=[("services", "1000.00")],
        number="SO-RS",
    )
    got = components()
    assert got[("SO-OK", 1)] == {"base": D("10.00"), "services": D("10.00")}
    assert got[("SO-KO", 1)] == {"base": D("10.00")}
    assert got[("SO-RS", 1)] == {"base": D("10.00"), "services": D("10.00")}


def test_attestation_starting_mid_quarter_uplifts_only_lines_booked_from_its_start():
    p = f.partner(attested_on=date(2017, 3, 15))
    f.order(partner=p, customer=f.customer(), booked_on=date(2017, 3, 14), lines=[("hci", "1000.00")], number="SO-1")
    f.order(partner=p, customer=f.customer(), booked_on=date(2017, 3, 15), lines=[("hci", "1000.00")], number="SO-2")
    got = components()
    assert got[("SO-1", 1)] == {"base": D("10.00")}
    assert got[("SO-2", 1)] == {"base": D("10.00"), "exclusivity_uplift": D("2.50")}


def test_tier_change_mid_quarter_rates_each_line_at_the_tier_of_its_booked_date():
    p = f.partner(tier="gold", since=date(2017, 2, 1))
    f.tier_change(p, "platinum", date(2017, 3, 10))
    f.tier_change(p, "titanium", date(2017, 3, 20))
    f.tier_change(p, "titanium_black", date(2017, 3, 20))  # same day: the latest row wins
    for day, number in [(date(2017, 3, 9), "SO-G"), (date(2017, 3, 10), "SO-P"), (date(2017, 3, 20), "SO-TB")]:
        f.order(partner=p, customer=f.customer(), booked_on=day, lines=[("networking", "1000.00")], number=number)
    got = components()
    assert got[("SO-G", 1)]["base"] == D("20.00")
    assert got[("SO-P", 1)]["base"] == D("30.00")
    assert got[("SO-TB", 1)]["base"] == D("50.00")


def test_authorized_before_any_tier_change_and_no_rebate_before_the_program_start():
    p = f.partner()
    f.order(partner=p, customer=f.customer(), booked_on=date(2017, 1, 31), lines=[("hci", "1000.00")], number="SO-H")
    f.order(partner=p, customer=f.customer(), booked_on=date(2017, 2, 1), lines=[("hci", "1000.00")], number="SO-1")
    got = components()
    assert ("SO-H", 1) not in got
    assert got[("SO-1", 1)] == {"base": D("10.00")}


def test_credit_earns_the_credited_components_at_their_rates_in_its_own_quarter():
    p = f.partner(tier="platinum", attested_on=date(2016, 6, 1))
    customer = f.customer()
    sale = f.order(partner=p, customer=customer, booked_on=date(2017, 2, 20), lines=[("networking", "187788.03")])
    f.tier_change(p, "gold", date(2017, 2, 21))  # the credit is judged at the credited order's tier
    f.order(
        partner=p,
        customer=customer,
        booked_on=date(2017, 2, 23),
        lines=[("networking", "-187788.03")],
        credits=sale,
        number="SO-CR",
    )
    assert components()[("SO-CR", 1)] == {"base": D("-5633.64"), "exclusivity_uplift": D("-1408.41")}


def test_a_credit_takes_back_only_what_its_one_credited_line_earned():
    # The order has a resold services line (services bonus) and a partner-delivered one without a delivery
    # certification (no services bonus): a credit of the partner-delivered line takes back no services bonus.
    p = f.partner(tier="gold")
    customer = f.customer()
    sale = f.order(
        partner=p,
        customer=customer,
        booked_on=date(2017, 2, 20),
        lines=[
            ("services", "1000.00", {"service_delivery": "resold"}),
            ("services", "3000.00", {"service_delivery": "partner_delivered"}),
        ],
        number="SO-S",
    )
    delivered_credit = [("services", "-3000.00", {"service_delivery": "partner_delivered"})]
    f.order(
        partner=p, customer=customer, booked_on=date(2017, 3, 1), lines=delivered_credit, credits=sale, number="CR-D"
    )
    resold_credit = [("services", "-500.00", {"service_delivery": "resold"})]
    f.order(partner=p, customer=customer, booked_on=date(2017, 3, 2), lines=resold_credit, credits=sale, number="CR-R")
    got = components()
    assert got[("SO-S", 1)] == {"base": D("20.00"), "services": D("10.00")}
    assert got[("SO-S", 2)] == {"base": D("60.00")}
    assert got[("CR-D", 1)] == {"base": D("-60.00")}
    assert got[("CR-R", 1)] == {"base": D("-10.00"), "services": D("-5.00")}


def test_a_credit_without_a_line_of_its_delivery_is_judged_against_a_line_of_its_product_line():
    p = f.partner(tier="gold")
    customer = f.customer()
    f.services_delivery_certification(p, earned_on=date(2017, 3, 1))
    early = f.order(  # booked before the certification: neither partner-delivered line is compliant
        partner=p,
        customer=customer,
        booked_on=date(2017, 2, 20),
        lines=[("hci", "10.00"), ("services", "1000.00", {"service_delivery": "partner_delivered"})],
        number="SO-E",
    )
    late = f.order(
        partner=p,
        customer=customer,
        booked_on=date(2017, 3, 20),
        lines=[
            ("services", "1000.00", {"service_delivery": "partner_delivered"}),
            ("services", "2000.00", {"service_delivery": "partner_delivered"}),
        ],
        number="SO-L",
    )
    resold = [("services", "-100.00", {"service_delivery": "resold"})]
    f.order(partner=p, customer=customer, booked_on=date(2017, 4, 1), lines=resold, credits=early, number="CR-E")
    f.order(partner=p, customer=customer, booked_on=date(2017, 4, 1), lines=resold, credits=late, number="CR-L")
    got = components()
    assert got[("SO-E", 2)] == {"base": D("20.00")}
    assert got[("SO-L", 1)] == {"base": D("20.00"), "services": D("10.00")}
    # a resold credit of the uncompliant order earns no services bonus: it is judged as the line it credits
    assert got[("CR-E", 1)] == {"base": D("-2.00")}
    assert got[("CR-L", 1)] == {"base": D("-2.00"), "services": D("-1.00")}


def test_a_credit_of_a_line_already_on_a_statement_takes_the_issued_components():
    from rebates import services

    p = f.partner(tier="gold", attested_on=date(2016, 6, 1))
    customer = f.customer()
    sale = f.order(
        partner=p,
        customer=customer,
        booked_on=date(2017, 3, 1),
        lines=[("storage", "1000.00"), ("storage", "5000.00")],
        number="SO-1",
    )
    f.order(partner=p, customer=customer, booked_on=date(2017, 4, 1), lines=[("server", "10.00")])
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    f.tier_change(p, "platinum", date(2017, 5, 1))  # later changes do not reach the credited line's components
    f.order(
        partner=p,
        customer=customer,
        booked_on=date(2017, 5, 10),
        lines=[("storage", "-400.00")],
        credits=sale,
        number="CR-1",
    )
    got = components(Quarter.parse("FY2018-Q2"))
    # line 1 earned base 2, new business 8, blended 2 (a server line in the quarter) and the uplift
    assert got == {
        ("CR-1", 1): {
            "base": D("-8.00"),
            "new_business": D("-32.00"),
            "blended": D("-8.00"),
            "exclusivity_uplift": D("-12.00"),
        }
    }


def test_credit_of_an_order_booked_before_the_program_earns_nothing():
    p = f.partner()
    customer = f.customer()
    sale = f.order(partner=p, customer=customer, booked_on=date(2016, 12, 20), lines=[("hci", "100.00")])
    f.order(
        partner=p,
        customer=customer,
        booked_on=date(2017, 2, 23),
        lines=[("hci", "-100.00")],
        credits=sale,
        number="SO-CR",
    )
    assert ("SO-CR", 1) not in components()


def test_direct_lines_earn_nothing():
    f.order(
        partner=None,
        channel="direct",
        customer=f.customer(),
        booked_on=date(2017, 3, 1),
        lines=[("server", "100.00")],
        number="SO-D",
    )
    assert components() == {}


def test_sql_and_python_agree_on_thousands_of_random_lines(require_postgresql):
    rng = random.Random(7)
    partners = [
        f.partner(
            tier=rng.choice(["authorized", "gold", "platinum", "titanium"]),
            since=date(2016, 1, 1),
            attested_on=rng.choice([None, date(2017, 3, rng.randint(1, 28))]),
        )
        for _ in range(12)
    ]
    for p in partners[:6]:
        f.tier_change(p, rng.choice(["gold", "platinum", "titanium_black"]), date(2017, rng.randint(2, 4), 15))
        f.services_delivery_certification(p, earned_on=date(2017, rng.randint(2, 4), rng.randint(1, 28)))
    customers = [f.customer() for _ in range(60)]
    product_lines = ["server", "storage", "networking", "hci", "data_protection", "services"]
    orders = []
    start = date(2014, 1, 1)
    for _ in range(1200):
        # most in FY2018-Q1 (2017-02-01 … 2017-04-30), the rest history for the new-business look-back
        day = (
            date(2017, 2, 1) + timedelta(days=rng.randint(0, 88))
            if rng.random() < 0.6
            else start + timedelta(days=rng.randint(0, 1125))
        )
        p = rng.choice(partners + [None])
        lines = []
        for _line in range(rng.randint(1, 4)):
            product_line = rng.choice(product_lines)
            extra = (
                {"service_delivery": rng.choice(["resold", "partner_delivered"])} if product_line == "services" else {}
            )
            # cents ending in 5 and 0 make half-cent ties at 1, 3 and 25 points
            lines.append((product_line, D(rng.randint(1, 2_000_000)) / 100 + D("0.05"), extra))
        made = f.order(
            partner=p, channel="partner" if p else "direct", customer=rng.choice(customers), booked_on=day, lines=lines
        )
        orders.append(made)
        if p and made.booked_on >= date(2017, 2, 1) and rng.random() < 0.15:
            registration = f.won_registration(
                partner=p, customer=made.customer, won_order=made, approved_on=made.booked_on
            )
            made.lines.update(registration=registration)
    for made in rng.sample([o for o in orders if o.partner_id and o.booked_on >= date(2016, 11, 1)], 80):
        line = made.lines.first()
        f.order(
            partner=made.partner,
            customer=made.customer,
            booked_on=max(made.booked_on, date(2017, 2, 1)),
            lines=[(line.product_line, -line.net_amount / 2, {"service_delivery": line.service_delivery})],
            credits=made,
        )
    python_rows = rebate_rows_python(quarter=Q1)
    assert rebate_rows_sql(quarter=Q1) == python_rows
    assert len({row.order_line_id for row in python_rows}) > 1500
    assert {row.component for row in python_rows} == {
        "base",
        "new_business",
        "deal_registration",
        "blended",
        "services",
        "exclusivity_uplift",
    }


def test_the_rebate_query_leaves_the_planner_settings_of_its_transaction_as_they_were(require_postgresql):
    # It plans without nested loops and JIT (SET LOCAL); the statements after it in the transaction plan as usual.
    from django.db import transaction

    def setting(name):
        with connection.cursor() as cursor:
            cursor.execute(f"SHOW {name}")
            return cursor.fetchone()[0]

    f.order(partner=f.partner(), customer=f.customer(), booked_on=date(2017, 3, 1), lines=[("hci", "10.00")])
    with transaction.atomic():
        before = setting("enable_nestloop"), setting("jit")
        assert len(rebate_rows_sql(quarter=Q1)) == 1
        assert (setting("enable_nestloop"), setting("jit")) == before == ("on", before[1])


@pytest.mark.parametrize("status", ["pending", "rejected"])
def test_only_a_verified_services_delivery_certification_earns_the_services_bonus(status):
    """A delivery certification a partner admin entered and staff have not verified (or rejected) makes no
    partner-delivered line compliant: the line earns its other components only, on both paths (SQL = Python on
    PostgreSQL, ``components``), and the order pages show it as a compliance exception."""
    from deals.models import OrderLine

    unverified, verified = f.partner(), f.partner()
    f.services_delivery_certification(unverified, earned_on=date(2017, 2, 1), status=status)
    f.services_delivery_certification(verified, earned_on=date(2017, 2, 1))
    delivered = [("services", "1000.00", {"service_delivery": "partner_delivered"})]
    f.order(partner=unverified, customer=f.customer(), booked_on=date(2017, 3, 1), lines=delivered, number="SO-UN")
    f.order(partner=verified, customer=f.customer(), booked_on=date(2017, 3, 1), lines=delivered, number="SO-VE")
    got = components()
    assert got[("SO-UN", 1)] == {"base": D("10.00")}
    assert got[("SO-VE", 1)] == {"base": D("10.00"), "services": D("10.00")}
    flags = dict(OrderLine.objects.with_compliance().values_list("order__number", "compliance_exception"))
    assert flags == {"SO-UN": True, "SO-VE": False}
