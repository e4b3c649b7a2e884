"""The partner's "Routed orders" page: open offers with their lines, total and deadline; accept and decline after a
confirmation, harmless when posted twice; the history; scoped to the user's partner; admin and sales only."""

from datetime import date, timedelta

import pytest
from django.urls import reverse

from deals.models import Order, RoutingOffer
from deals.routing.services import routing_run
from tests.factories.routing import customer, order, partner, partner_user

pytestmark = pytest.mark.django_db
LIST = reverse("deals:routed_list")
BOOKED = date(2017, 3, 15)


def accept_url(offer):
    return reverse("deals:routed_accept", kwargs={"pk": offer.pk})


def decline_url(offer):
    return reverse("deals:routed_decline", kwargs={"pk": offer.pk})


@pytest.fixture
def today():
    """The routing runs on the real date so that the deadlines are in the future for the pages."""
    from django.utils import timezone

    return timezone.localdate()


@pytest.fixture
def setup(client, today):
    mine, other = partner("FR"), partner("FR")
    mine_order = order(
        customer=customer("FR", name="Mairie de Lyon"),
        booked_on=today - timedelta(days=2),
        lines={"server": "12000.00", "services": "800.50"},
    )
    other_order = order(customer=customer("FR"), booked_on=today - timedelta(days=2))
    routing_run(as_of=today)
    mine_offer = RoutingOffer.objects.get(case__order=mine_order)
    other_offer = RoutingOffer.objects.get(case__order=other_order)
    assert (mine_offer.partner, other_offer.partner) == (mine, other)
    user = partner_user(mine, "sales")
    client.force_login(user)
    return mine_offer, other_offer, user


def test_pending_offers_show_customer_lines_total_and_deadline(client, setup):
    mine, other, _user = setup

    response = client.get(LIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Mairie de Lyon" in html
    assert mine.case.order.number in html
    assert "12,800.50\u00a0USD" in html  # the total and each line carry the currency (portal.money.money_text)
    assert "800.50\u00a0USD" in html.replace("12,800.50", "")
    assert accept_url(mine) in html and decline_url(mine) in html
    assert other.case.order.number not in html
    assert [offer.pk for offer in response.context["pending"]] == [mine.pk]


def test_accept_asks_for_confirmation_then_accepts_once(client, setup):
    mine, _other, user = setup

    confirm = client.get(accept_url(mine))
    first = client.post(accept_url(mine))
    second = client.post(accept_url(mine))  # a double click

    assert confirm.status_code == 200 and b"Accept the order" in confirm.content
    assert first.status_code == 302 and second.status_code == 302
    mine.refresh_from_db()
    assert (mine.status, mine.decided_by) == ("accepted", user)
    assert Order.objects.get(pk=mine.case.order_id).partner == mine.partner
    history = client.get(LIST).context["history"]
    assert [offer.pk for offer in history] == [mine.pk]
    assert client.get(reverse("deals:order_detail", kwargs={"number": mine.case.order.number})).status_code == 200


def test_decline_needs_a_reason_and_then_goes_to_the_next_partner(client, setup):
    mine, other, _user = setup

    refused = client.post(decline_url(mine), {"reason": ""})
    declined = client.post(decline_url(mine), {"reason": "Not our region"}, follow=True)

    assert refused.status_code == 200 and refused.context["form"].errors
    assert declined.status_code == 200
    mine.refresh_from_db()
    assert (mine.status, mine.decline_reason) == ("declined", "Not our region")
    assert RoutingOffer.objects.get(case=mine.case, status="offered").partner == other.partner
    assert b"Not our region" in declined.content  # the history


def test_another_partners_offer_is_not_found(client, setup):
    _mine, other, _user = setup

    assert client.get(accept_url(other)).status_code == 404
    assert client.post(accept_url(other)).status_code == 404
    assert client.post(decline_url(other), {"reason": "mine now"}).status_code == 404
    other.refresh_from_db()
    assert other.status == "offered"


def test_finance_users_are_refused_and_admins_allowed(client, setup):
    mine, _other, _user = setup
    client.force_login(partner_user(mine.partner, "finance"))
    assert client.get(LIST).status_code == 403
    assert client.post(accept_url(mine)).status_code == 403

    client.force_login(partner_user(mine.partner, "admin"))
    assert client.get(LIST).status_code == 200


def test_an_answered_offer_redirects_with_a_message(client, setup):
    mine, _other, _user = setup
    client.post(accept_url(mine))

    response = client.get(decline_url(mine), follow=True)

    assert response.redirect_chain[-1][0] == LIST
    assert b"no longer open" in response.content


def test_the_nav_shows_routed_orders_to_sales(client, setup):
    response = client.get(LIST)

    assert f'href="{LIST}"'.encode() in response.content


def test_list_queries_are_bounded(client, setup, today, django_assert_max_num_queries):
    mine, *_ = setup
    for _ in range(10):
        order(customer=customer("FR"), booked_on=today - timedelta(days=1))
    routing_run(as_of=today + timedelta(days=1))  # a fresh date: the earlier run's claim does not apply
    client.get(LIST)

    with django_assert_max_num_queries(12):
        response = client.get(LIST)

    assert len(response.context["pending"]) >= 5
