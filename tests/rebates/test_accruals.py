"""The stored dashboard accrual: one row read per view, always the figure the close would compute on the same
data, never a stale figure shown as current."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from deals.models import OrderLine
from partners.models import DellOnlyAttestation
from portal.csvimport import import_file
from portal.fiscal import Quarter
from rebates import accruals, generator
from rebates.models import ComponentRate, RebateAccrual
from rebates.selectors import rebate_accrual
from tests.factories import MembershipFactory
from tests.factories import rebates as f

pytestmark = pytest.mark.django_db

Q2_DAY = date(2017, 6, 15)  # FY2018-Q2 is open


def fresh_totals(partner, as_of):
    """What the close's own code computes now for ``partner`` (no stored row involved)."""
    totals = {}
    for row in generator.rebate_rows(quarter=Quarter.containing(as_of), partner_ids=[partner.pk], until=as_of):
        totals[row.component] = totals.get(row.component, D("0.00")) + row.amount
    return totals


def shown(partner, as_of):
    accrual = rebate_accrual(partner=partner, as_of=as_of)
    assert accrual.current
    by_component = {row["component"]: row["amount"] for row in accrual.by_component}
    assert accrual.total == sum(by_component.values(), D("0.00"))
    return by_component


@pytest.fixture
def program():
    p = f.partner("P00001", tier="gold", since=date(2017, 2, 1))
    other = f.partner("P00002", tier="gold", since=date(2017, 2, 1))
    customer = f.customer()
    f.order(partner=p, customer=customer, booked_on=date(2017, 5, 10), lines=[("server", "1000.00")])
    f.order(partner=p, customer=f.customer(), booked_on=date(2017, 5, 12), lines=[("services", "500.00")])
    return p, other, customer


def test_each_input_change_shows_what_the_close_computes_on_the_new_data(program):
    """A tier change, an attestation, a certification, a rate, a line, a credit, another partner's line of the
    same customer (new business), the day changing: after each, the accrual shown equals a fresh computation."""
    p, other, customer = program
    assert shown(p, Q2_DAY) == fresh_totals(p, Q2_DAY) != {}
    changes = [
        lambda: f.tier_change(p, "platinum", date(2017, 5, 1)),
        lambda: DellOnlyAttestation.objects.create(partner=p, starts_on=date(2017, 5, 1)),
        lambda: DellOnlyAttestation.objects.filter(partner=p).update(ends_on=date(2017, 5, 11)),
        lambda: f.services_delivery_certification(p, date(2017, 2, 1)),
        lambda: ComponentRate.objects.filter(component="new_business").update(rate=D("9")),
        lambda: f.order(partner=p, customer=customer, booked_on=date(2017, 5, 20), lines=[("storage", "2000.00")]),
        # Another partner sold storage to the customer before: p's storage line is no new business any more.
        lambda: f.order(partner=other, customer=customer, booked_on=date(2017, 3, 1), lines=[("storage", "10.00")]),
    ]
    before = shown(p, Q2_DAY)
    for change in changes:
        change()
        now = shown(p, Q2_DAY)
        assert now == fresh_totals(p, Q2_DAY)
        before = now
    # The day changing: a line booked later counts from its day on.
    f.order(partner=p, customer=f.customer(), booked_on=Q2_DAY + timedelta(days=1), lines=[("hci", "100.00")])
    assert shown(p, Q2_DAY) == before
    assert shown(p, Q2_DAY + timedelta(days=1)) == fresh_totals(p, Q2_DAY + timedelta(days=1)) != before


def test_a_credit_changes_the_shown_accrual(program):
    p, _other, customer = program
    sale = f.order(partner=p, customer=customer, booked_on=date(2017, 5, 15), lines=[("storage", "1000.00")])
    before = shown(p, Q2_DAY)
    f.order(partner=p, customer=customer, booked_on=date(2017, 5, 20), lines=[("storage", "-400.00")], credits=sale)
    after = shown(p, Q2_DAY)
    assert after == fresh_totals(p, Q2_DAY)
    assert after["base"] == before["base"] - D("8.00")  # gold storage 2 % of -400


def test_the_accrual_equals_the_close_of_the_quarter(program):
    """On the quarter's last day the accrual is exactly what the close then writes."""
    from rebates import services

    p, _other, customer = program
    services.quarter_close(quarter=Quarter.parse("FY2018-Q1"), as_of=date(2017, 5, 6))  # quarters close in order
    f.order(partner=p, customer=customer, booked_on=date(2017, 7, 3), lines=[("storage", "3000.00")])
    last_day = Quarter.parse("FY2018-Q2").end
    accrual = rebate_accrual(partner=p, as_of=last_day)
    services.quarter_close(quarter=Quarter.parse("FY2018-Q2"), as_of=last_day + timedelta(days=6))
    statement = p.statements.get(quarter="FY2018-Q2")
    assert accrual.total == statement.total
    written = statement.lines.values("component").annotate(amount=Sum("amount")).order_by()
    assert {row["component"]: row["amount"] for row in accrual.by_component} == {
        row["component"]: row["amount"] for row in written
    }


def test_a_stored_accrual_is_read_in_a_fixed_number_of_queries_whatever_the_lines(program):
    p, _other, customer = program
    counts = {}
    for extra in (1, 30):
        for index in range(extra):
            f.order(partner=p, customer=customer, booked_on=date(2017, 5, 1) + timedelta(days=index % 40),
                    lines=[("server", "10.00"), ("storage", "20.00")])  # fmt: skip
        rebate_accrual(partner=p, as_of=Q2_DAY)  # computed and stored
        with CaptureQueriesContext(connection) as captured:
            accrual = rebate_accrual(partner=p, as_of=Q2_DAY)
        assert accrual.current
        # No rebate computation: nothing reads the rates' joins or the rebate lines of the close.
        assert not any("rebates_rebateline" in query["sql"] for query in captured.captured_queries)
        counts[extra] = len(captured)
    assert counts[1] == counts[30], counts


ORDERS_HEADER = (
    "order_number,booked_on,channel,partner_code,customer_name,customer_country,customer_vat,customer_domain,"
    "line_number,product_line,sku,description,quantity,net_amount,service_delivery,registration_number,"
    "credits_order_number\n"
)


def test_an_import_marks_the_stored_accrual_as_being_refreshed_then_refreshes_it(
    program, django_capture_on_commit_callbacks, client
):
    p, _other, _customer = program
    today = timezone.localdate()
    f.order(partner=p, customer=f.customer(), booked_on=today, lines=[("server", "1000.00")])
    before = rebate_accrual(partner=p, as_of=today)
    data = ORDERS_HEADER + f"SO-IMP-1,{today.isoformat()},partner,{p.code},Imported SA,FR,,,1,hci,S1,,1,5000.00,,,\n"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        import_file(kind="orders", data=data.encode(), name="orders.csv")
    assert callbacks, "the refresh is queued after commit"
    # The import committed, its refresh has not run: the figure shown is the stored one, said to be "as of".
    pending = rebate_accrual(partner=p, as_of=today)
    assert not pending.current and pending.total == before.total and pending.computed_at == before.computed_at
    client.force_login(MembershipFactory(partner=p, role="finance").user)
    assert b"Being refreshed after an import" in client.get(reverse("dashboard")).content
    # The queued task runs: the stored row is current again and equals a fresh computation.
    for callback in callbacks:
        callback()
    row = RebateAccrual.objects.get(partner=p, quarter=str(Quarter.containing(today)))
    assert row.refresh_requested_at is None
    refreshed = rebate_accrual(partner=p, as_of=today)
    assert refreshed.current and refreshed.total > before.total
    assert {r["component"]: r["amount"] for r in refreshed.by_component} == fresh_totals(p, today)


def test_a_lost_refresh_does_not_keep_a_stale_figure(program):
    """A refresh requested long ago (a worker down) no longer excuses a stale row: the figure is computed."""
    p, _other, customer = program
    rebate_accrual(partner=p, as_of=Q2_DAY)
    f.order(partner=p, customer=customer, booked_on=date(2017, 6, 1), lines=[("storage", "1000.00")])
    RebateAccrual.objects.filter(partner=p).update(
        refresh_requested_at=timezone.now() - timedelta(seconds=accruals.REFRESH_PATIENCE_SECONDS + 1)
    )
    assert shown(p, Q2_DAY) == fresh_totals(p, Q2_DAY)
    assert OrderLine.objects.filter(partner=p).count() == 3
