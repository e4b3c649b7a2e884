"""Webhooks (issue 14): a partner's subscriptions get its events, signed, delivered by workers through the outbox.

Signature: header ``Portal-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`` — the receiver
recomputes it and refuses an old ``t`` (replays). A delivery is tried up to ``MAX_ATTEMPTS`` times with backoff
(beat's ``webhook_deliveries_due`` queues the next attempt); after ``DISABLE_AFTER`` deliveries given up in a row
the subscription is disabled and the partner's admins are emailed.
"""

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.models import Membership
from partners.selectors import partner_users_with_roles
from portal.emailcontext import portal_url
from portal.emails import email_users
from portal.events import EVENT_KINDS, PartnerEvent
from portal.outbox import task_enqueue

from .models import WebhookDelivery, WebhookSubscription

DELIVER_TASK = "api.tasks.webhook_deliver"
MAX_ATTEMPTS = 5
BACKOFF_MINUTES = (1, 5, 30, 120)  # after the 1st, 2nd, 3rd, 4th failed attempt
DISABLE_AFTER = 3  # deliveries given up in a row
TIMEOUT_SECONDS = 10
SIGNATURE_HEADER = "Portal-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signature_valid(secret: str, header: str, body: bytes, *, tolerance: int = 300, now: float | None = None) -> bool:
    """Check a ``Portal-Signature`` header as a receiver should (a reference for partners, and for the tests)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")


def address_problem(url: str) -> str:
    """Why the portal will not post to ``url`` (empty when it may): every address its host resolves to must be a
    public one, or a partner could make the workers call the vendor's own network (SSRF: metadata endpoints,
    admin consoles, the database). ``API_WEBHOOK_ALLOW_PRIVATE`` lifts it outside production (tests, a local
    receiver). Checked on subscription and again before each attempt (a name can be re-pointed)."""
    if settings.API_WEBHOOK_ALLOW_PRIVATE:
        return ""
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return _("The address %(host)s cannot be resolved.") % {"host": host}
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global or ip.is_multicast:
            return _("The address %(host)s is not a public internet address.") % {"host": host}
    return ""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A receiver answers; it does not send the portal elsewhere (a redirect could lead past ``address_problem``)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def webhook_subscribe(*, partner, user, url: str, events: list[str]) -> WebhookSubscription:
    """Subscribe ``url`` to ``events`` of ``partner``; the secret is on the returned row (show it once)."""
    events = sorted(set(events))
    if not events or set(events) - set(EVENT_KINDS):
        raise ValidationError({"events": [_("Choose at least one event.")]})
    if not url.startswith("https://") and not settings.API_WEBHOOK_ALLOW_HTTP:
        raise ValidationError({"url": [_("The address must start with https://.")]})
    if problem := address_problem(url):
        raise ValidationError({"url": [problem]})
    return WebhookSubscription.objects.create(
        partner=partner, url=url, events=events, secret=secrets.token_hex(32), created_by=user
    )


def webhook_disable(*, subscription: WebhookSubscription) -> None:
    WebhookSubscription.objects.filter(pk=subscription.pk, active=True).update(active=False, disabled_at=timezone.now())


def _enqueue(delivery: WebhookDelivery) -> None:
    task_enqueue(DELIVER_TASK, args=[delivery.pk], key=f"webhook:{delivery.pk}:{delivery.attempts}")


def webhook_events_listen(events: list[PartnerEvent]) -> None:
    """The ``portal.events`` listener: one delivery per event and subscribed endpoint, queued after commit.

    One query when no partner of ``events`` subscribes; otherwise one insert for all the deliveries (an event
    published twice is one delivery), one read back, and one outbox row per delivery attempt (its key dedupes)."""
    partner_ids = {event.partner_id for event in events}
    subscriptions = list(WebhookSubscription.objects.filter(active=True, partner_id__in=partner_ids))
    now = timezone.now().isoformat()
    rows = [
        WebhookDelivery(
            subscription=subscription,
            event=event.kind,
            event_key=event.key,
            payload={"event": event.kind, "id": event.key, "created_at": now, "data": event.data},
        )
        for subscription in subscriptions
        for event in events
        if event.partner_id == subscription.partner_id and event.kind in subscription.events
    ]
    if not rows:
        return
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    for delivery in WebhookDelivery.objects.filter(
        subscription__in=subscriptions, event_key__in={row.event_key for row in rows}, attempts=0
    ).only("pk", "attempts"):
        _enqueue(delivery)


def _post(subscription: WebhookSubscription, delivery: WebhookDelivery) -> tuple[int | None, str]:
    if problem := address_problem(subscription.url):
        return None, problem
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked on subscription)
        subscription.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "PartnerPortal-Webhooks/1",
            "Portal-Event": delivery.event,
            "Portal-Delivery": str(delivery.pk),
            SIGNATURE_HEADER: signature(subscription.secret, int(time.time()), body),
        },
    )
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, f"HTTP {error.code}"
    except (OSError, ValueError) as error:
        return None, str(error)[:300]


def webhook_deliver(*, delivery_id: int) -> str:
    """Attempt one delivery that is due; record the answer; schedule the next attempt or give up."""
    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    now = timezone.now()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING or delivery.next_attempt_at > now:
        return "skipped"
    subscription = delivery.subscription
    if not subscription.active:
        return "skipped"
    status_code, error = _post(subscription, delivery)  # outside any transaction: no lock held on the network
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.status != WebhookDelivery.Status.PENDING:
            return "skipped"
        delivery.attempts += 1
        delivery.last_status_code = status_code
        if status_code is not None and 200 <= status_code < 300:
            delivery.status, delivery.delivered_at, delivery.last_error = WebhookDelivery.Status.DELIVERED, now, ""
            WebhookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=0)
        else:
            delivery.last_error = error or f"HTTP {status_code}"
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = WebhookDelivery.Status.FAILED
                _failed(subscription)
            else:
                delivery.next_attempt_at = now + timedelta(minutes=BACKOFF_MINUTES[delivery.attempts - 1])
        delivery.save()
        return delivery.status


def _failed(subscription: WebhookSubscription) -> None:
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    subscription.consecutive_failures += 1
    fields = ["consecutive_failures"]
    if subscription.active and subscription.consecutive_failures >= DISABLE_AFTER:
        subscription.active, subscription.disabled_at = False, timezone.now()
        fields += ["active", "disabled_at"]
        admins = partner_users_with_roles([subscription.partner_id], [Membership.Role.ADMIN])[subscription.partner_id]
        email_users(
            key=f"webhook-disabled:{subscription.pk}:{subscription.disabled_at.isoformat()}",
            users=admins,
            template="api/email/webhook_disabled",
            context={"subscription": subscription, "path": portal_url(reverse("api_webhooks"))},
        )
    subscription.save(update_fields=fields)


def webhook_deliveries_due(*, now=None) -> int:
    """Queue the next attempt of every pending delivery that is due (beat, every minute); return how many."""
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now, subscription__active=True
    ).only("pk", "attempts")[:1000]
    queued = 0
    with transaction.atomic():
        for delivery in due:
            _enqueue(delivery)
            queued += 1
    return queued
