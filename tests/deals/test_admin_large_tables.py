"""Admin changelists over the big tables never count the whole table: counts are bounded by a LIMIT, the
search shows no full total, and the order totals are computed for the page's rows only."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.admin_mixins import CappedCountPaginator
from tests.factories import PartnerFactory, UserFactory
from tests.factories.orders import CustomerFactory, OrderFactory, OrderLineFactory

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "admin:deals_order_changelist",
    "admin:deals_orderline_changelist",
    "admin:deals_customer_changelist",
    "admin:deals_channellock_changelist",
    "admin:deals_channellockevent_changelist",
]


@pytest.fixture
def orders(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    partner = PartnerFactory(code="P1")
    made = []
    for n in range(5):
        order = OrderFactory(partner=partner, number=f"SO-{n}")
        OrderLineFactory(order=order, line_number=1, net_amount=Decimal("100.00"))
        OrderLineFactory(order=order, line_number=2, net_amount=Decimal(f"{n}.50"))
        made.append(order)
    return made


def unbounded_counts(queries) -> list[str]:
    """The counting queries (``SELECT COUNT(*) …``) that are not bounded by a ``LIMIT``."""
    counts = [q["sql"] for q in queries if re.match(r"\s*SELECT COUNT\(", q["sql"], re.I)]
    assert counts, "a changelist counts its rows (bounded): the check below would pass vacuously otherwise"
    return [sql for sql in counts if " LIMIT " not in sql.upper()]


@pytest.mark.parametrize("name", CHANGELISTS)
@pytest.mark.parametrize("params", [{}, {"q": "SO"}])
def test_no_changelist_counts_a_whole_table(client, orders, name, params):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse(name), params)
    assert response.status_code == 200
    assert unbounded_counts(captured.captured_queries) == []


def test_the_order_changelist_shows_each_orders_lines_and_total_and_pages_up_to_the_cap(client, orders, monkeypatch):
    page = client.get(reverse("admin:deals_order_changelist")).content.decode()
    assert "5 orders" in page
    assert "104.50" in page and "100.50" in page  # each order's own total, from its two lines
    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    capped = client.get(reverse("admin:deals_order_changelist")).content.decode()
    assert "3 orders" in capped  # counted up to the cap, never the whole table
    searched = client.get(reverse("admin:deals_order_changelist"), {"q": "SO-4"}).content.decode()
    assert "1 order" in searched and "104.50" in searched and "total)" not in searched


def test_the_order_search_finds_by_number_customer_and_partner_each_word_anywhere(client, orders):
    other = OrderFactory(
        partner=PartnerFactory(code="Q9", name="Northwind Reseller"),
        customer=CustomerFactory(name="Zephyrine Industries"),
        number="XO-77",
    )
    OrderLineFactory(order=other, line_number=1, net_amount=Decimal("5.00"))

    def found(term):
        response = client.get(reverse("admin:deals_order_changelist"), {"q": term})
        return {order.number for order in response.context["cl"].result_list}

    assert found("SO-3") == {"SO-3"}
    assert found("p1") == {order.number for order in orders}  # a partner code, whatever its case
    assert found("northwind") == {"XO-77"} == found("Northwind XO")  # words ANDed, each in any field
    assert found("zephyrine") == {"XO-77"} and found("SO-3 Northwind") == set()


def test_a_word_naming_many_customers_is_checked_on_the_rows_with_the_same_answers(client, orders, monkeypatch):
    from deals import admin as deals_admin

    other = OrderFactory(
        partner=PartnerFactory(code="Q9", name="Northwind Reseller"),
        customer=CustomerFactory(name="Zephyrine Industries"),
        number="XO-77",
    )
    OrderLineFactory(order=other, line_number=1, net_amount=Decimal("5.00"))

    def found(term):
        response = client.get(reverse("admin:deals_order_changelist"), {"q": term})
        return {order.number for order in response.context["cl"].result_list}

    def on_rows(captured):  # the customer's name tested on the order rows' join, not in a subquery of ids
        like = re.compile(r'"deals_customer"\."name"(::text\))? LIKE')  # SQLite / PostgreSQL's icontains
        return any(like.search(q["sql"]) for q in captured.captured_queries if 'FROM "deals_order"' in q["sql"])

    terms = ["SO-3", "p1", "northwind", "Northwind XO", "zephyrine", "SO-3 Northwind", "industries q9"]
    with CaptureQueriesContext(connection) as captured:
        by_ids = {term: found(term) for term in terms}
    assert not on_rows(captured)
    monkeypatch.setattr(deals_admin, "SEARCH_DENSE_NAMES", 1)  # every word is dense: checked on the rows
    with CaptureQueriesContext(connection) as captured:
        assert {term: found(term) for term in terms} == by_ids
    assert on_rows(captured)
    assert by_ids["industries q9"] == {"XO-77"} and by_ids["SO-3 Northwind"] == set()


def test_a_search_is_counted_up_to_a_tenth_of_the_cap(client, orders, monkeypatch):
    from deals.admin import OrderAdmin

    monkeypatch.setattr(OrderAdmin, "search_count_cap", 2)
    searched = client.get(reverse("admin:deals_order_changelist"), {"q": "SO"})
    assert searched.context["cl"].result_count == 2 < len(orders)  # counted up to the search cap
    assert client.get(reverse("admin:deals_order_changelist")).context["cl"].result_count == len(orders)


def test_an_exact_order_number_is_found_alone_before_any_partial_match(client, orders):
    longer = OrderFactory(partner=orders[0].partner, number="SO-10")
    OrderLineFactory(order=longer, line_number=1, net_amount=Decimal("1.00"))

    def found(term):
        response = client.get(reverse("admin:deals_order_changelist"), {"q": term})
        return {order.number for order in response.context["cl"].result_list}

    assert found("SO-1") == {"SO-1"}  # not SO-10, which also contains it
    assert found("so-1") == {"SO-1", "SO-10"}  # no exact number: each word anywhere, as before
    assert found("SO-10") == {"SO-10"}


def test_the_capped_count_reads_ids_only_not_the_pages_totals(client, orders):
    with CaptureQueriesContext(connection) as captured:
        client.get(reverse("admin:deals_order_changelist"), {"q": "SO"})
    counts = [q["sql"] for q in captured.captured_queries if re.match(r"\s*SELECT COUNT\(", q["sql"], re.I)]
    assert counts and all("SUM(" not in sql.upper() and "ORDER BY" not in sql.upper() for sql in counts), counts


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes exist on PostgreSQL only")
def test_the_order_search_names_are_served_by_trigram_indexes():
    """Migration 0010 created pg_trgm GIN indexes on the very expression Django's icontains compares."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE %s ORDER BY 1", ["%_trgm"])
        assert [row[0] for row in cursor.fetchall()] == [
            "deals_customer_name_trgm",
            "deals_order_number_trgm",
            "partners_partner_name_trgm",
        ]
        from deals.models import Customer

        query, params = Customer.objects.filter(name__icontains="zephyr").values("pk").query.sql_with_params()
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test table is tiny: show the index can serve it
        cursor.execute(f"EXPLAIN {query}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "deals_customer_name_trgm" in plan, plan
