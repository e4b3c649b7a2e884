"""The set-based PostgreSQL import and the Python reference path leave the same database and report the same
errors, on random files over a random booked history (Hypothesis; PostgreSQL, as in CI)."""

import csv
import io
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from deals.imports import ORDER_HEADER, import_orders_in_memory
from deals.imports_postgres import import_orders_postgres
from deals.models import Customer, Order, OrderLine, Registration, RegistrationEvent
from portal.csvimport import ImportRejected
from tests.factories import PartnerFactory
from tests.factories.registrations import RegistrationFactory

pytestmark = pytest.mark.django_db

# Spellings that are one company or deliberately not (DESIGN §4): VAT first, then domain, then name in the country.
IDENTITIES = [
    ("Dupont SA", "FR", "FR123456789", ""),
    ("DUPONT", "FR", "", ""),
    ("Dupont S.A.R.L.", "FR", "", "dupont.fr"),
    ("Dupont", "DE", "", "www.dupont.fr"),
    ("Dupont SA", "FR", "FR999999999", "dupont.fr"),
    ("NV Energy", "BE", "", ""),
    ("Energy Inc", "BE", "", "energy.com"),
    ("Energy N.V.", "BE", "BE0123456789", "energy.com"),
]
NUMBERS = ["SO-1", "SO-2", "SO-3", "SO-4", "SO-5"]
PRODUCT_LINES = ["server", "storage", "services"]
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)


@st.composite
def rows(draw, *, max_orders=5):
    """Rows of a few orders: mostly sound, some with the mistakes the rules catch (a bad date, order fields that
    differ, a duplicate line, credits of unknown or other orders, unknown or foreign registrations)."""
    out = []
    for _ in range(draw(st.integers(1, max_orders))):
        number = draw(st.sampled_from(NUMBERS))
        channel, partner = draw(st.sampled_from([("partner", "P1"), ("partner", "P2"), ("direct", "")]))
        name, country, vat, domain = draw(st.sampled_from(IDENTITIES))
        booked = draw(st.sampled_from(["2017-03-01", "2017-06-15", "2017-06-15"]))
        credits = draw(st.sampled_from([""] * 8 + [*NUMBERS, "SO-404"]))
        for line_number in draw(st.lists(st.sampled_from(["1", "2", "3"]), min_size=1, max_size=3)):
            product = draw(st.sampled_from(PRODUCT_LINES))
            amount = draw(amounts)
            if credits:
                amount = -amount
            out.append([
                number,
                draw(st.sampled_from([booked] * 7 + ["2017-02-30"])),
                channel,
                partner,
                name,
                country,
                vat,
                domain,
                line_number,
                product,
                "SKU",
                "",
                "1",
                f"{amount:.2f}",
                draw(st.sampled_from(["resold", "partner_delivered"])) if product == "services" else "",
                draw(st.sampled_from(["", "", "", "DR-1", "DR-2", "DR-404"])),
                credits,
            ])  # fmt: skip
    return out


def csv_of(lines) -> bytes:
    return ("\n".join([",".join(ORDER_HEADER), *(",".join(line) for line in lines)]) + "\n").encode()


def state() -> dict:
    """The database the imports wrote, without ids but in id order (ids decide which customer a key matches)."""
    return {
        "customers": list(
            Customer.objects.order_by("pk").values_list(
                "name", "country", "vat", "domain", "vat_key", "domain_key", "name_key"
            )  # fmt: skip
        ),
        "orders": list(
            Order.objects.order_by("pk").values_list(
                "number", "booked_on", "channel", "partner__code", "customer__name"
            )  # fmt: skip
        ),
        "lines": list(
            OrderLine.objects.order_by("order__number", "line_number").values_list(
                "order__number",
                "line_number",
                "product_line",
                "sku",
                "description",
                "quantity",
                "net_amount",
                "net_amount_source",
                "service_delivery",
                "registration_number",
                "registration__number",
                "credited_order__number",
                "partner__code",
                "customer__name",
                "booked_on",
                "channel",
            )
        ),  # fmt: skip
        "registrations": list(
            Registration.objects.order_by("number").values_list("number", "status", "won_order__number", "won_on")
        ),
        "events": list(RegistrationEvent.objects.order_by("pk").values_list("registration__number", "to_status")),
    }


def outcome(importer, data: bytes):
    """What one import did: its result or its errors, and the database after it (rolled back afterwards)."""
    with transaction.atomic():
        try:
            result = importer(data)
            reported = (result.rows, result.created, result.unchanged, result.details)
        except ImportRejected as rejected:
            reported = ("rejected", rejected.errors)
        after = state()
        transaction.set_rollback(True)
    return reported, after


def python_path(data: bytes):
    return import_orders_in_memory(data)


def postgresql_path(data: bytes):
    return import_orders_postgres(io.BytesIO(data))


@pytest.fixture
def program(require_postgresql):
    """Two partners, an existing customer and two approved registrations an import can win."""
    p1, p2 = PartnerFactory(code="P1"), PartnerFactory(code="P2")
    dupont = Customer.objects.create(name="Dupont SA", country="FR", vat="FR123456789")
    RegistrationFactory(number="DR-1", partner=p1, customer=dupont, status="approved", lines={"server": "10.00"})
    RegistrationFactory(number="DR-2", partner=p2, customer=dupont, status="approved", lines={"storage": "10.00"})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=rows(max_orders=3), file=rows())
def test_both_paths_book_the_same_and_report_the_same_errors(program, history, file):
    with transaction.atomic():
        try:  # a booked history for the file to repeat, contradict, credit or win against (if it imports)
            import_orders_in_memory(csv_of(history))
        except ImportRejected:
            pass
        reference = outcome(python_path, csv_of(file))
        event("rejected" if reference[0][0] == "rejected" else "imported")
        assert outcome(postgresql_path, csv_of(file)) == reference
        transaction.set_rollback(True)


def test_the_paths_agree_on_a_file_that_books_credits_and_wins(program):
    """A sound file, so the comparison above is not only about rejections."""
    file = [
        ["SO-1", "2017-06-15", "partner", "P1", "Dupont S.A.R.L.", "FR", "FR123456789", "", "1", "server", "SKU", "",
         "1", "100.00", "", "", ""],
        ["SO-1", "2017-06-15", "partner", "P1", "Dupont S.A.R.L.", "FR", "FR123456789", "", "2", "storage", "SKU", "",
         "1", "50.5", "", "", ""],
        ["SO-2", "2017-06-16", "partner", "P1", "DUPONT", "FR", "", "", "1", "server", "SKU", "", "1", "-10.00", "",
         "", "SO-1"],
        ["SO-3", "2017-06-16", "direct", "", "NV Energy", "BE", "", "", "1", "services", "SKU", "", "2", "70.00",
         "resold", "", ""],
    ]  # fmt: skip
    reference = outcome(python_path, csv_of(file))
    assert reference[0] == (4, 4, 0, {"orders": 3, "customers": 1})  # DUPONT is Dupont SA: FR, same name
    assert ("DR-1", "won", "SO-1", reference[1]["registrations"][0][3]) in reference[1]["registrations"]
    assert outcome(postgresql_path, csv_of(file)) == reference


def test_a_file_with_many_bad_rows_reports_the_first_errors_and_counts_all(program, settings):
    settings.IMPORT_MAX_REPORTED_ERRORS = 2
    file = [[f"SO-{n}", "2017-02-30", "partner", "P1", "Dupont SA", "FR", "", "", "1", "server", "SKU", "", "1",
             "10.00", "", "", ""] for n in range(5)]  # fmt: skip
    with pytest.raises(ImportRejected) as info:
        postgresql_path(csv_of(file))
    assert [line for line, _message in info.value.errors] == [2, 3]
    assert info.value.total == 5
    assert info.value.report().endswith("… and 3 more errors")
    assert "5 error(s)" in str(info.value)


def test_a_large_import_refreshes_the_planner_statistics(program, monkeypatch):
    from django.db import connection

    import portal.statistics

    monkeypatch.setattr(portal.statistics, "ANALYZE_AFTER_ROWS", 2)
    file = [[f"SO-{n}", "2017-03-01", "partner", "P1", "Dupont SA", "FR", "", "", "1", "server", "SKU", "", "1",
             "10.00", "", "", ""] for n in range(3)]  # fmt: skip
    postgresql_path(csv_of(file))
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'deals_orderline'")
        assert cursor.fetchone()[0] == 3


# Each column's cells, sound and wrong in every way a field rule (``row_problems``) tells apart: the set-based path
# checks them in SQL, and must give the Python rules' messages, in their order, and book the same rows.
CELLS = {
    "order_number": ["SO-1", "SO-2", "SO-3", "SO-1", "", "A" * 51, "-x", "A//B", "SO 1", "É1", "a/b.c_d-1"],
    "booked_on": ["2017-06-15", "2017-06-15", "2016-02-29", "2017-02-29", "0000-01-01", "2017-13-01", "2017-00-10",
                  "2017-01-00", "2017-6-15", "", "٢٠١٧-06-15", "2017-06-15x"],
    "channel": ["partner", "partner", "direct", "", "Partner", "channel"],
    "partner_code": ["P1", "P1", "P2", "", "P9"],
    "customer_name": ["Dupont SA", "Dupont SA", "Énergie N.V.", "", "x" * 256, "x" * 255],
    "customer_country": ["FR", "FR", "BE", "", "ZZ", "fr", "UK"],
    "customer_vat": ["", "FR123456789", "FR", "12-3456789", "1" * 51, "FR 12 345!", "FR12345678901234567890"],
    "customer_domain": ["", "dupont.fr", "www.dupont.fr", "localhost", "-a.com", "bücher.de", "a" * 250 + ".com",
                        "http://x.y/z"],
    "line_number": ["1", "2", "3", "0", "-1", "1.5", "", "1٢", "999999999", "1234567890", "01"],
    "product_line": ["server", "storage", "services", "", "Server", "hardware"],
    "sku": ["SKU", "SKU", "", "s" * 80, "s" * 81],
    "description": ["", "d", "d" * 255, "d" * 256, "tab\there", "back\\slash", "new\nline", 'quote " and , comma'],
    "quantity": ["1", "3", "0", "x", "", "1000000000"],
    "net_amount": ["10.00", "10.00", "-5.5", "0", "0.00", "1000000000.00", "1000000000.01", "-1000000000.01", "1e3",
                   "10.001", "", "5000000000.00", "9999999999999", "99999999999999", ".5", "+1", "1,5"],
    "service_delivery": ["", "", "resold", "partner_delivered", "other"],
    "registration_number": ["", "", "DR-1", "DR-404"],
    "credits_order_number": ["", "", "", "SO-1", "SO-2", "bad number!", "SO-404", "-x"],
}  # fmt: skip


@st.composite
def bad_rows(draw):
    """A few rows whose every cell is drawn from ``CELLS``: mostly sound, each column wrong now and then."""
    out = []
    for _ in range(draw(st.integers(1, 6))):
        out.append([draw(st.sampled_from(CELLS[column])) for column in ORDER_HEADER])
    if draw(st.booleans()):
        out.append(["SO-9", "2017-06-15"])  # a malformed row (column count) is reported with the others
    return out


def quoted_csv_of(lines) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(ORDER_HEADER)
    writer.writerows(lines)
    return text.getvalue().encode()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file=bad_rows())
def test_the_field_rules_in_sql_give_the_python_rules_messages_and_rows(program, file):
    reference = outcome(python_path, quoted_csv_of(file))
    event("rejected" if reference[0][0] == "rejected" else "imported")
    assert outcome(postgresql_path, quoted_csv_of(file)) == reference


def test_every_field_rule_is_reported_in_the_python_order_on_one_row(program):
    """One row breaking every field rule at once: all its messages, in the Python rules' order."""
    row = ["-x", "2017-02-30", "other", "P9", "", "ZZ", "FR", "localhost", "0", "hardware", "", "d" * 256, "x",
           "1e3", "resold", "", "bad number!"]  # fmt: skip
    reference = outcome(python_path, quoted_csv_of([row]))
    assert reference[0][0] == "rejected" and len(reference[0][1]) == 16
    assert outcome(postgresql_path, quoted_csv_of([row])) == reference
