"""The stages of the orders import, each on its own: parse, resolve customers, resolve lines, check, write."""

from datetime import date
from decimal import Decimal

import pytest

from deals.imports import (
    ORDER_HEADER,
    booked_orders,
    check_against_booked,
    order_problems,
    parse_rows,
    registrations_named,
    resolve_customers,
    resolve_lines,
    row_problems,
    write_plan,
)
from deals.models import Customer, Order, OrderLine
from portal.csvimport import RowErrors
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

CLEAN = {
    "order_number": "SO1",
    "booked_on": "2017-03-01",
    "channel": "partner",
    "partner_code": "P1",
    "customer_name": "Dupont SA",
    "customer_country": "FR",
    "customer_vat": "",
    "customer_domain": "",
    "line_number": "1",
    "product_line": "server",
    "sku": "SKU-1",
    "description": "server",
    "quantity": "2",
    "net_amount": "1000.50",
    "service_delivery": "",
    "registration_number": "",
    "credits_order_number": "",
}
assert list(CLEAN) == ORDER_HEADER


def row(**changes) -> dict[str, str]:
    return {**CLEAN, **changes}


def numbered(*rows) -> list[tuple[int, dict[str, str]]]:
    return [(line, values) for line, values in enumerate(rows, start=2)]


@pytest.fixture
def partner():
    return PartnerFactory(code="P1")


def stages(rows, partners):
    """Run parse → resolve → check on ``rows``; return the plan and the errors."""
    errors = RowErrors()
    parsed = parse_rows(numbered(*rows), partner_codes=set(partners), errors=errors)
    customers = resolve_customers(parsed)
    booked = booked_orders(parsed)
    resolved = resolve_lines(
        parsed,
        partners=partners,
        customers=customers.of,
        booked=booked,
        registrations=registrations_named(parsed),
        errors=errors,
    )
    return check_against_booked(resolved, booked=booked, new_customers=customers.new, errors=errors), errors


class TestParse:
    def test_a_clean_row_has_no_problem_and_is_typed(self):
        assert row_problems(CLEAN, partner_codes={"P1"}) == []
        errors = RowErrors()
        [parsed] = parse_rows(numbered(CLEAN), partner_codes={"P1"}, errors=errors)
        assert errors.errors == []
        assert (parsed.line, parsed.booked_on, parsed.quantity, parsed.net_amount) == (
            2,
            date(2017, 3, 1),
            2,
            Decimal("1000.50"),
        )

    def test_problems_of_one_row_are_all_listed(self):
        problems = row_problems(row(booked_on="x", customer_country="ZZ", quantity="0"), partner_codes={"P1"})
        assert [problem.split(":")[0] for problem in problems] == ["booked_on", "customer_country", "quantity"]

    def test_rows_taken_together_agree_on_the_order_fields_and_line_numbers(self):
        problems = order_problems(numbered(CLEAN, row(line_number="2", booked_on="2017-03-02"), CLEAN))
        assert problems == {
            3: ["order SO1: booked_on differ from line 2"],
            4: ["duplicate line: order SO1 line 1 is also on line 2"],
        }

    def test_a_row_with_a_problem_is_not_parsed_and_the_others_are(self):
        errors = RowErrors()
        parsed = parse_rows(numbered(row(sku=""), row(order_number="SO2")), partner_codes={"P1"}, errors=errors)
        assert [item.number for item in parsed] == ["SO2"]
        assert errors.errors == [(2, "sku: required, at most 80 characters")]


class TestResolveCustomers:
    def test_spellings_of_one_new_company_become_one_unsaved_customer(self):
        errors = RowErrors()
        parsed = parse_rows(
            numbered(CLEAN, row(order_number="SO2", customer_name="DUPONT, S.A.")), partner_codes={"P1"}, errors=errors
        )
        resolution = resolve_customers(parsed)
        assert len(resolution.new) == 1 and resolution.new[0].pk is None
        assert all(customer is resolution.new[0] for customer in resolution.of.values())
        assert len(resolution.of) == 2  # two identities, one company

    def test_an_existing_customer_is_matched_not_created(self):
        existing = Customer.objects.create(name="Dupont", country="FR")
        parsed = parse_rows(numbered(CLEAN), partner_codes={"P1"}, errors=RowErrors())
        resolution = resolve_customers(parsed)
        assert resolution.new == [] and list(resolution.of.values()) == [existing]


class TestResolveLines:
    def test_a_credit_of_an_order_of_the_same_file_names_it(self, partner):
        plan, errors = stages(
            [CLEAN, row(order_number="CR1", net_amount="-10.00", credits_order_number="SO1")], {"P1": partner}
        )
        assert errors.errors == []
        assert [(line.row.number, line.credited_number) for line in plan.lines] == [("SO1", ""), ("CR1", "SO1")]
        assert plan.credited_ids == {}  # nothing booked is credited

    def test_a_credit_of_another_customer_or_a_missing_product_line_is_an_error(self, partner):
        _plan, errors = stages(
            [
                CLEAN,
                row(order_number="CR1", net_amount="-1.00", credits_order_number="SO1", customer_name="Other"),
                row(order_number="CR2", net_amount="-1.00", credits_order_number="SO1", product_line="storage"),
            ],
            {"P1": partner},
        )
        assert errors.errors == [
            (3, "credits_order_number: order SO1 is not of the same partner and customer"),
            (4, "credits_order_number: order SO1 has no storage line to credit"),
        ]

    def test_a_direct_credit_of_a_routed_order_counts_for_the_partner_that_accepted_it(self, partner):
        direct = row(channel="direct", partner_code="")
        write_plan(stages([direct], {})[0])
        Order.objects.update(partner=partner)  # as an accepted routing leaves it
        credit = {**direct, "order_number": "CR1", "net_amount": "-5.00", "credits_order_number": "SO1"}
        plan, errors = stages([credit], {})
        assert errors.errors == []
        assert plan.lines[0].partner == partner
        assert plan.credited_ids == {"SO1": Order.objects.get(number="SO1").pk}


class TestCheckAgainstBooked:
    def test_a_booked_line_sent_again_is_unchanged_and_a_different_one_is_an_error(self, partner):
        write_plan(stages([CLEAN], {"P1": partner})[0])
        plan, errors = stages([CLEAN], {"P1": partner})
        assert (plan.unchanged, plan.lines, errors.errors) == (1, [], [])
        _plan, errors = stages([row(net_amount="999.00"), row(line_number="2")], {"P1": partner})
        assert errors.errors == [
            (2, "order SO1 line 1 is already booked with other values"),
            (3, "order SO1 is already booked without line 2; booked orders are never edited (send a credit instead)"),
        ]


class TestWrite:
    def test_the_plan_is_written_with_its_customers_orders_and_credited_orders(self, partner):
        plan, errors = stages(
            [CLEAN, row(order_number="CR1", net_amount="-10.00", credits_order_number="SO1")], {"P1": partner}
        )
        assert errors.errors == [] and plan.order_count == 2
        assert write_plan(plan) == 2
        credit = OrderLine.objects.get(order__number="CR1")
        assert credit.credited_order == Order.objects.get(number="SO1")
        assert (credit.customer, credit.partner, credit.net_amount) == (Customer.objects.get(), partner, Decimal("-10"))
