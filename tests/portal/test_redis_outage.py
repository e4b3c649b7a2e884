"""Redis down: sign-in and password reset keep working on a per-process rate-limit cache (the outage logged), and
an action that queues an email commits, answers normally and its email goes out once Redis is back."""

import logging
import time
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from deals.models import Registration
from partners.models import Tier
from portal.models import OutboxEmail, TaskOutbox
from portal.outbox import tasks_dispatch_pending
from tests.conftest import _free_port
from tests.factories import MembershipFactory, PartnerFactory
from tests.factories.partners import PASSWORD

LOGIN = reverse("account_login")
RESET = reverse("account_reset_password")


def redis_cache(url: str) -> dict:
    return {"default": {"BACKEND": "portal.cache.RedisCacheWithFallback", "LOCATION": url}}


@pytest.mark.django_db
def test_with_redis_unreachable_sign_in_works_and_the_limits_still_apply_per_process(client, settings, caplog):
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{_free_port()}/0")  # nothing listens there
    user = MembershipFactory().user
    with caplog.at_level(logging.ERROR, logger="portal.cache"):
        failures = [client.post(LOGIN, {"login": user.email, "password": "wrong-password-1"}) for _ in range(6)]
        assert {response.status_code for response in failures} == {200}  # never a 500
        assert b"Too many failed login attempts" in failures[-1].content  # the limit held, on the fallback cache
        locked = client.post(LOGIN, {"login": user.email, "password": PASSWORD})
        assert b"Too many failed login attempts" in locked.content and "_auth_user_id" not in client.session
        cache.clear()
        signed_in = client.post(LOGIN, {"login": user.email, "password": PASSWORD})
    assert signed_in.status_code == 302 and client.session.get("_auth_user_id") == str(user.pk)
    assert client.post(RESET, {"email": user.email}).status_code == 302
    assert any("Redis cache unreachable" in record.getMessage() for record in caplog.records)
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1  # logged once, not per call


@pytest.mark.services
def test_redis_stopped_while_a_deal_is_registered_no_500_and_the_email_goes_out_once_it_is_back(
    client, settings, redis_server, broker_at, worker_factory, smtp_server, caplog
):
    settings.CACHES = redis_cache(redis_server.url.replace("/0", "/1"))
    broker_at(redis_server.url)
    gold = Tier.objects.get(code="gold")
    member = MembershipFactory(role="sales", partner=PartnerFactory(tier=gold, computed_tier=gold))
    user = member.user

    redis_server.stop()
    with caplog.at_level(logging.WARNING):
        assert client.post(LOGIN, {"login": user.email, "password": PASSWORD}).status_code == 302
        response = client.post(
            reverse("deals:registration_create"),
            {
                "token": str(uuid.uuid4()),
                "customer_name": "Dupont Industries SA",
                "customer_country": "FR",
                "customer_vat": "FR11222333444",
                "customer_domain": "dupont.example",
                "opportunity_name": "Datacenter refresh",
                "expected_close_on": (timezone.localdate() + timedelta(days=60)).isoformat(),
                "amount_server": "12000.00",
            },
        )
        reset = client.post(RESET, {"email": user.email})
    assert response.status_code == 302 and reset.status_code == 302
    registration = Registration.objects.get()
    assert registration.status == Registration.Status.APPROVED
    tasks = TaskOutbox.objects.filter(name="portal.tasks.outbox_send")
    assert tasks.count() == 2  # the registration's email and the reset link, recorded with their commits
    assert not tasks.filter(dispatched_at__isnull=False).exists() and not tasks.filter(last_error="").exists()
    assert any("Redis cache unreachable" in r.getMessage() for r in caplog.records)

    redis_server.start()
    worker_factory(broker=redis_server.url, env={"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(settings.EMAIL_PORT)})
    assert tasks_dispatch_pending(older_than=timedelta(0)) == 2  # what beat's sweeper does every minute
    emails = OutboxEmail.objects.filter(pk__in=[task.args[0] for task in tasks])
    deadline = time.monotonic() + 60
    while emails.exclude(status=OutboxEmail.Status.SENT).exists() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert sorted(emails.values_list("status", "attempts")) == [(OutboxEmail.Status.SENT, 1)] * 2
    assert tasks_dispatch_pending(older_than=timedelta(0)) == 0  # nothing left, nothing sent twice
    subjects = [message["Subject"].replace("\r\n", "") for message in smtp_server]  # unfolded
    for email in emails:
        assert subjects.count(email.subject) == 1, email.subject
    assert any(email.key.startswith(f"registration:{registration.pk}:") for email in emails)
