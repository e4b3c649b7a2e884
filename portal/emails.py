"""Emails through the outbox: rendered in the recipient's language, keyed so each is sent once."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import Context, engines
from django.utils import timezone, translation
from django.utils.translation import gettext

from .models import OutboxEmail
from .outbox import task_enqueue

logger = logging.getLogger(__name__)

OUTBOX_SEND_TASK = "portal.tasks.outbox_send"


def portal_url(path: str) -> str:
    """An absolute link for an email: emails are read outside the portal, so a bare path is useless."""
    return settings.PORTAL_BASE_URL.rstrip("/") + path


DEFAULT_SUBJECT_PREFIX = "[Partner Portal]"


def subject_prefix() -> str:
    """The subject prefix in the active language: "[Portail partenaires] " for a French reader.

    ``ACCOUNT_EMAIL_SUBJECT_PREFIX`` names it; the portal's own prefix is translated, one set otherwise is kept.
    """
    prefix = settings.ACCOUNT_EMAIL_SUBJECT_PREFIX
    if prefix.strip() == DEFAULT_SUBJECT_PREFIX:
        translated = gettext("[Partner Portal]")
        return f"{translated} "
    return prefix


def render_text(template_name: str, context: dict) -> str:
    """Render a plain-text template (an email's subject or text body) without HTML escaping.

    A text part is not HTML: escaped, "L'Atelier & Fils" would reach the reader as "L&#x27;Atelier &amp; Fils".
    HTML templates keep Django's autoescaping (``render_to_string``).
    """
    engine = engines["django"].engine
    return engine.get_template(template_name).render(Context(context, autoescape=False))


def email_users(*, key: str, users, template: str, context: dict, attachment=None) -> int:
    """Queue one email per user, each in that user's language; return how many were new."""
    queued = 0
    for user in users:
        email = email_enqueue(
            key=f"{key}:user:{user.pk}",
            to=user.email,
            language=user.language,
            template=template,
            context={**context, "recipient": user},
            attachment=attachment,
        )
        queued += email is not None
    return queued


def email_enqueue(
    *,
    key: str,
    to: str,
    language: str | None,
    template: str,
    context: dict,
    attachment: tuple[str, bytes, str] | None = None,
) -> OutboxEmail | None:
    """Queue ``templates/<template>_subject.txt`` / ``_body.txt`` to ``to`` in ``language``, once per key.

    ``key`` names the message and its recipient (e.g. ``statement:42:user:7``). Return the new outbox
    row, or ``None`` when that key was queued before: nothing is sent twice.
    """
    full_key = key
    if OutboxEmail.objects.filter(key=full_key).exists():
        return None
    language = language or settings.LANGUAGE_CODE
    with translation.override(language):
        context = {**context, "language": language}
        # The prefix too is in the reader's language, so the stored subject is exactly the one sent.
        subject = subject_prefix() + render_text(f"{template}_subject.txt", context).strip().replace("\n", " ")
        body = render_text(f"{template}_body.txt", context)
    name, content, content_type = attachment or ("", None, "")
    email, created = OutboxEmail.objects.get_or_create(
        key=full_key,
        defaults={
            "to": [to],
            "subject": subject[:300],
            "body": body,
            "attachment_name": name,
            "attachment": content,
            "attachment_content_type": content_type,
        },
    )
    if not created:
        return None
    task_enqueue(OUTBOX_SEND_TASK, args=[email.pk], key=f"email:{email.pk}")
    return email


def outbox_send_one(email_id: int) -> bool:
    """Send one pending outbox email; return True when it went out now.

    The row stays locked while the SMTP conversation runs, so two workers cannot both send it.
    """
    failure = None
    with transaction.atomic():
        email = (
            OutboxEmail.objects.select_for_update(skip_locked=True)
            .filter(pk=email_id)
            .exclude(status=OutboxEmail.Status.SENT)
            .first()
        )
        if email is None:
            return False
        message = EmailMultiAlternatives(
            subject=email.subject,
            body=email.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=email.to,
        )
        if email.attachment_name and email.attachment is not None:
            message.attach(email.attachment_name, bytes(email.attachment), email.attachment_content_type)
        email.attempts += 1
        try:
            message.send()
        except Exception as error:  # SMTP and network errors of every kind are recorded and retried
            # Recorded (below) and re-raised so the task retries; the save must not roll back with the raise.
            email.status = OutboxEmail.Status.FAILED
            email.last_error = f"{type(error).__name__}: {error}"[:2000]
            failure = error
        else:
            email.status = OutboxEmail.Status.SENT
            email.sent_at = timezone.now()
            email.last_error = ""
        email.save(update_fields=["status", "attempts", "last_error", "sent_at"])
    if failure is not None:
        logger.warning("email %s failed: %s", email.pk, email.last_error)
        raise failure
    return True
