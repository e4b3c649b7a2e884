"""``Idempotency-Key`` on POSTs: a retry gets the first response and creates nothing twice, also when two identical
requests race (PostgreSQL); the same key with another body is refused. And the per-token rate limit."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.models import IdempotentRequest
from api.services import api_token_create
from api.throttling import TokenRateThrottle
from deals.models import Registration
from tests.factories import MembershipFactory, PartnerFactory

from .conftest import bearer

URL = reverse("api:registrations")


def body(name="Idempotent Industries SA"):
    return {
        "customer_name": name,
        "customer_country": "FR",
        "opportunity_name": "Retry me",
        "expected_close_on": (timezone.localdate() + timedelta(days=30)).isoformat(),
        "lines": [{"product_line": "server", "estimated_amount": "1000.00"}],
    }


def post(client, secret, data, key=None, url=URL):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, data=json.dumps(data), content_type="application/json", **bearer(secret), **headers)


@pytest.fixture
def secret(db):
    user = MembershipFactory(partner=PartnerFactory(), role="sales").user
    return api_token_create(user=user, name="crm").secret


def test_a_retry_with_the_same_key_returns_the_first_response_and_creates_nothing(client, secret):
    first = post(client, secret, body(), key="k-1")
    again = post(client, secret, body(), key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Registration.objects.count() == 1
    # Without a key the same body is a second request (here refused: the partner's own duplicate).
    assert post(client, secret, body()).status_code == 422


def test_the_same_key_with_another_body_is_refused(client, secret):
    assert post(client, secret, body(), key="k-2").status_code == 201
    response = post(client, secret, body("Someone Else GmbH"), key="k-2")
    assert response.status_code == 422 and response.json()["code"] == "idempotency_key_reused"
    assert Registration.objects.count() == 1


def test_a_refused_request_keeps_no_key_so_the_corrected_retry_runs(client, secret):
    bad = post(client, secret, {**body(), "lines": []}, key="k-3")
    assert bad.status_code == 400
    assert not IdempotentRequest.objects.exists()
    assert post(client, secret, body(), key="k-3").status_code == 201


def test_keys_are_per_token(client, secret, db):
    other = api_token_create(user=MembershipFactory(partner=PartnerFactory(), role="sales").user, name="b").secret
    assert post(client, secret, body(), key="shared").status_code == 201
    response = post(client, other, body("Other Customer SARL"), key="shared")
    assert response.status_code == 201 and not response.has_header("Idempotent-Replayed")


def test_an_action_retried_with_its_key_is_answered_once(client, secret):
    number = post(client, secret, body()).json()["registration"]["number"]
    url = reverse("api:registration_withdraw", args=[number])
    first = post(client, secret, {"note": "not now"}, key="withdraw-1", url=url)
    assert first.status_code == 200 and first.json()["status"] == "withdrawn"
    assert post(client, secret, {"note": "not now"}, key="withdraw-1", url=url).json() == first.json()
    assert post(client, secret, {"note": "not now"}, url=url).status_code == 422  # a new request: already withdrawn


def test_a_key_too_long_is_refused(client, secret):
    assert post(client, secret, body(), key="x" * 256).status_code == 422


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_identical_posts_create_one_registration(require_postgresql):
    user = MembershipFactory(partner=PartnerFactory(), role="sales").user
    token = api_token_create(user=user, name="crm").secret
    barrier = threading.Barrier(3)
    responses, errors = [], []

    def send():
        try:
            barrier.wait(timeout=10)
            responses.append(post(Client(), token, body(), key="race-1"))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _index in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert [response.status_code for response in responses] == [201, 201, 201]
    assert len({response.json()["registration"]["number"] for response in responses}) == 1
    assert sum(response.has_header("Idempotent-Replayed") for response in responses) == 2
    assert Registration.objects.count() == 1


def test_the_rate_limit_is_per_token_with_retry_after(client, secret, monkeypatch, db):
    monkeypatch.setattr(TokenRateThrottle, "rate", "3/minute", raising=False)
    other = api_token_create(user=MembershipFactory(partner=PartnerFactory(), role="sales").user, name="b").secret
    me = reverse("api:me")
    assert [client.get(me, **bearer(secret)).status_code for _index in range(3)] == [200, 200, 200]
    limited = client.get(me, **bearer(secret))
    assert limited.status_code == 429 and 0 < int(limited["Retry-After"]) <= 60
    assert limited.json()["code"] == "throttled"
    assert client.get(me, **bearer(other)).status_code == 200
