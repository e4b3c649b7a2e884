"""orders.csv: every rule rejects the whole file with the line and reason; a clean file imports once."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from deals.imports import ORDER_HEADER
from deals.models import Customer, Order, OrderLine
from portal.csvimport import ImportRejected, import_file
from portal.models import ImportRun
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db
HEADER = ",".join(ORDER_HEADER)


def line(number="SO1", booked="2017-03-01", channel="partner", partner="P1", customer="Dupont SA", country="FR",
         vat="FR1", domain="", line_number="1", product="server", sku="SKU-1", description="server", quantity="1",
         amount="1000.00", delivery="", registration="", credits=""):  # fmt: skip
    return ",".join([number, booked, channel, partner, customer, country, vat, domain, line_number, product, sku,
                     description, quantity, amount, delivery, registration, credits])  # fmt: skip


def csv_bytes(*rows, header=HEADER):
    return ("\n".join([header, *rows]) + "\n").encode()


def run(data):
    return import_file(kind="orders", data=data, name="orders.csv")


@pytest.fixture
def partner():
    return PartnerFactory(code="P1")


def rejected(data) -> list[tuple[int, str]]:
    with pytest.raises(ImportRejected) as info:
        run(data)
    assert Order.objects.count() == 0 and OrderLine.objects.count() == 0 and Customer.objects.count() == 0
    assert ImportRun.objects.filter(status="rejected").count() == 1
    return info.value.errors


def test_a_clean_file_books_orders_lines_and_customers(partner):
    run(csv_bytes(line(), line(line_number="2", product="services", amount="50.10", delivery="resold"),
                  line(number="SO2", channel="direct", partner="", customer="Dupont", vat="FR1")))  # fmt: skip
    assert Order.objects.count() == 2
    assert Customer.objects.count() == 1  # same VAT → same customer
    services = OrderLine.objects.get(product_line="services")
    assert services.net_amount == Decimal("50.10")
    assert (services.partner, services.booked_on.isoformat(), services.channel) == (partner, "2017-03-01", "partner")
    assert ImportRun.objects.get(status="applied").created == 3


def test_importing_the_same_file_twice_changes_nothing(partner):
    data = csv_bytes(line(), line(line_number="2", product="storage"))
    run(data)
    before = list(OrderLine.objects.values_list("pk", "net_amount", "order__number"))
    second = run(data)
    assert (second.created, second.unchanged) == (0, 2)
    assert list(OrderLine.objects.values_list("pk", "net_amount", "order__number")) == before


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (dict(booked="2017-02-30"), "booked_on"),
        (dict(booked="01/03/2017"), "booked_on"),
        (dict(amount='"12,50"'), "net_amount"),
        (dict(amount="12.345"), "net_amount"),
        (dict(amount="0.00"), "must not be zero"),
        (dict(amount="-5.00"), "negative only on a credit"),
        (dict(product="laptops"), "product_line"),
        (dict(partner="NOPE"), "unknown partner"),
        (dict(channel="web"), "channel"),
        (dict(channel="direct"), "must be blank on a direct order"),
        (dict(partner=""), "required on a partner order"),
        (dict(quantity="0"), "quantity"),
        (dict(quantity="1.5"), "quantity"),
        (dict(country="France"), "customer_country"),
        (dict(delivery="resold"), "service_delivery"),
        (dict(product="services"), "service_delivery"),
        (dict(registration="DR-404"), "unknown registration"),
        (dict(credits="SO404", amount="-10.00"), "unknown order"),
        # Hostile or absurd input (issue 10, items 9, 12, 13, 14).
        (dict(country="ZZ"), "customer_country"),
        (dict(country="UK"), "customer_country"),  # reserved: the United Kingdom is GB
        (dict(vat="!!!"), "customer_vat"),
        (dict(vat="FR"), "customer_vat"),
        (dict(domain='"not a domain!!"'), "customer_domain"),
        (dict(domain="localhost"), "customer_domain"),
        (dict(number="SO 7"), "order_number"),
        (dict(number="-SO7"), "order_number"),
        (dict(number="SO7/"), "order_number"),
        (dict(number="SO//7"), "order_number"),
        (dict(number="SO/../7"), "order_number"),
        (dict(number="SO7?x=1"), "order_number"),
        (dict(number="S" * 51), "order_number"),
        (dict(credits="SO 1", amount="-10.00"), "credits_order_number"),
        (dict(amount="٣٤٥.٠٠"), "net_amount"),  # Arabic-Indic digits are not an amount
        (dict(quantity="1٢"), "quantity"),  # nor a quantity (int() would read 12)
        (dict(line_number="１"), "line_number"),
        (dict(amount="1000000000.01"), "more than 1,000,000,000.00 on one line"),
        (dict(amount="9999999999999.99"), "on one line"),
    ],
)
def test_each_bad_value_rejects_the_file_with_line_and_reason(partner, row, reason):
    errors = rejected(csv_bytes(line(number="SO0"), line(**row)))
    assert [number for number, _message in errors] == [3]
    assert reason in errors[0][1]


@pytest.mark.parametrize("number", ["SO-2017-0001", "PO/2017/12", "4500012345", "INV.77_B", "a" * 50])
def test_order_numbers_as_order_systems_write_them_are_accepted(partner, number):
    run(csv_bytes(line(number=number)))
    assert Order.objects.get().number == number


def test_the_largest_amounts_are_accepted_up_to_the_limits(partner):
    run(csv_bytes(*(line(line_number=str(n), amount="1000000000.00") for n in range(1, 11))))
    assert OrderLine.objects.count() == 10


def test_an_order_adding_up_to_more_than_the_maximum_is_rejected_at_the_line_that_crosses_it(partner):
    rows = [line(line_number=str(n), amount="1000000000.00") for n in range(1, 12)]
    errors = rejected(csv_bytes(*rows, line(number="SO2", amount="5.00")))
    assert errors == [(12, "order SO1: its lines add up to more than 10,000,000,000.00")]


def test_the_amount_limits_fit_the_columns_that_hold_them():
    """An accepted order can always be stored as a line amount and as a routing case's order total."""
    from deals.imports import MAX_LINE_AMOUNT, MAX_ORDER_TOTAL
    from deals.models import RoutingCase

    for model, name, limit in [
        (OrderLine, "net_amount", MAX_LINE_AMOUNT),
        (RoutingCase, "order_total", MAX_ORDER_TOTAL),
    ]:
        column = model._meta.get_field(name)
        assert limit < Decimal(10) ** (column.max_digits - column.decimal_places)
    assert MAX_LINE_AMOUNT <= MAX_ORDER_TOTAL


def test_a_row_with_a_wrong_column_count_does_not_hide_the_other_rows_errors(partner):
    errors = rejected(csv_bytes(line(), "SO9,2017-03-01,partner", line(number="SO3", booked="x"), line(number="SO4")))
    assert [number for number, _message in errors] == [3, 4]
    assert "expected 17 columns, found 3" in errors[0][1] and "booked_on" in errors[1][1]


def test_a_nul_character_in_a_cell_is_an_error_of_its_line(partner):
    errors = rejected(csv_bytes(line(), line(number="SO2", sku="SKU\x00"), line(number="SO3", booked="x")))
    assert errors == [(3, "a cell contains a NUL character"), (4, errors[1][1])]
    assert "booked_on" in errors[1][1]


def test_an_unterminated_quote_still_reports_the_rows_before_it(partner):
    errors = rejected(csv_bytes(line(booked="x"), line(number="SO2", customer='"Dupont'), line(number="SO3")))
    assert errors[0][0] == 2 and "booked_on" in errors[0][1]
    assert any("malformed CSV" in message for _line, message in errors[1:])


def test_every_bad_row_is_reported_not_only_the_first(partner):
    errors = rejected(csv_bytes(line(booked="x"), line(number="SO2", amount="1.001"), line(number="SO3", product="pc")))
    assert [number for number, _message in errors] == [2, 3, 4]


def test_wrong_header_rejects_the_file(partner):
    errors = rejected(csv_bytes(line(), header=HEADER.replace("net_amount", "amount")))
    assert errors[0][0] == 1 and "header must be exactly" in errors[0][1]


def test_a_file_that_is_not_utf8_is_rejected(partner):
    data = csv_bytes(line(customer="Société")).replace("é".encode(), "é".encode("latin-1"))
    errors = rejected(data)
    assert "not valid UTF-8" in errors[0][1]


def test_a_utf8_bom_is_accepted(partner):
    run(b"\xef\xbb\xbf" + csv_bytes(line()))
    assert Order.objects.count() == 1


def test_a_duplicate_line_in_the_file_is_rejected(partner):
    errors = rejected(csv_bytes(line(), line()))
    assert errors == [(3, "duplicate line: order SO1 line 1 is also on line 2")]


def test_lines_of_one_order_must_repeat_the_same_order_fields(partner):
    errors = rejected(csv_bytes(line(), line(line_number="2", booked="2017-03-02")))
    assert errors[0][0] == 3 and "booked_on differ from line 2" in errors[0][1]


def test_a_row_contradicting_an_imported_line_is_an_error_and_imports_nothing_else(partner):
    run(csv_bytes(line()))
    with pytest.raises(ImportRejected) as info:
        run(csv_bytes(line(number="SO9"), line(amount="999.00")))
    assert "already booked with other values" in info.value.errors[0][1]
    assert not Order.objects.filter(number="SO9").exists()
    assert OrderLine.objects.get().net_amount == Decimal("1000.00")


def test_a_new_line_on_a_booked_order_is_refused(partner):
    run(csv_bytes(line()))
    with pytest.raises(ImportRejected) as info:
        run(csv_bytes(line(line_number="2")))
    assert "booked orders are never edited" in info.value.errors[0][1]


def test_credits_name_an_order_of_the_same_partner_customer_and_product_line(partner):
    PartnerFactory(code="P2")
    run(csv_bytes(line()))
    for bad, reason in [
        (line(number="CR1", credits="SO1", amount="-10.00", product="storage"), "no storage line"),
        (line(number="CR1", credits="SO1", amount="-10.00", partner="P2"), "same partner and customer"),
        (line(number="CR1", credits="SO1", amount="-10.00", customer="Other", vat="FR2"), "same partner and customer"),
        (line(number="CR1", credits="SO1", amount="10.00"), "must be negative"),
    ]:
        with pytest.raises(ImportRejected) as info:
            run(csv_bytes(bad))
        assert reason in info.value.errors[0][1]
    run(csv_bytes(line(number="CR1", credits="SO1", amount="-10.00")))
    credit = OrderLine.objects.get(order__number="CR1")
    assert credit.credited_order.number == "SO1" and credit.net_amount == Decimal("-10.00")


def test_a_credit_may_name_an_order_of_the_same_file(partner):
    run(csv_bytes(line(), line(number="CR1", credits="SO1", amount="-10.00")))
    assert OrderLine.objects.get(order__number="CR1").credited_order.number == "SO1"


def test_spellings_of_one_company_become_one_customer(partner):
    run(csv_bytes(
        line(number="A", customer="Établissements Dupont 7007 SARL", vat=""),
        line(number="B", customer="\"établissements dupont 7007, SARL\"", vat=""),
        line(number="C", customer="ETABLISSEMENTS DUPONT 7007", vat=""),
        line(number="D", customer="ETABLISSEMENTS DUPONT 7007", country="BE", vat=""),
    ))  # fmt: skip
    assert Customer.objects.count() == 2


def test_a_legal_form_is_dropped_only_at_the_end_of_the_name(partner):
    """DESIGN §4 (settled): "NV Energy" keeps its NV, so it is not "Energy Inc"; "Energy N.V." is."""
    run(csv_bytes(
        line(number="A", customer="NV Energy", country="US", vat=""),
        line(number="B", customer="Energy Inc", country="US", vat=""),
        line(number="C", customer="Energy N.V.", country="US", vat=""),
    ))  # fmt: skip
    customer_of = {order.number: order.customer for order in Order.objects.select_related("customer")}
    assert customer_of["A"] != customer_of["B"]
    assert customer_of["B"] == customer_of["C"]
    assert Customer.objects.get(pk=customer_of["A"].pk).name_key == "nv energy"


def test_the_command_exits_non_zero_with_the_report(tmp_path, partner):
    path = tmp_path / "orders.csv"
    path.write_bytes(csv_bytes(line(booked="2017-13-01")))
    with pytest.raises(CommandError) as info:
        call_command("import_orders", str(path))
    assert "line 2: booked_on" in str(info.value)
    assert "nothing was imported" in str(info.value)


def test_the_amount_is_kept_as_the_file_wrote_it(partner):
    run(csv_bytes(line(amount="89704"), line(line_number="2", amount="253275.3"), line(line_number="3", amount="7.00")))
    texts = list(OrderLine.objects.order_by("line_number").values_list("net_amount_source", flat=True))
    assert texts == ["89704", "253275.3", "7.00"]
    assert OrderLine.objects.get(line_number=1).net_amount == Decimal("89704.00")
