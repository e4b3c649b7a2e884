"""One export mechanism (issue 10, item 13): every CSV the portal writes neutralises formulas in text cells and
keeps numbers numbers — statement CSV (download and ``export_statement``) and the tier export included."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from portal.csvexport import csv_amount, csv_cell, csv_document, csv_number
from portal.fiscal import Quarter
from rebates import services
from rebates.documents import statements_csv
from rebates.models import Statement
from tests.factories import MembershipFactory
from tests.factories import rebates as f

HOSTILE = "@SUM(1+1)"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("+33 1 23 45", "'+33 1 23 45"),
        ("-1+2", "'-1+2"),
        ("\tTab", "'\tTab"),
        ("\rCR", "'\rCR"),
        ("-10", "'-10"),  # text that looks like a number (a customer called "-10") is still text
        (csv_number("-10.00"), "-10.00"),  # a credit amount is a number, not a formula
        (csv_number("-1+2"), "'-1+2"),  # only a plain number can be marked a number
        (csv_amount(Decimal("-5")), "-5.00"),
        (Decimal("-5.00"), "-5.00"),
        (25, "25"),
        (None, ""),
        ("Dupont SA", "Dupont SA"),
    ],
)
def test_text_cells_are_neutralised_and_numbers_stay_numbers(value, cell):
    assert csv_cell(value) == cell


def test_a_document_neutralises_every_text_cell_and_keeps_its_number_columns():
    text = csv_document([["name", "amount"], ["=cmd|' /C calc'!A0", "-3.50"], ["-1", "=1"]], number_columns=["amount"])
    assert list(csv.reader(io.StringIO(text))) == [
        ["name", "amount"],
        ["'=cmd|' /C calc'!A0", "-3.50"],
        ["'-1", "'=1"],
    ]


@pytest.fixture
def statement(db):
    partner = f.partner("P00001", tier="gold")
    customer = f.customer()
    sale = f.order(partner=partner, customer=customer, booked_on=date(2017, 3, 1), lines=[("server", "1000.00")],
                   number="SO-1")  # fmt: skip
    # An order number written before the import checked them, as a formula would look.
    f.order(partner=partner, customer=customer, booked_on=date(2017, 3, 2), lines=[("server", "-100.00")],
            credits=sale, number=HOSTILE)  # fmt: skip
    services.quarter_close(quarter=Quarter.parse("FY2018-Q1"), as_of=date(2017, 5, 6))
    return Statement.objects.get()


def _hostile_rows(text: str) -> list[dict]:
    return [row for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff"))) if "SUM" in row["order_number"]]


def test_the_statement_csv_neutralises_formulas_and_keeps_credit_amounts_numeric(statement):
    rows = _hostile_rows(statements_csv(Statement.objects.all()))
    assert rows and {row["order_number"] for row in rows} == {"'" + HOSTILE}
    assert {row["net_amount"] for row in rows} == {"-100.00"}
    assert all(row["amount"].startswith("-") and Decimal(row["amount"]) < 0 for row in rows)


def test_export_statement_and_the_portal_download_write_the_same_safe_cells(statement, client, capsys):
    call_command("export_statement", statement.number)
    command_rows = _hostile_rows(capsys.readouterr().out)
    member = MembershipFactory(partner=statement.partner, role="finance")
    client.force_login(member.user)
    response = client.get(reverse("rebates:statement_csv", args=[statement.number]))
    download_rows = _hostile_rows(response.content.decode("utf-8"))
    assert command_rows == download_rows and command_rows[0]["order_number"] == "'" + HOSTILE


def test_the_tier_export_neutralises_formulas(db, capsys):
    f.partner("=HYPERLINK")
    call_command("export_tiers", "--as-of", "2017-03-01")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["partner_code"] for row in rows] == ["'=HYPERLINK"]
    assert rows[0]["qualifying_revenue"] == "0.00"
