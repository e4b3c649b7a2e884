"""Registering a deal through the API follows the form's rules, through the same service: auto-approval, the
partner's own duplicate, a conflict with another partner (said without naming it), the near-match question."""

import json
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from api.services import api_token_create
from deals.models import Registration
from tests.factories import MembershipFactory, PartnerFactory
from tests.factories import rebates as rebate_data
from tests.factories.deals_pages import CustomerFactory

from .conftest import bearer

pytestmark = pytest.mark.django_db
URL = reverse("api:registrations")
S = Registration.Status


def close_on():
    return (timezone.localdate() + timedelta(days=60)).isoformat()


def body(**overrides):
    data = {
        "customer_name": "Dupont Industries SA",
        "customer_country": "fr",
        "customer_vat": "FR11222333444",
        "customer_domain": "dupont.example",
        "opportunity_name": "Datacenter refresh",
        "expected_close_on": close_on(),
        "lines": [{"product_line": "server", "estimated_amount": "12000.00"}],
    }
    data.update(overrides)
    return data


def form_data(**overrides):
    data = {
        "token": str(uuid.uuid4()),
        "customer_name": "Dupont Industries SA",
        "customer_country": "FR",
        "customer_vat": "FR11222333444",
        "customer_domain": "dupont.example",
        "opportunity_name": "Datacenter refresh",
        "expected_close_on": close_on(),
        "amount_server": "12000.00",
    }
    data.update(overrides)
    return data


def post(client, secret, data, **headers):
    return client.post(URL, data=json.dumps(data), content_type="application/json", **bearer(secret), **headers)


@pytest.fixture
def alpha():
    partner = PartnerFactory(name="Alpha Reseller SAS", code="ALPHA")
    rebate_data.tier_change(partner, "gold", timezone.localdate() - timedelta(days=400))
    user = MembershipFactory(partner=partner, role="sales").user
    return partner, user, api_token_create(user=user, name="crm").secret


@pytest.fixture
def bravo(client):
    partner = PartnerFactory(name="Bravo Systems GmbH", code="BRAVO")
    user = MembershipFactory(partner=partner, role="sales").user
    return partner, user


def test_a_registration_within_the_tier_limit_is_approved_and_amounts_are_strings(client, alpha):
    partner, _user, secret = alpha
    response = post(client, secret, body())
    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["result"] == "approved"
    registration = answer["registration"]
    assert registration["status"] == "approved" and registration["customer"]["country"] == "FR"
    assert registration["estimated_total"] == "12000.00"
    assert registration["lines"] == [{"product_line": "server", "estimated_amount": "12000.00"}]
    assert (
        registration["protection_ends_on"] == Registration.objects.get(partner=partner).protection_ends_on.isoformat()
    )
    # The same registration through the detail endpoint.
    detail = client.get(reverse("api:registration", args=[registration["number"]]), **bearer(secret)).json()
    assert detail["number"] == registration["number"] and detail["can_mark_lost"] is True


def test_the_partners_own_duplicate_is_refused_with_the_forms_message(client, alpha):
    _partner, _user, secret = alpha
    assert post(client, secret, body()).status_code == 201
    response = post(client, secret, body(opportunity_name="Again"))
    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "duplicate"
    assert "You already registered this customer" in error["fields"]["__all__"][0]
    assert "<a" not in error["fields"]["__all__"][0]


@pytest.mark.parametrize("api_first", [True, False])
def test_an_api_and_a_form_registration_for_the_same_customer_conflict_like_two_forms(client, alpha, bravo, api_first):
    """First in time wins, whichever way each came in; the later is flagged for arbitration, never approved,
    and told only that the opportunity is already registered."""
    a_partner, _a_user, secret = alpha
    b_partner, b_user = bravo
    client.force_login(b_user)
    if api_first:
        assert post(client, secret, body()).json()["result"] == "approved"
        client.post(reverse("deals:registration_create"), form_data())
        first, later = Registration.objects.get(partner=a_partner), Registration.objects.get(partner=b_partner)
    else:
        client.post(reverse("deals:registration_create"), form_data())
        response = post(client, secret, body())
        assert response.status_code == 201
        answer = response.json()
        assert answer["result"] == "already_registered" and answer["registration"]["already_registered"] is True
        assert "already registered" in answer["message"]
        for secret_text in ("BRAVO", "Bravo", Registration.objects.get(partner=b_partner).number):
            assert secret_text not in response.content.decode()
        first, later = Registration.objects.get(partner=b_partner), Registration.objects.get(partner=a_partner)
    assert later.conflict_with == first and later.status == S.SUBMITTED
    assert first.conflict_with is None


def test_a_near_match_among_the_partners_own_customers_is_asked_once(client, alpha):
    partner, _user, secret = alpha
    known = CustomerFactory(name="Dupont Industries", country="FR", vat="", domain="")
    rebate_data.order(partner=partner, customer=known, booked_on=timezone.localdate() - timedelta(days=10),
                      lines=[("server", "100.00")])  # fmt: skip
    response = post(client, secret, body(customer_name="Dupont Industriess", customer_vat="", customer_domain=""))
    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "near_match" and error["near_matches"] == [
        {"id": known.pk, "name": "Dupont Industries", "country": "FR"}
    ]
    assert not Registration.objects.exists()
    chosen = post(
        client,
        secret,
        body(customer_name="Dupont Industriess", customer_vat="", customer_domain="", customer_choice=str(known.pk)),
    )
    assert chosen.status_code == 201
    assert Registration.objects.get().customer == known
    other = CustomerFactory(name="Someone Else", country="FR")
    refused = post(client, secret, body(customer_name="Dupont Industriess", customer_choice=str(other.pk)))
    assert refused.status_code == 422 and "customer_choice" in refused.json()["fields"]


def test_shape_errors_are_400_and_rule_errors_422_in_one_body_format(client, alpha):
    _partner, _user, secret = alpha
    response = post(client, secret, body(expected_close_on="not a date", lines=[]))
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "invalid" and {"expected_close_on", "lines"} <= set(error["fields"])
    past = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = post(client, secret, body(expected_close_on=past))
    assert response.status_code == 422
    assert response.json()["fields"]["expected_close_on"] == ["The expected close date must be in the future."]
    response = post(client, secret, body(lines=[{"product_line": "server", "estimated_amount": "-5.00"}]))
    assert response.status_code == 422 and "lines.server" in response.json()["fields"]


def test_finance_cannot_register_a_deal(client, alpha):
    partner, _user, _secret = alpha
    finance = MembershipFactory(partner=partner, role="finance").user
    response = post(client, api_token_create(user=finance, name="x").secret, body())
    assert response.status_code == 403 and not Registration.objects.exists()


def test_withdraw_lost_and_extension_through_the_services(client, alpha):
    partner, _user, secret = alpha
    number = post(client, secret, body()).json()["registration"]["number"]

    def action(name, data):
        url = reverse(f"api:registration_{name}", args=[number])
        return client.post(url, data=json.dumps(data), content_type="application/json", **bearer(secret))

    refused = action("withdraw", {})
    assert refused.status_code == 422 and refused.json()["message"] == "Only a submitted registration can be withdrawn."
    early = action("extension", {"reason": "Board meets in June"})
    assert early.status_code == 422 and "can be requested only from" in early.json()["message"]
    assert action("extension", {}).status_code == 400
    lost = action("lost", {"note": "Went with a competitor"})
    assert lost.status_code == 200 and lost.json()["status"] == "lost"
    registration = Registration.objects.get(partner=partner)
    assert registration.status == S.LOST and registration.events.last().note == "Went with a competitor"


def test_the_list_filters_like_the_page_and_pages_by_cursor(client, alpha):
    _partner, _user, secret = alpha
    numbers = [
        post(client, secret, body(customer_name=name, customer_vat="", customer_domain="")).json()["registration"][
            "number"
        ]
        for name in ("Acme Corp", "Globex Industries", "Initech Systems")
    ]
    page = client.get(URL, {"page_size": 2}, **bearer(secret)).json()
    assert [row["number"] for row in page["results"]] == numbers[::-1][:2]
    rest = client.get(page["next"], **bearer(secret)).json()
    assert [row["number"] for row in rest["results"]] == numbers[:1] and rest["next"] is None
    filtered = client.get(URL, {"customer": "globex"}, **bearer(secret)).json()
    assert [row["number"] for row in filtered["results"]] == [numbers[1]]
    assert client.get(URL, {"status": "bogus"}, **bearer(secret)).status_code == 400
