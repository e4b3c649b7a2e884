"""Two queues: a worker takes the jobs' tasks ("celery") before sending email or rendering statements ("email"),
so a night's chunks are not held back by the thousands of emails the chunks before them queued."""

from datetime import timedelta

import pytest
from django.conf import settings

from portal.celery import app
from portal.emails import email_enqueue
from portal.models import JobRun, OutboxEmail
from portal.outbox import task_enqueue, tasks_dispatch_pending
from tests.factories import MembershipFactory
from tests.portal.test_worker_faults import gold_on_2017_03_01, wait_until

pytestmark = pytest.mark.services
EMAILS = 6


def test_email_and_statement_tasks_are_routed_to_the_email_queue_and_every_worker_reads_both():
    route = app.amqp.router.route
    for name in ("portal.tasks.outbox_send", "portal.tasks.outbox_send_batch", "rebates.tasks.statements_email",
                 "rebates.tasks.statements_deliver", "rebates.tasks.statement_documents_render"):  # fmt: skip
        assert name in app.tasks or name.split(".")[0] in settings.INSTALLED_APPS
        assert route({}, name)["queue"].name == "email", name
    for name in (
        "portal.tasks.job_chunk_run",
        "portal.tasks.job_chunks_finish",
        "partners.tasks.tier_recompute_nightly",
    ):
        assert route({}, name)["queue"].name == "celery", name
    # A worker without -Q reads every queue of ``task_queues``: both.
    assert [queue.name for queue in settings.CELERY_TASK_QUEUES] == ["celery", "email"]
    assert sorted(["email", "celery"]) == ["celery", "email"]  # "sorted": jobs first
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["queue_order_strategy"] == "sorted"


def test_a_worker_runs_a_job_queued_after_a_backlog_of_emails_before_them(
    redis_server, broker_at, worker_factory, smtp_server
):
    broker_at(redis_server.url)
    user = MembershipFactory(role="admin").user
    for n in range(EMAILS):  # one send task each, queued (no worker yet)
        email_enqueue(key=f"backlog:{n}", to=user.email, language="en", template="api/email/webhook_disabled",
                      context={"subscription": {"url": f"https://crm.example.com/{n}"}, "path": "/api/"})  # fmt: skip
    gold_on_2017_03_01()
    task_enqueue("partners.tasks.tier_recompute_nightly", kwargs={"as_of": "2017-03-01"})  # queued last
    tasks_dispatch_pending(older_than=timedelta(0))

    worker_factory(broker=redis_server.url, env={"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(settings.EMAIL_PORT)})
    emails = OutboxEmail.objects.filter(key__startswith="backlog:")
    wait_until(lambda: emails.filter(status="sent").count() == EMAILS, what="the backlog to be sent")
    run = JobRun.objects.get(name="tiers.recompute", parent=None)
    assert run.finished_at is not None, "the job queued after the emails was still running when they were sent"
    first_sent = min(emails.values_list("sent_at", flat=True))
    assert run.finished_at < first_sent, "the job queued last ran before the emails queued first"
