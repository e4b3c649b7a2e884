"""On PostgreSQL the quarter export is formatted by the database and copied out: the very bytes of the Python
rows, whatever the cells hold (sources as the vendor wrote them, credits, rates with and without decimals,
cells a spreadsheet would run as formulas)."""

import io
from datetime import date

import pytest
from django.core.management import call_command

from deals.models import Order, OrderLine
from portal.csvexport import csv_write
from portal.fiscal import Quarter
from rebates import selectors, services
from rebates.documents import STATEMENT_NUMBER_COLUMNS, statements_csv_write
from rebates.models import Statement
from tests.conftest import need, on_postgresql
from tests.factories import rebates as f

pytestmark = pytest.mark.django_db
Q1 = Quarter.parse("FY2018-Q1")


def python_csv(statements) -> str:
    out = io.StringIO()
    csv_write(selectors.statement_export_rows(statements), out, number_columns=STATEMENT_NUMBER_COLUMNS)
    return out.getvalue()


def test_the_copied_export_is_byte_identical_to_the_python_rows():
    need(on_postgresql(), "PostgreSQL (DATABASE_URL)")
    gold = f.partner("P00001", tier="gold", attested_on=date(2016, 6, 1))
    titanium = f.partner("P00002", tier="titanium")
    customer = f.customer()
    big = f.order(partner=gold, customer=customer, booked_on=date(2017, 2, 10),
                  lines=[("server", "10000.00"), ("services", "2500.50"), ("storage", "0.01")])  # fmt: skip
    f.order(partner=gold, customer=customer, booked_on=date(2017, 3, 20), lines=[("server", "-1250.25")], credits=big)
    f.order(partner=titanium, customer=f.customer(), booked_on=date(2017, 4, 2), lines=[("hci", "777.77")])
    f.order(partner=titanium, customer=f.customer(), booked_on=date(2017, 4, 3), lines=[("networking", "89704")])
    sources = ["89704", "253275.3", "1,234.00", "", "+5", "-1250.25"]
    for line, source in zip(OrderLine.objects.order_by("pk"), sources * 2, strict=False):
        OrderLine.objects.filter(pk=line.pk).update(net_amount_source=source)
    Order.objects.filter(pk=big.pk).update(number="=HYPERLINK(1)")  # as if a hostile number had got in
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))

    statements = Statement.objects.for_quarter(Q1)
    expected = python_csv(statements)
    copied = io.StringIO()
    statements_csv_write(statements, copied)
    assert copied.getvalue() == expected
    assert "'=HYPERLINK(1)" in expected and ",1,234.00," not in expected and ",253275.3," in expected
    assert expected.count("\n") == 1 + sum(s.line_count for s in statements)

    out = io.StringIO()
    call_command("export_statement", "--quarter", str(Q1), stdout=out)
    assert out.getvalue() == expected


def test_statements_of_two_quarters_are_exported_quarter_by_quarter():
    """Only a one-quarter export skips the quarter in its sort: named statements of two quarters keep each
    quarter's rows together, a first-quarter credit before the second quarter's orders (as the Python rows)."""
    need(on_postgresql(), "PostgreSQL (DATABASE_URL)")
    gold = f.partner("P00001", tier="gold")
    customer = f.customer()
    first = f.order(partner=gold, customer=customer, booked_on=date(2017, 2, 10), lines=[("server", "10000.00")])
    f.order(partner=gold, customer=customer, booked_on=date(2017, 3, 20), lines=[("server", "-100.00")], credits=first)
    f.order(partner=gold, customer=customer, booked_on=date(2017, 5, 10), lines=[("server", "5000.00")])
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    services.quarter_close(quarter=Quarter.parse("FY2018-Q2"), as_of=date(2017, 8, 6))

    statements = Statement.objects.filter(partner=gold)
    copied = io.StringIO()
    statements_csv_write(statements, copied)
    assert copied.getvalue() == python_csv(statements)
    numbers = [row.split(",")[0] for row in copied.getvalue().splitlines()[1:]]
    assert numbers == sorted(numbers) and len(set(numbers)) == 2  # Q1's rows, its credit included, then Q2's
    credit = max(index for index, row in enumerate(copied.getvalue().splitlines()) if ",-100.00," in row)
    assert credit < numbers.index("RS-FY2018-Q2-P00001") + 1
