"""Hostile URLs (issue 10, item 12): a NUL or malformed parameter is a 404, never a 500; order numbers with "/"
(as the import allows) have working pages."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import MembershipFactory
from tests.factories.deals_pages import CustomerFactory, OrderFactory, OrderLineFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(client):
    member = MembershipFactory(role="admin")
    client.force_login(member.user)
    return member


@pytest.mark.parametrize(
    "url",
    [
        "/invitation/%00/",
        "/invitation/abc%00def/",
        "/deals/orders/%00/",
        "/deals/orders/SO1%00/",
        "/deals/registrations/%00/",
        "/deals/registrations/DR-%00/withdraw/",
        "/deals/registrations/DR-%00/lost/",
        "/deals/registrations/DR-%00/extension/",
        "/rebates/%00/",
        "/rebates/RS-%00/csv/",
        "/rebates/RS-%00/pdf/",
        "/team/%01/role/",
        "/deals/orders/?q=%00",
        "/deals/orders/?customer=%00&export=csv",
        "/deals/registrations/?status=%00",
        "/deals/routed/?%00=1",
        "/rebates/?page=%00",
        "/dashboard/?x=%00",
    ],
)
def test_a_nul_or_control_character_in_a_path_or_query_is_a_404(client, member, url):
    assert client.get(url).status_code == 404


def test_the_invitation_page_refuses_a_nul_token_when_signed_out(client):
    assert client.get("/invitation/%00/").status_code == 404


@pytest.mark.parametrize("number", ["-x", "a//b", "a/", "a/../b", "a b", "x" * 51])
def test_a_malformed_order_number_is_a_404(client, member, number):
    assert client.get(f"/deals/orders/{number}/").status_code == 404


def test_an_order_number_with_a_slash_has_its_list_row_and_its_page(client, member):
    order = OrderFactory(
        partner=member.partner, number="PO/2017/12", booked_on=date(2017, 3, 1), customer=CustomerFactory()
    )
    OrderLineFactory(order=order, line_number=1, product_line="server", net_amount=Decimal("100.00"))
    url = reverse("deals:order_detail", kwargs={"number": "PO/2017/12"})
    assert url == "/deals/orders/PO/2017/12/"
    listing = client.get(reverse("deals:order_list"))
    assert listing.status_code == 200 and url in listing.content.decode()
    page = client.get(url)
    assert page.status_code == 200 and page.context["order"] == order


def test_a_tab_in_a_search_query_is_not_refused(client, member):
    assert client.get("/deals/orders/?q=a%09b").status_code == 200


def test_an_order_number_stored_before_the_import_checked_them_is_listed_without_a_link(client, member):
    """Orders booked before the rule (any characters) must not turn the Orders page into a 500."""
    legacy = OrderFactory(
        partner=member.partner, number="SO 1=x", booked_on=date(2017, 3, 1), customer=CustomerFactory()
    )
    OrderLineFactory(order=legacy, line_number=1, product_line="server", net_amount=Decimal("100.00"))
    listing = client.get(reverse("deals:order_list"))
    assert listing.status_code == 200
    assert "SO 1=x" in listing.content.decode() and "/deals/orders/SO" not in listing.content.decode()
    assert client.get("/deals/orders/SO%201=x/").status_code == 404


def test_a_credit_with_an_unchecked_number_shows_on_the_credited_orders_page_without_a_link(client, member):
    order = OrderFactory(partner=member.partner, number="SO-9", booked_on=date(2017, 3, 1), customer=CustomerFactory())
    OrderLineFactory(order=order, line_number=1, product_line="server", net_amount=Decimal("100.00"))
    credit = OrderFactory(partner=member.partner, number="CR 9", booked_on=date(2017, 3, 2), customer=order.customer)
    OrderLineFactory(order=credit, line_number=1, product_line="server", net_amount=Decimal("-10.00"),
                     credited_order=order)  # fmt: skip
    page = client.get(reverse("deals:order_detail", kwargs={"number": "SO-9"}))
    assert page.status_code == 200 and "<td>CR 9</td>" in page.content.decode()


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/deals/routed/99999999999999999999999/accept/"),
        ("get", "/deals/routed/99999999999999999999999/decline/"),
        ("get", "/team/99999999999999999999999/remove/"),
        ("post", "/team/99999999999999999999999/role/"),
        ("post", "/team/invitations/99999999999999999999999/revoke/"),
        ("get", "/deals/registrations/" + "R" * 5000 + "/"),
        ("get", "/rebates/" + "S" * 5000 + "/csv/"),
        ("get", "/invitation/" + "t" * 5000 + "/"),
    ],
)
def test_an_out_of_range_id_or_an_oversized_number_is_a_404(client, member, method, url):
    assert getattr(client, method)(url).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/deals/orders/?page=abc",
        "/deals/orders/?page=99999999999999999999999",
        "/deals/orders/?sort=no_such_column",
        "/deals/orders/?booked_after=not-a-date&export=csv",
        "/deals/registrations/?page=-1",
        "/rebates/?page=abc",
        "/rebates/?sort=%27%3B--",
    ],
)
def test_malformed_list_parameters_never_give_a_500(client, member, url):
    assert client.get(url).status_code == 200  # the first page, unfiltered or empty: never a 500
