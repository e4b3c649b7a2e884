"""Staff admin for routing and locks: the routing trail of a direct order, reassignment with a reason through an
intermediate form, and the channel-locked customers with their incumbent, expiry and history."""

from datetime import date

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from deals.models import RoutingCase, RoutingOffer
from deals.routing.locks import channel_locks_apply
from deals.routing.services import routed_offer_decline, routing_run
from tests.factories import UserFactory
from tests.factories.routing import customer, order, partner, partner_user

pytestmark = pytest.mark.django_db
AS_OF = date(2017, 3, 20)


@pytest.fixture
def staff(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


@pytest.fixture
def routed():
    first, second, third = partner("FR"), partner("FR"), partner("FR")
    direct = order(customer=customer("FR", name="Clinique du Parc"), booked_on=date(2017, 3, 15))
    routing_run(as_of=AS_OF)
    offer = RoutingOffer.objects.get(case__order=direct)
    routed_offer_decline(offer=offer, user=partner_user(first), reason="Out of stock", today=AS_OF)
    return RoutingCase.objects.get(order=direct), (first, second, third)


def test_the_case_page_shows_why_who_was_offered_who_declined_and_the_outcome(client, staff, routed):
    case, (first, second, _third) = routed

    changelist = client.get(reverse("admin:deals_routingcase_changelist"))
    page = client.get(reverse("admin:deals_routingcase_change", args=[case.pk]))

    assert changelist.status_code == 200 and case.order.number.encode() in changelist.content
    html = page.content.decode()
    assert "under the hard-deck ceiling" in html
    assert "Out of stock" in html
    assert first.code in html and second.code in html


def test_reassign_asks_for_a_partner_and_reason_then_reassigns(client, staff, routed):
    case, (first, second, third) = routed
    url = reverse("admin:deals_routingcase_changelist")
    selected = {"action": "reassign_selected", ACTION_CHECKBOX_NAME: [case.pk]}

    form = client.post(url, selected)
    missing = client.post(url, {**selected, "apply": "1", "partner": third.pk, "reason": ""})
    done = client.post(url, {**selected, "apply": "1", "partner": third.pk, "reason": "Customer's request"})

    assert form.status_code == 200 and b"Reassign" in form.content
    assert missing.status_code == 200 and missing.context["form"].errors
    assert done.status_code == 302
    assert list(case.offers.order_by("id").values_list("partner", "status", "source")) == [
        (first.pk, "declined", "fair_share"),
        (second.pk, "withdrawn", "fair_share"),
        (third.pk, "offered", "staff"),
    ]


def test_locked_customers_list_with_incumbent_expiry_and_history(client, staff):
    incumbent = partner("FR")
    locked = customer("FR", name="Hôpital Nord")
    order(customer=locked, partner=incumbent, booked_on=date(2017, 2, 10))
    order(customer=locked, partner=incumbent, booked_on=date(2017, 5, 10))
    channel_locks_apply(as_of=date(2017, 3, 1))
    channel_locks_apply(as_of=date(2017, 6, 1))

    changelist = client.get(reverse("admin:deals_channellock_changelist") + "?state=active")
    lock = locked.channel_lock
    page = client.get(reverse("admin:deals_channellock_change", args=[lock.pk]))

    assert "Hôpital Nord" in changelist.content.decode()
    assert incumbent.code in changelist.content.decode()
    html = page.content.decode()
    assert "extended" in html and "locked" in html
    assert "2020" in html  # expiry 2020-05-10
    assert client.get(reverse("admin:deals_channellockevent_changelist")).status_code == 200
