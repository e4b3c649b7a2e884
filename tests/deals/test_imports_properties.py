"""Properties of the orders import over random files (Hypothesis): importing a file in parts gives what importing
it at once gives, and importing anything again changes nothing (DESIGN §7)."""

from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deals.imports import ORDER_HEADER
from deals.models import Customer, OrderLine
from portal.csvimport import import_file
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

SPELLINGS = ["Dupont SA", "DUPONT", "Dupont S.A.R.L.", "NV Energy", "Energy Inc", "Energy N.V."]
PRODUCT_LINES = ["server", "storage", "networking", "services"]
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)


@st.composite
def order_files(draw):
    """Rows of 1–6 orders; some later orders credit an earlier one of the same partner and customer."""
    orders = []
    for index in range(draw(st.integers(1, 6))):
        credited = draw(st.sampled_from([None, *orders])) if orders and draw(st.booleans()) else None
        if credited is None:
            lines = draw(st.lists(st.sampled_from(PRODUCT_LINES), min_size=1, max_size=3, unique=True))
            order = {
                "number": f"SO-{index}",
                "partner": draw(st.sampled_from(["P1", "P2"])),
                "customer": draw(st.sampled_from(SPELLINGS)),
                "lines": [(product_line, draw(amounts)) for product_line in lines],
                "credits": "",
            }
        else:
            product_line = draw(st.sampled_from([line for line, _amount in credited["lines"]]))
            order = {**credited, "number": f"CR-{index}", "credits": credited["number"],
                     "lines": [(product_line, -draw(amounts))]}  # fmt: skip
        orders.append(order)
    return orders


def csv_of(orders) -> bytes:
    rows = [",".join(ORDER_HEADER)]
    for order in orders:
        for line_number, (product_line, amount) in enumerate(order["lines"], start=1):
            delivery = "resold" if product_line == "services" else ""
            rows.append(",".join([order["number"], "2017-03-01", "partner", order["partner"], order["customer"], "FR",
                                  "", "", str(line_number), product_line, "SKU", "", "1", f"{amount:.2f}", delivery,
                                  "", order["credits"]]))  # fmt: skip
    return ("\n".join(rows) + "\n").encode()


def booked() -> list[tuple]:
    """Everything the imports wrote, without database ids."""
    return sorted(
        OrderLine.objects.values_list(
            "order__number",
            "order__partner__code",
            "order__customer__name_key",
            "line_number",
            "product_line",
            "net_amount",
            "credited_order__number",
            "partner__code",
        )
    )


def run(data: bytes):
    return import_file(kind="orders", data=data, name="orders.csv")


@pytest.fixture
def partners():
    return [PartnerFactory(code="P1"), PartnerFactory(code="P2")]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=order_files(), cut=st.integers(0, 6))
def test_a_file_imported_in_parts_or_again_books_what_it_books_at_once(partners, orders, cut):
    with transaction.atomic():
        whole = run(csv_of(orders))
        at_once, customers = booked(), Customer.objects.count()
        transaction.set_rollback(True)
    assert whole.created == sum(len(order["lines"]) for order in orders)

    with transaction.atomic():
        first, second = orders[:cut], orders[cut:]  # a credit comes after the order it credits
        for part in (first, second):
            if part:
                run(csv_of(part))
        assert booked() == at_once and Customer.objects.count() == customers
        again = run(csv_of(orders))
        assert (again.created, again.unchanged) == (0, whole.created)
        assert booked() == at_once and Customer.objects.count() == customers
        transaction.set_rollback(True)
