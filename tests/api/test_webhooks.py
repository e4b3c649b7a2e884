"""Webhooks: a partner admin subscribes; the partner's events become signed deliveries, queued through the outbox;
a test receiver verifies the signature; a failing receiver gets retries with backoff, then the subscription is
disabled and the partner's admins are told."""

import http.server
import json
import re
import threading
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from api import webhooks
from api.models import WebhookDelivery, WebhookSubscription
from deals.registrations.services import registration_approve, registration_reject
from portal.emails import outbox_render
from portal.events import REGISTRATION_DECIDED, STATEMENT_ISSUED
from portal.models import OutboxEmail, TaskOutbox
from tests.factories import MembershipFactory, PartnerFactory, UserFactory
from tests.factories.registrations import RegistrationFactory

pytestmark = pytest.mark.django_db
PAGE = reverse("api_webhooks")


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records what it receives and answers ``status``."""

    def __init__(self, status=200):
        self.status, self.received, self.location = status, [], ""
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.end_headers()

            def do_GET(self):  # where a followed redirect would land
                receiver.received.append((dict(self.headers), b"GET"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def admin():
    return MembershipFactory(partner=PartnerFactory(), role="admin")


def subscribe(admin, url, events=(REGISTRATION_DECIDED,)):
    return webhooks.webhook_subscribe(partner=admin.partner, user=admin.user, url=url, events=list(events))


def decide(admin, approve=True):
    registration = RegistrationFactory(partner=admin.partner, status="submitted")
    staff = UserFactory(is_staff=True)
    if approve:
        registration_approve(registration=registration, actor=staff)
    else:
        registration_reject(registration=registration, actor=staff, reason="Not a real opportunity")
    return registration


def test_an_admin_subscribes_on_the_page_and_sees_the_secret_once(client, admin):
    client.force_login(admin.user)
    response = client.post(PAGE, {"url": "https://crm.example/hooks", "events": [REGISTRATION_DECIDED]})
    assert response.status_code == 200
    subscription = WebhookSubscription.objects.get()
    secret = re.search(rb'<code id="new-secret">([0-9a-f]+)</code>', response.content).group(1).decode()
    assert secret == subscription.secret and subscription.partner == admin.partner
    assert secret.encode() not in client.get(PAGE).content
    assert client.post(PAGE, {"url": "https://x.example", "events": []}).status_code == 400
    other = subscribe(MembershipFactory(role="admin"), "https://other.example")
    assert client.post(PAGE, {"disable": str(other.pk)}).status_code == 404  # another partner's
    assert client.post(PAGE, {"disable": str(subscription.pk)}).status_code == 302
    assert not WebhookSubscription.objects.get(pk=subscription.pk).active


def test_a_decided_registration_becomes_one_queued_delivery_for_the_subscribed_partner_only(admin, receiver):
    subscribe(admin, receiver.url)
    subscribe(admin, receiver.url + "/statements", events=[STATEMENT_ISSUED])  # another event: nothing for it
    other = MembershipFactory(partner=PartnerFactory(), role="admin")
    subscribe(other, receiver.url)
    registration = decide(admin)
    decide(other, approve=False).partner  # noqa: B018 (the other partner's own event)
    delivery = WebhookDelivery.objects.get(subscription__partner=admin.partner)
    assert delivery.payload["event"] == REGISTRATION_DECIDED
    assert delivery.payload["data"] == {"number": registration.number, "status": "approved"}
    assert TaskOutbox.objects.filter(name=webhooks.DELIVER_TASK, args=[delivery.pk]).count() == 1
    assert WebhookDelivery.objects.count() == 2


def test_the_receiver_verifies_the_signature(admin, receiver):
    subscription = subscribe(admin, receiver.url)
    decide(admin)
    delivery = WebhookDelivery.objects.get()
    assert webhooks.webhook_deliver(delivery_id=delivery.pk) == "delivered"
    ((headers, body),) = receiver.received
    assert webhooks.signature_valid(subscription.secret, headers["Portal-Signature"], body)
    assert not webhooks.signature_valid("another secret", headers["Portal-Signature"], body)
    assert not webhooks.signature_valid(subscription.secret, headers["Portal-Signature"], body + b" ")
    assert json.loads(body)["data"]["status"] == "approved" and headers["Portal-Event"] == REGISTRATION_DECIDED
    assert webhooks.webhook_deliver(delivery_id=delivery.pk) == "skipped"  # a redelivered task sends nothing more
    assert len(receiver.received) == 1


def test_a_failing_receiver_gets_retries_with_backoff_then_the_webhook_is_disabled_and_admins_told(admin, receiver):
    receiver.status = 500
    subscription = subscribe(admin, receiver.url)
    for _index in range(webhooks.DISABLE_AFTER):
        decide(admin)
    deliveries = list(WebhookDelivery.objects.order_by("pk"))
    for delivery in deliveries:
        for attempt in range(webhooks.MAX_ATTEMPTS):
            WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())  # the backoff
            assert webhooks.webhook_deliver(delivery_id=delivery.pk) in ("pending", "failed")
            delivery.refresh_from_db()
            if attempt == 0:
                assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=50)
        assert delivery.status == "failed" and delivery.attempts == webhooks.MAX_ATTEMPTS
        assert delivery.last_status_code == 500
    subscription.refresh_from_db()
    assert not subscription.active and subscription.disabled_at is not None
    assert len(receiver.received) == webhooks.DISABLE_AFTER * webhooks.MAX_ATTEMPTS
    outbox_render()  # rendered as the send task renders it (not sent)
    email = OutboxEmail.objects.get(key__startswith=f"webhook-disabled:{subscription.pk}:")
    assert receiver.url in email.body
    decide(admin)  # a disabled webhook gets nothing more
    assert WebhookDelivery.objects.count() == webhooks.DISABLE_AFTER


def test_the_sweeper_queues_the_attempts_that_are_due(admin, receiver):
    receiver.status = 503
    subscribe(admin, receiver.url)
    decide(admin)
    delivery = WebhookDelivery.objects.get()
    assert webhooks.webhook_deliver(delivery_id=delivery.pk) == "pending"
    assert webhooks.webhook_deliveries_due() == 0  # not due yet
    assert webhooks.webhook_deliveries_due(now=timezone.now() + timedelta(minutes=2)) == 1
    assert TaskOutbox.objects.filter(key=f"webhook:{delivery.pk}:1").exists()


def test_only_https_in_production(admin, settings):
    settings.API_WEBHOOK_ALLOW_HTTP = False
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        subscribe(admin, "http://crm.example/hook")


def test_a_statement_issued_and_an_order_routed_are_events_too(receiver):
    from datetime import date

    from deals.routing.services import routing_run
    from portal.events import ROUTED_OFFER_RECEIVED
    from portal.fiscal import Quarter
    from rebates import services as rebate_services
    from tests.factories import rebates as rebate_data
    from tests.factories import routing as routing_data

    partner = routing_data.partner("FR")
    admin = MembershipFactory(partner=partner, role="admin")
    subscribe(admin, receiver.url, events=[STATEMENT_ISSUED, ROUTED_OFFER_RECEIVED])
    rebate_data.order(partner=partner, customer=rebate_data.customer(), booked_on=date(2017, 3, 1),
                      lines=[("server", "1000.00")], number="SO-HOOK-1")  # fmt: skip
    rebate_services.quarter_close(quarter=Quarter.parse("FY2018-Q1"), as_of=date(2017, 5, 6))
    today = timezone.localdate()
    routing_data.order(customer=routing_data.customer("FR", name="Hooked Routed Customer"),
                       booked_on=today - timedelta(days=1), lines={"server": "5000.00"})  # fmt: skip
    routing_run(as_of=today)
    events = {delivery.event: delivery.payload["data"] for delivery in WebhookDelivery.objects.all()}
    assert events[STATEMENT_ISSUED]["number"] == f"RS-FY2018-Q1-{partner.code}"
    assert events[STATEMENT_ISSUED]["total"] == "90.00"  # Authorized: base 1 + new business 8
    assert events[ROUTED_OFFER_RECEIVED]["respond_by"] > today.isoformat()


def test_the_webhooks_page_is_in_french(client, admin):
    client.force_login(admin.user)
    client.cookies["portal_language"] = "fr"
    content = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Ajouter un webhook" in content and "Un relevé de remises est émis" in content


def test_staff_see_webhooks_and_their_deliveries_in_the_admin_without_the_secret(client, admin, receiver):
    subscription = subscribe(admin, receiver.url)
    decide(admin)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get(reverse("admin:api_webhooksubscription_changelist")).status_code == 200
    page = client.get(reverse("admin:api_webhooksubscription_change", args=[subscription.pk]))
    assert page.status_code == 200 and REGISTRATION_DECIDED.encode() in page.content
    assert subscription.secret.encode() not in page.content
    assert client.get(reverse("admin:api_apitoken_changelist")).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",  # a cloud metadata endpoint
        "https://[::1]/hook",
        "https://no-such-host.invalid/hook",
    ],
)
def test_in_production_a_webhook_may_not_point_at_a_private_address(admin, settings, url):
    from django.core.exceptions import ValidationError

    settings.API_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError) as refused:
        subscribe(admin, url)
    assert "url" in refused.value.message_dict


def test_a_receiver_re_pointed_at_a_private_address_is_not_called(admin, receiver, settings):
    subscription = subscribe(admin, receiver.url)  # allowed while subscribing (outside production)
    decide(admin)
    settings.API_WEBHOOK_ALLOW_PRIVATE = False  # now the guard applies, as it does in production
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert webhooks.webhook_deliver(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert receiver.received == [] and "not a public internet address" in delivery.last_error


def test_a_redirect_is_not_followed(admin, receiver):
    receiver.status, receiver.location = 302, receiver.url + "/elsewhere"
    subscribe(admin, receiver.url)
    decide(admin)
    delivery = WebhookDelivery.objects.get()
    assert webhooks.webhook_deliver(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.last_status_code == 302 and len(receiver.received) == 1
