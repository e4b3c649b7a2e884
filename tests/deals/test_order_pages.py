"""The partner's Orders pages: filters, sorting, CSV export, scoping to the user's partner, bounded queries."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import MembershipFactory, PartnerFactory, UserFactory
from tests.factories.deals_pages import CustomerFactory, OrderFactory, OrderLineFactory

pytestmark = pytest.mark.django_db
LIST = reverse("deals:order_list")


def detail(number):
    return reverse("deals:order_detail", kwargs={"number": number})


def book(partner, number, *lines, booked_on=date(2017, 3, 1), customer=None, **order_fields):
    """Book order ``number`` with ``lines`` given as ``(product_line, amount)``; return the order."""
    order = OrderFactory(
        partner=partner, number=number, booked_on=booked_on, customer=customer or CustomerFactory(), **order_fields
    )
    for index, (product_line, amount) in enumerate(lines or [("server", "1000.00")], start=1):
        OrderLineFactory(order=order, line_number=index, product_line=product_line, net_amount=Decimal(amount))
    return order


def rows(response) -> list:
    return [row.record for row in response.context["table"].page.object_list]


def numbers(response) -> list[str]:
    return [order.number for order in rows(response)]


def export(client, query="") -> list[dict]:
    response = client.get(f"{LIST}?export=csv{query}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def member(client):
    membership = MembershipFactory(role="finance")
    client.force_login(membership.user)
    return membership


@pytest.fixture
def partner(member):
    return member.partner


def test_the_list_shows_one_row_per_order_with_its_total_line_count_and_product_lines(client, partner):
    book(partner, "SO-1", ("server", "1000.00"), ("storage", "250.50"), ("server", "10.00"))
    response = client.get(LIST)
    assert response.status_code == 200
    [row] = rows(response)
    assert (row.number, row.total, row.line_count) == ("SO-1", Decimal("1260.50"), 3)
    assert sorted(row.product_lines.split(",")) == ["server", "storage"]
    assert b"Server, Storage" in response.content


@pytest.mark.parametrize("role", ["admin", "sales", "finance"])
def test_every_partner_role_sees_the_orders(client, role):
    membership = MembershipFactory(role=role)
    book(membership.partner, "SO-1")
    client.force_login(membership.user)
    assert numbers(client.get(LIST)) == ["SO-1"]
    assert client.get(detail("SO-1")).status_code == 200


def test_staff_without_a_partner_is_refused(client):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(LIST).status_code == 403
    assert client.get(detail("SO-1")).status_code == 403


def test_anonymous_users_are_sent_to_the_login(client):
    assert client.get(LIST).status_code == 302


def test_filter_by_booked_date_range_includes_both_ends(client, partner):
    book(partner, "FEB", booked_on=date(2017, 2, 28))
    book(partner, "MAR1", booked_on=date(2017, 3, 1))
    book(partner, "MAR31", booked_on=date(2017, 3, 31))
    book(partner, "APR", booked_on=date(2017, 4, 1))
    response = client.get(LIST, {"booked_from": "2017-03-01", "booked_to": "2017-03-31"})
    assert sorted(numbers(response)) == ["MAR1", "MAR31"]


def test_filter_by_product_line_keeps_the_whole_order_total(client, partner):
    book(partner, "MIXED", ("server", "100.00"), ("storage", "50.00"), ("storage", "25.00"))
    book(partner, "SERVER", ("server", "100.00"))
    [row] = rows(client.get(LIST, {"product_line": "storage"}))
    # An EXISTS filter: the order's total and line count are not multiplied by its matching lines.
    assert (row.number, row.total, row.line_count) == ("MIXED", Decimal("175.00"), 3)


def test_filter_by_customer_name_and_order_number(client, partner):
    book(partner, "SO-100", customer=CustomerFactory(name="Établissements Dupont SARL"))
    book(partner, "SO-200", customer=CustomerFactory(name="Martin GmbH"))
    assert numbers(client.get(LIST, {"customer": "dupont"})) == ["SO-100"]
    assert numbers(client.get(LIST, {"number": "200"})) == ["SO-200"]


def test_an_invalid_filter_shows_the_error_and_no_orders(client, partner):
    book(partner, "SO-1")
    response = client.get(LIST, {"booked_from": "not-a-date"})
    assert response.status_code == 200
    assert numbers(response) == []
    assert b"Enter a valid date" in response.content


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("total", ["SMALL", "MID", "BIG"]),
        ("-total", ["BIG", "MID", "SMALL"]),
        ("customer", ["MID", "BIG", "SMALL"]),
        ("booked_on", ["BIG", "SMALL", "MID"]),
        ("number", ["BIG", "MID", "SMALL"]),
        ("-line_count", ["MID", "BIG", "SMALL"]),
    ],
)
def test_columns_sort(client, partner, sort, expected):
    book(partner, "BIG", ("server", "900.00"), booked_on=date(2017, 2, 1), customer=CustomerFactory(name="Beta"))
    book(partner, "SMALL", ("server", "5.00"), booked_on=date(2017, 2, 2), customer=CustomerFactory(name="Gamma"))
    book(partner, "MID", ("server", "100.00"), ("storage", "100.00"), booked_on=date(2017, 2, 3),
         customer=CustomerFactory(name="Alpha"))  # fmt: skip
    assert numbers(client.get(LIST, {"sort": sort})) == expected


def test_the_list_is_paginated_by_25(client, partner):
    for index in range(30):
        book(partner, f"SO-{index:02d}")
    response = client.get(LIST)
    assert len(numbers(response)) == 25
    assert len(numbers(client.get(LIST, {"page": 2}))) == 5


def test_partner_b_never_sees_partner_a_orders(client, partner):
    book(partner, "MINE")
    book(PartnerFactory(), "THEIRS", customer=CustomerFactory(name="Shared customer"))
    assert numbers(client.get(LIST)) == ["MINE"]
    assert [row["order_number"] for row in export(client)] == ["MINE"]
    assert client.get(detail("THEIRS")).status_code == 404
    assert b"Shared customer" not in client.get(LIST, {"customer": "shared"}).content


def test_direct_orders_with_no_partner_are_nobodys(client, partner):
    OrderFactory(number="DIRECT", channel="direct", partner=None)
    assert numbers(client.get(LIST)) == []
    assert client.get(detail("DIRECT")).status_code == 404


def test_csv_export_lists_the_filtered_orders(client, partner):
    book(partner, "SO-1", ("server", "1000.00"), ("services", "99.90"), booked_on=date(2017, 3, 5),
         customer=CustomerFactory(name="Dupont", country="FR"))  # fmt: skip
    book(partner, "SO-2", ("storage", "10.00"), booked_on=date(2017, 5, 1))
    rows = export(client, "&booked_to=2017-03-31")
    assert rows == [
        {
            "order_number": "SO-1",
            "booked_on": "2017-03-05",
            "channel": "partner",
            "customer_name": "Dupont",
            "customer_country": "FR",
            "product_lines": "server services",
            "lines": "2",
            "total": "1099.90",
        }
    ]


def test_csv_export_neutralises_formulas_in_text_but_keeps_negative_amounts_numeric(client, partner):
    original = book(partner, "SO-1", ("server", "10.00"))
    for number, name in [("=1+1", '=HYPERLINK("http://evil")'), ("+SO", "@SUM(A1)"), ("-SO", "\tTab"), ("SO-4", "-10")]:
        book(partner, number, customer=CustomerFactory(name=name))
    credit = OrderFactory(partner=partner, number="CR-1", customer=original.customer)
    OrderLineFactory(order=credit, line_number=1, net_amount=Decimal("-10.00"), credited_order=original)
    rows = {row["order_number"]: row for row in export(client)}
    assert set(rows) == {"SO-1", "'=1+1", "'+SO", "'-SO", "SO-4", "CR-1"}
    assert rows["'=1+1"]["customer_name"] == '\'=HYPERLINK("http://evil")'
    assert rows["'+SO"]["customer_name"] == "'@SUM(A1)"
    assert rows["'-SO"]["customer_name"] == "'\tTab"
    assert rows["SO-4"]["customer_name"] == "'-10"  # text that looks like a number is still text
    assert rows["CR-1"]["total"] == "-10.00"  # an amount is a number, never prefixed


def test_order_detail_shows_facts_lines_total_and_credits(client, partner):
    customer = CustomerFactory(name="Dupont SA", vat="FR123", domain="dupont.fr")
    order = book(partner, "SO-1", ("server", "1000.00"), ("services", "200.00"), customer=customer)
    credit = OrderFactory(partner=partner, number="CR-9", customer=customer, booked_on=date(2017, 4, 2))
    OrderLineFactory(order=credit, line_number=1, net_amount=Decimal("-150.00"), credited_order=order)
    response = client.get(detail("SO-1"))
    assert response.status_code == 200
    shown = response.context["order"]
    assert shown.total == Decimal("1200.00")
    assert [line.line_number for line in shown.order_lines] == [1, 2]
    assert [line.order.number for line in shown.credits] == ["CR-9"]
    content = response.content.decode()
    assert "Dupont SA" in content and "FR123" in content and "dupont.fr" in content
    assert "1,200.00" in content and "Resold (delivered by the vendor)" in content
    assert detail("CR-9") in content
    credit_page = client.get(detail("CR-9")).content.decode()
    assert detail("SO-1") in credit_page  # the credit line links back to the order it credits


def test_list_queries_are_bounded(client, partner, django_assert_max_num_queries):
    for index in range(30):
        book(partner, f"SO-{index:02d}", ("server", "100.00"), ("storage", "50.00"))
    # session, user, membership, count, page — whatever the number of orders and lines
    with django_assert_max_num_queries(5):
        response = client.get(LIST, {"sort": "-total", "product_line": "server"})
    assert len(numbers(response)) == 25
    with django_assert_max_num_queries(4):
        assert len(export(client)) == 30


def test_detail_queries_are_bounded(client, partner, django_assert_max_num_queries):
    order = book(partner, "SO-1", *[("server", "10.00")] * 20)
    for index in range(5):
        credit = OrderFactory(partner=partner, number=f"CR-{index}", customer=order.customer)
        OrderLineFactory(order=credit, line_number=1, net_amount=Decimal("-1.00"), credited_order=order)
    # session, user, membership, order, lines, credits
    with django_assert_max_num_queries(6):
        response = client.get(detail("SO-1"))
    assert response.status_code == 200


# --- Staff admin ------------------------------------------------------------------------------------------------


@pytest.fixture
def staff(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_booked_orders_are_read_only_in_the_admin(client, staff):
    order = book(PartnerFactory(), "SO-1", ("server", "1000.00"), ("storage", "20.00"))
    changelist = client.get(reverse("admin:deals_order_changelist"), {"channel__exact": "partner"})
    assert changelist.status_code == 200
    assert "1,020.00" in changelist.content.decode()
    change_url = reverse("admin:deals_order_change", args=[order.pk])
    page = client.get(change_url)
    assert page.status_code == 200
    assert not page.context["has_change_permission"] and not page.context["has_delete_permission"]
    assert client.post(change_url, {"number": "EDITED"}).status_code == 403
    assert client.get(reverse("admin:deals_order_add")).status_code == 403
    assert client.get(reverse("admin:deals_order_delete", args=[order.pk])).status_code == 403
    order.refresh_from_db()
    assert order.number == "SO-1"
    assert (
        client.get(reverse("admin:deals_orderline_changelist"), {"product_line__exact": "storage"}).status_code == 200
    )
    line = order.lines.first()
    assert client.post(reverse("admin:deals_orderline_change", args=[line.pk]), {"sku": "X"}).status_code == 403


def test_the_customer_admin_shows_possible_duplicates(client, staff):
    dupont = CustomerFactory(name="Etablissements Dupont et Fils", country="FR")
    near = CustomerFactory(name="Établissements Dupond et Fils SARL", country="FR")
    CustomerFactory(name="Etablissements Dupont et Fils", country="DE")  # another country is another company
    unrelated = CustomerFactory(name="Martin Informatique", country="FR")
    page = client.get(reverse("admin:deals_customer_change", args=[dupont.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert reverse("admin:deals_customer_change", args=[near.pk]) in content
    assert reverse("admin:deals_customer_change", args=[unrelated.pk]) not in content
    flagged = client.get(reverse("admin:deals_customer_changelist"), {"duplicates": "yes"})
    assert {customer.pk for customer in flagged.context["cl"].result_list} == {dupont.pk, near.pk}
    found = client.get(reverse("admin:deals_customer_changelist"), {"q": "martin"})
    assert [customer.pk for customer in found.context["cl"].result_list] == [unrelated.pk]


def test_a_customer_edit_that_clashes_on_vat_is_a_form_error(client, staff):
    CustomerFactory(vat="FR 123")
    other = CustomerFactory(vat="FR999")
    response = client.post(
        reverse("admin:deals_customer_change", args=[other.pk]),
        {"name": other.name, "country": "FR", "vat": "fr123", "domain": ""},
    )
    assert response.status_code == 200
    assert "Another customer already has this VAT / company id." in response.content.decode()


def test_the_customer_admin_validates_country_vat_and_domain_like_the_import(client, staff):
    customer = CustomerFactory(vat="FR999")
    response = client.post(
        reverse("admin:deals_customer_change", args=[customer.pk]),
        {"name": customer.name, "country": "ZZ", "vat": "!!!", "domain": "not a domain!!"},
    )
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"country", "vat", "domain"}
    customer.refresh_from_db()
    assert (customer.country, customer.vat) == ("FR", "FR999")


@pytest.mark.django_db
def test_partner_delivered_services_without_certification_show_as_compliance_exceptions(client):
    from deals.models import OrderLine
    from partners.models import Certification, CertificationRecord
    from tests.factories import PersonFactory

    member = MembershipFactory(role="admin")
    partner = member.partner
    order = OrderFactory(partner=partner, booked_on=date(2017, 3, 1))
    OrderLineFactory(order=order, line_number=1, product_line="services", service_delivery="partner_delivered")
    OrderLineFactory(order=order, line_number=2, product_line="services", service_delivery="resold")
    certified = OrderFactory(partner=partner, booked_on=date(2017, 6, 1))
    OrderLineFactory(order=certified, line_number=1, product_line="services", service_delivery="partner_delivered")
    CertificationRecord.objects.create(
        person=PersonFactory(partner=partner),
        certification=Certification.objects.get(code="SVC-DELIVERY"),
        earned_on=date(2017, 5, 1),
        expires_on=date(2019, 5, 1),
        status=CertificationRecord.Status.VERIFIED,
    )
    flags = dict(OrderLine.objects.with_compliance().values_list("order__number", "compliance_exception").order_by())
    exceptions = OrderLine.objects.with_compliance().filter(compliance_exception=True)
    assert list(exceptions.values_list("order__number", "line_number")) == [(order.number, 1)]
    assert flags[certified.number] is False
    client.force_login(member.user)
    assert b"Compliance exception" in client.get(reverse("deals:order_detail", args=[order.number])).content
    assert b"Compliance exception" not in client.get(reverse("deals:order_detail", args=[certified.number])).content


@pytest.mark.django_db
def test_staff_filter_order_lines_to_the_compliance_exceptions(client):
    partner = PartnerFactory()
    order = OrderFactory(partner=partner, booked_on=date(2017, 3, 1))
    OrderLineFactory(order=order, line_number=1, product_line="services", service_delivery="partner_delivered")
    OrderLineFactory(order=order, line_number=2, product_line="server")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(reverse("admin:deals_orderline_changelist"), {"compliance": "exception"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
