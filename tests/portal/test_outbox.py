"""The email outbox: each message sent once; a failure is recorded for staff and retried."""

import pytest

from portal.emails import email_enqueue, outbox_render, outbox_send_one
from portal.models import OutboxEmail

pytestmark = pytest.mark.django_db


def queue(key="k1"):
    return email_enqueue(
        key=key, to="someone@example.com", language="fr", template="partners/email/invitation",
        context={"partner": {"name": "ACME"}, "invitation": None, "url": "https://x.example/i/"},
    )  # fmt: skip


def test_the_same_key_is_queued_and_sent_once(mailoutbox):
    assert queue() is not None
    assert queue() is None
    email = OutboxEmail.objects.get()
    assert outbox_send_one(email.pk) is True
    assert outbox_send_one(email.pk) is False
    assert len(mailoutbox) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("sent", 1)


def test_a_failed_send_is_recorded_and_can_be_retried(settings, mailoutbox):
    email = queue()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens there
    with pytest.raises(OSError):
        outbox_send_one(email.pk)
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("failed", 1)
    assert email.last_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert outbox_send_one(email.pk) is True
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == ("sent", 2, "")
    assert len(mailoutbox) == 1


def test_the_email_is_rendered_in_the_recipients_language():
    email = queue()
    outbox_render()  # rendered as the send task renders it (not sent)
    email.refresh_from_db()
    assert email.subject.startswith("[Portail partenaires] Vous êtes invité(e) à rejoindre l'équipe ACME")
