"""Emails through the outbox: rendered in the recipient's language, keyed so each is sent once.

Queueing stores the template, the language and the context (``portal.emailcontext``: references to model
instances, not their text); the send task renders the email, keeps the subject and body it sent on the row, then
sends it. A nightly job queueing thousands of emails renders none of them (docs/performance.md).
"""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.template import Context, engines
from django.utils import timezone, translation
from django.utils.translation import gettext

from .bulkcopy import staging_table
from .emailcontext import Column, ModelRef, context_encode, context_sql, contexts_decode
from .models import OutboxEmail
from .outbox import task_enqueue, tasks_enqueue

logger = logging.getLogger(__name__)

OUTBOX_SEND_TASK = "portal.tasks.outbox_send"
OUTBOX_SEND_BATCH_TASK = "portal.tasks.outbox_send_batch"


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


@dataclass(frozen=True)
class Recipient:
    """A user to email as plain values, for a job that reads thousands of them (``partner_recipients``): the
    email's ``recipient`` is then a reference to the user, read when it is rendered, as an instance's is."""

    pk: int
    email: str
    language: str


@dataclass(frozen=True)
class UsersEmail:
    """One message to a set of users, each getting it in their own language (``emails_queue``)."""

    key: str
    users: Iterable
    template: str
    context: dict
    attachment: tuple[str, bytes, str] | None = None


# Emails queued together are sent by one task per this many (a night's tier changes: a few tasks, not thousands).
SEND_BATCH = 100


def email_users(*, key: str, users, template: str, context: dict, attachment=None) -> int:
    """Queue one email per user, each in that user's language; return how many were new."""
    return emails_queue([UsersEmail(key, users, template, context, attachment)])


def emails_queue(messages: Iterable[UsersEmail]) -> int:
    """Queue every message to its users at once, each once per ``<key>:user:<id>``; return how many were new.

    The set-based form of ``email_enqueue`` for the nightly jobs: one query for the keys queued before, the new
    rows written with one bulk insert, and one send task per ``SEND_BATCH`` emails, where one message at a time
    cost a savepoint, three queries and a task each (docs/performance.md: most of a night's tier recompute).
    """
    pending = {}
    for message in messages:
        for user in message.users:
            pending[f"{message.key}:user:{user.pk}"] = (message, user)
    if not pending:
        return 0
    queued_before = set(_outbox_ids(list(pending)))
    rows = []
    encoded = {}  # a message's context is encoded once per language, whatever its number of recipients
    for key, (message, user) in pending.items():
        if key in queued_before:
            continue
        language = user.language or settings.LANGUAGE_CODE
        if (id(message), language) not in encoded:
            encoded[id(message), language] = _context_encoded(message.context, language)
        name, content, content_type = message.attachment or ("", None, "")
        rows.append(
            _OutboxRow(
                key,
                [user.email],
                message.template,
                language,
                {**encoded[id(message), language], **context_encode({"recipient": _recipient(user)})},
                name,
                content,
                content_type,
            )
        )
    if not rows:
        return 0
    _outbox_insert(rows)
    ids = list(_outbox_ids([row.key for row in rows]).values())
    # A row another process inserted between the check and the insert is in ``ids`` too: its second send task
    # finds it sent (or locked) and does nothing, so nobody gets the message twice.
    _sends_queue(ids)
    return len(ids)


def emails_queue_query(*, query: str, params: list, template: str, context: dict) -> int:
    """``emails_queue`` of one email per row of ``query`` (PostgreSQL), written by one ``INSERT … SELECT``: for a
    job whose recipients and values are rows already (a night's routing offers, joined to their partners' users),
    where reading the users, encoding a context per email and copying the rows back cost more than the job's
    decisions. Return how many were new.

    ``query`` gives each email's ``message_key`` (``emails_queue``'s message key), ``user_id``, ``email`` and
    ``language`` (``""``: the default), and the columns the ``Column`` values of ``context`` name; the email's key
    is ``<message_key>:user:<user_id>`` and its context has the ``recipient``, as ``emails_queue`` makes them. A
    key queued before (or by another process meanwhile) is skipped, and that process sends its own row.
    """
    table = connection.ops.quote_name(OutboxEmail._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(OutboxEmail._meta.get_field(name).column) for name in COPIED)
    recipient = ModelRef(settings.AUTH_USER_MODEL.lower(), Column("user_id"))
    context_expression, context_params = context_sql({**context, "recipient": recipient}, "q")
    # Only the model's own table and column names and the caller's query are interpolated; values are parameters.
    sql = f"""
        INSERT INTO {table} ({columns})
        SELECT q.message_key || ':user:' || q.user_id, jsonb_build_array(q.email), '', '', '', %s::text,
               COALESCE(NULLIF(q.language, ''), %s::text), {context_expression}, '', '', NULL, %s::text, 0, '',
               %s::timestamptz
        FROM ({query}) AS q
        ON CONFLICT (key) DO NOTHING
        RETURNING id
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [template, settings.LANGUAGE_CODE, *context_params, OutboxEmail.Status.PENDING.value,
                             timezone.now(), *params])  # fmt: skip
        ids = [row[0] for row in cursor.fetchall()]
    _sends_queue(ids)
    return len(ids)


def _sends_queue(ids: list[int]) -> None:
    """The send tasks of the new outbox rows ``ids``: one per ``SEND_BATCH`` of them, in id order."""
    if not ids:
        return
    ids = sorted(ids)
    batches = [ids[start : start + SEND_BATCH] for start in range(0, len(ids), SEND_BATCH)]
    singles = [batch for batch in batches if len(batch) == 1]
    for batch in singles:
        _send_queue(batch)
    # The batches' send tasks recorded at once: one task row each, as ``_send_queue`` records them.
    tasks_enqueue(
        OUTBOX_SEND_BATCH_TASK,
        [([batch], _batch_key(batch)) for batch in batches if len(batch) > 1],
    )


def _recipient(user):
    if isinstance(user, Recipient):
        return ModelRef(settings.AUTH_USER_MODEL.lower(), user.pk)
    return user


# The columns ``_outbox_insert`` copies (the others keep their defaults: id, sent_at, rendered_at).
COPIED = (
    "key", "to", "subject", "body", "html_body", "template", "language", "context", "attachment_name",
    "attachment_content_type", "attachment", "status", "attempts", "last_error", "created_at",
)  # fmt: skip


def _outbox_insert(rows: list["_OutboxRow"]) -> None:
    """Insert the new outbox rows, a key queued meanwhile by another process skipped.

    On PostgreSQL through ``COPY`` into a staging table, then one ``INSERT … SELECT … ON CONFLICT DO NOTHING``: a
    bulk insert of thousands of rows with their JSON contexts spent most of its time in psycopg building the
    statement's parameter list (docs/performance.md). Elsewhere (SQLite) Django's bulk insert.
    """
    if connection.vendor != "postgresql":
        OutboxEmail.objects.bulk_create(
            [OutboxEmail(**row._asdict()) for row in rows], batch_size=500, ignore_conflicts=True
        )
        return
    table = connection.ops.quote_name(OutboxEmail._meta.db_table)
    fields = [OutboxEmail._meta.get_field(name).column for name in COPIED]
    columns = ", ".join(connection.ops.quote_name(column) for column in fields)
    now = timezone.now()
    values = (
        (row.key, json.dumps(row.to), row.subject, row.body, "", row.template, row.language, json.dumps(row.context),
         row.attachment_name, row.attachment_content_type,
         bytes(row.attachment) if row.attachment is not None else None, OutboxEmail.Status.PENDING.value, 0, "", now)
        for row in rows
    )  # fmt: skip
    # Only the model's own table and column names are interpolated; every value is copied as data.
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        staging_table(cursor, "outbox_staging", OutboxEmail, fields, values),
    ):
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM outbox_staging ON CONFLICT (key) DO NOTHING"  # noqa: S608
        )


def _outbox_ids(keys: list[str]) -> dict[str, int]:
    """The outbox rows among ``keys``: key → id (on PostgreSQL one query with the keys as an array, elsewhere a
    thousand keys a query)."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(OutboxEmail._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT key, id FROM {table} WHERE key = ANY(%s)", [keys])  # noqa: S608
            return dict(cursor.fetchall())
    found = {}
    for start in range(0, len(keys), 1000):
        found.update(OutboxEmail.objects.filter(key__in=keys[start : start + 1000]).values_list("key", "pk"))
    return found


def _send_queue(ids: list[int]) -> None:
    if len(ids) == 1:
        task_enqueue(OUTBOX_SEND_TASK, args=[ids[0]], key=f"email:{ids[0]}")
    else:
        task_enqueue(OUTBOX_SEND_BATCH_TASK, args=[ids], key=_batch_key(ids))


def _batch_key(ids: list[int]) -> str:
    """The task key of one send task for the sorted ``ids``: the same batch queued twice is one task."""
    return f"emails:{ids[0]}-{ids[-1]}:{len(ids)}"


def _context_encoded(context: dict, language: str) -> dict:
    """``context`` encoded for storage, a lazy string in it translated to the reader's ``language``."""
    with translation.override(language):
        return context_encode(context)


class _OutboxRow(NamedTuple):
    """An outbox row to insert, as plain values (no model instance per email: thousands a night)."""

    key: str
    to: list
    template: str
    language: str
    context: dict
    attachment_name: str
    attachment: bytes | None
    attachment_content_type: str
    subject: str = ""
    body: str = ""


def _outbox_row(*, key, to, language, template, context, attachment) -> _OutboxRow:
    """The outbox row of ``template`` for ``to`` in ``language``, rendered by its send task.

    The context is encoded now (``TypeError`` for a value that cannot be stored), so a job learns of a bad value
    when it queues, not a worker when it sends.
    """
    name, content, content_type = attachment or ("", None, "")
    language = language or settings.LANGUAGE_CODE
    encoded = _context_encoded(context, language)
    return _OutboxRow(key, [to], template, language, encoded, name, content, content_type)


def email_render(template: str, language: str, context: dict) -> tuple[str, str]:
    """The subject (with the prefix) and body of ``template`` in ``language``."""
    language = language or settings.LANGUAGE_CODE
    with translation.override(language):
        context = {**context, "language": language}
        # The prefix too is in the reader's language, so the stored subject is exactly the one sent.
        subject = subject_prefix() + render_text(f"{template}_subject.txt", context).strip().replace("\n", " ")
        body = render_text(f"{template}_body.txt", context)
    return subject[:300], body


def _unrendered(email: OutboxEmail) -> bool:
    # A row queued before rendering moved to the send task has no template: its stored text is what is sent.
    return bool(email.template) and email.rendered_at is None


def _render(emails: list[OutboxEmail]) -> list[Exception | None]:
    """Render each of ``emails`` onto its row (unsaved); the error of each that failed, else None.

    The contexts are decoded together: one query per model type for the whole batch.
    """
    errors = []
    now = timezone.now()
    for email, context in zip(emails, contexts_decode([email.context or {} for email in emails]), strict=True):
        if isinstance(context, Exception):
            errors.append(context)
            continue
        try:
            email.subject, email.body = email_render(email.template, email.language, context)
        except Exception as error:  # a template error of any kind fails this email only
            errors.append(error)
            continue
        email.rendered_at = now
        errors.append(None)
    return errors


def _render_failed(email: OutboxEmail, error: Exception) -> None:
    email.status = OutboxEmail.Status.FAILED
    email.attempts += 1
    email.last_error = f"{type(error).__name__}: {error}"[:2000]
    email.save(update_fields=["status", "attempts", "last_error"])
    logger.warning("email %s could not be rendered: %s", email.pk, email.last_error)


RENDERED_FIELDS = ["subject", "body", "rendered_at"]


def _render_batch(email_ids: list[int]) -> set[int]:
    """Render the unrendered emails of ``email_ids`` and store their text; return the ids that failed to render.

    Not locked: two workers rendering the same row write the same text; the send locks the row.
    """
    emails = list(
        OutboxEmail.objects.filter(pk__in=email_ids, rendered_at=None)
        .exclude(template="")
        .exclude(status=OutboxEmail.Status.SENT)
        .only("pk", "template", "language", "context", "status", "attempts", "last_error", "rendered_at")
    )
    if not emails:
        return set()
    failed, rendered = set(), []
    for email, error in zip(emails, _render(emails), strict=True):
        if error is None:
            rendered.append(email)
        else:
            _render_failed(email, error)
            failed.add(email.pk)
    OutboxEmail.objects.bulk_update(rendered, RENDERED_FIELDS, batch_size=SEND_BATCH)
    return failed


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
    if OutboxEmail.objects.filter(key=key).exists():
        return None
    row = _outbox_row(key=key, to=to, language=language, template=template, context=context, attachment=attachment)
    written = ("to", "template", "language", "context", "attachment_name", "attachment", "attachment_content_type")
    email, created = OutboxEmail.objects.get_or_create(
        key=key, defaults={field: getattr(row, field) for field in written}
    )
    if not created:
        return None
    _send_queue([email.pk])
    return email


def outbox_send_many(email_ids: list[int]) -> int:
    """Render the batch (one query per model type), then send each of ``email_ids`` (``outbox_send_one``); return
    how many went now.

    One failure does not hold back the others: every email is tried, then the first SMTP error is raised so the
    task retries, and the retry sends only what is still unsent. An email that fails to render is marked failed
    (the sweeper tries it again) and not raised: the retry of a batch would not render it better.
    """
    sent, failure = 0, None
    failed_to_render = _render_batch(email_ids)
    for email_id in email_ids:
        if email_id in failed_to_render:
            continue
        try:
            sent += outbox_send_one(email_id)
        except Exception as error:  # recorded on the row by outbox_send_one
            failure = failure or error
    if failure is not None:
        raise failure
    return sent


def outbox_send_one(email_id: int) -> bool:
    """Render (if not yet) and send one pending outbox email; return True when it went out now.

    The row stays locked while the SMTP conversation runs, so two workers cannot both send it. An email whose
    template fails to render (or whose context names a deleted row) is marked failed with its error.
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
        if _unrendered(email):
            [error] = _render([email])
            if error is not None:
                _render_failed(email, error)
                return False
            email.save(update_fields=RENDERED_FIELDS)
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


def outbox_render(email_ids: list[int] | None = None) -> int:
    """Render the queued emails not rendered yet (``email_ids``, or all pending) as their send task would, without
    sending them: the admin and the tests read what will be sent. Return how many were rendered."""
    pending = OutboxEmail.objects.filter(rendered_at=None).exclude(template="").exclude(status=OutboxEmail.Status.SENT)
    if email_ids is not None:
        pending = pending.filter(pk__in=email_ids)
    ids = list(pending.values_list("pk", flat=True))
    for start in range(0, len(ids), SEND_BATCH):
        _render_batch(ids[start : start + SEND_BATCH])
    return len(ids)
