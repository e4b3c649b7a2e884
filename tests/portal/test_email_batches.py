"""Emails queued in bulk (the nightly jobs): each once, in its reader's language, sent by a few batch tasks, and
one refused recipient holds back nobody else."""

import socket
from datetime import date
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy

from portal.emailcontext import Column, ModelRef, PortalLink
from portal.emails import (
    SEND_BATCH,
    UsersEmail,
    email_users,
    emails_queue,
    emails_queue_query,
    outbox_render,
    outbox_send_many,
)
from portal.models import OutboxEmail, TaskOutbox
from tests.factories.partners import UserFactory

pytestmark = pytest.mark.django_db

CONTEXT = {"partner": {"name": "ACME"}, "invitation": None, "url": "https://x.example/i/"}


def message(key, users):
    return UsersEmail(key=key, users=users, template="partners/email/invitation", context=CONTEXT)


def test_many_messages_are_queued_once_each_in_their_readers_language_by_a_few_send_tasks():
    french = UserFactory.create_batch(120, language="fr")
    english = UserFactory.create_batch(130, language="en")
    queued = emails_queue([message("tier-a", french), message("tier-b", english)])
    assert queued == 250 == OutboxEmail.objects.count()
    outbox_render()  # rendered as the send task renders it (not sent)
    subjects = dict(OutboxEmail.objects.values_list("key", "subject"))
    assert subjects[f"tier-a:user:{french[0].pk}"].startswith("[Portail partenaires] Vous êtes invité(e)")
    assert subjects[f"tier-b:user:{english[0].pk}"].startswith("[Partner Portal] ")
    addresses = {key: to for key, to in OutboxEmail.objects.values_list("key", "to")}
    assert all(addresses[f"tier-a:user:{user.pk}"] == [user.email] for user in french)
    batches = list(TaskOutbox.objects.filter(name="portal.tasks.outbox_send_batch").values_list("args", flat=True))
    assert sorted(len(ids) for (ids,) in batches) == [50, SEND_BATCH, SEND_BATCH]
    assert sorted(pk for (ids,) in batches for pk in ids) == sorted(OutboxEmail.objects.values_list("pk", flat=True))

    # Again, and through the one-message form: nothing new, no new task.
    assert emails_queue([message("tier-a", french), message("tier-b", english)]) == 0
    assert email_users(key="tier-a", users=french[:3], template="partners/email/invitation", context=CONTEXT) == 0
    assert (OutboxEmail.objects.count(), TaskOutbox.objects.count()) == (250, 3)


def test_the_in_process_mode_sends_every_batch(mailoutbox, django_capture_on_commit_callbacks):
    users = UserFactory.create_batch(SEND_BATCH + 5)
    with django_capture_on_commit_callbacks(execute=True):
        emails_queue([message("night", users)])
    assert len(mailoutbox) == SEND_BATCH + 5
    assert set(OutboxEmail.objects.values_list("status", flat=True)) == {"sent"}


@pytest.fixture
def refusing_smtp_server(settings):
    """A real SMTP server on 127.0.0.1 that refuses the addresses in its ``refused`` set (550)."""
    from aiosmtpd.controller import Controller

    received, refused = [], set()

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address in refused:
                return "550 5.1.1 mailbox unavailable"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            received.extend(envelope.rcpt_tos)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield received, refused
    finally:
        controller.stop()


def test_a_refused_recipient_fails_alone_and_the_retry_sends_only_it(
    refusing_smtp_server, django_capture_on_commit_callbacks
):
    received, refused = refusing_smtp_server
    users = UserFactory.create_batch(5)
    refused.add(users[2].email)
    with django_capture_on_commit_callbacks(execute=False):  # queued, not sent: the batch is sent below
        emails_queue([message("night", users)])
    ids = sorted(OutboxEmail.objects.values_list("pk", flat=True))

    with pytest.raises(Exception, match="mailbox unavailable|refused"):
        outbox_send_many(ids)
    assert sorted(received) == sorted(user.email for user in users if user is not users[2])
    failed = OutboxEmail.objects.get(status="failed")
    assert failed.to == [users[2].email] and failed.attempts == 1 and failed.last_error
    assert OutboxEmail.objects.filter(status="sent").count() == 4

    refused.clear()  # the mailbox is back: the task's retry sends the one left, nobody twice
    assert outbox_send_many(ids) == 1
    assert sorted(received) == sorted(user.email for user in users)


# The recipients' query of ``emails_queue_query``: every user of the ids, each with a total and a date.
RECIPIENTS_SQL = """
SELECT %s::text AS message_key, u.id AS user_id, u.email, u.language, %s::numeric AS total, %s::date AS day
FROM portal_user AS u WHERE u.id = ANY (%s)
"""


def test_a_query_queues_each_reader_the_email_emails_queue_queues(require_postgresql):
    users = [*UserFactory.create_batch(2, language="fr"), UserFactory(language=""), *UserFactory.create_batch(2)]
    context = {"partner": {"name": "ACME", "figures": [1, Decimal("2.50")]}, "path": PortalLink("deals:routed_list"),
               "user": users[0], "on": date(2027, 1, 31), "none": None}  # fmt: skip
    emails_queue([UsersEmail("listed", users, "partners/email/invitation", {**context, "total": Decimal("12.50")})])
    queried = {**context, "total": Column("total", "decimal"), "day": Column("day", "date"),
               "user": ModelRef("portal.user", Column("user_id"))}  # fmt: skip
    params = ["queried", Decimal("12.50"), date(2027, 1, 31), [user.pk for user in users]]
    assert emails_queue_query(query=RECIPIENTS_SQL, params=params, template="partners/email/invitation",
                              context=queried) == len(users)  # fmt: skip

    def written(prefix):
        rows = OutboxEmail.objects.filter(key__startswith=prefix).order_by("key")
        return [(row.key.split(":", 1)[1], row.to, row.language, row.template, row.context) for row in rows]

    listed, by_query = written("listed:"), written("queried:")
    for row in by_query:  # the query's own columns: the day, and each reader as its own user
        assert row[4].pop("day") == {"__t": "date", "v": "2027-01-31"}
        assert row[4]["user"] == row[4]["recipient"]
        row[4]["user"] = {**row[4]["user"], "r": listed[0][4]["user"]["r"], "pk": users[0].pk}
    assert by_query == listed
    assert {row[2] for row in by_query} == {"fr", "en"}
    # Queued again: nothing new, no new send task.
    tasks = TaskOutbox.objects.count()
    assert emails_queue_query(query=RECIPIENTS_SQL, params=params, template="t", context=queried) == 0
    assert TaskOutbox.objects.count() == tasks


def test_a_query_refuses_a_lazy_string_it_would_write_in_the_jobs_language(require_postgresql):
    with pytest.raises(TypeError, match="lazy string"):
        emails_queue_query(query=RECIPIENTS_SQL, params=["k", 1, None, []], template="t",
                           context={"title": gettext_lazy("Sales")})  # fmt: skip
