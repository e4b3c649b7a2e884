"""The task outbox: a task is recorded in the transaction of its change, dispatched by name after commit; a broker
that is down fails nothing (no 500 after a commit) and the sweeper dispatches what was left, once."""

import time
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from deals.models import Registration
from partners.models import Tier
from portal.celery import app
from portal.emails import email_enqueue
from portal.models import OutboxEmail, TaskOutbox
from portal.outbox import task_dispatch, task_enqueue, tasks_dispatch_pending, tasks_dispatched_prune, tasks_enqueue
from tests.conftest import _free_port
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def queue_email(key="k1"):
    return email_enqueue(
        key=key, to="someone@example.com", language="en", template="partners/email/invitation",
        context={"partner": {"name": "ACME"}, "invitation": None, "url": "https://x.example/i/"},
    )  # fmt: skip


def closed_broker() -> str:
    return f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there: the broker is down


def test_a_task_is_recorded_with_the_change_and_dispatched_after_commit(django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        email = queue_email()
    row = TaskOutbox.objects.get()
    assert (row.name, row.args, row.key, row.dispatched_at) == (
        "portal.tasks.outbox_send",
        [email.pk],
        f"email:{email.pk}",
        None,
    )
    assert mailoutbox == []
    for callback in callbacks:
        callback()
    row.refresh_from_db()
    assert row.dispatched_at is not None and row.attempts == 1
    assert len(mailoutbox) == 1


def test_a_rolled_back_change_leaves_no_task():
    with pytest.raises(RuntimeError), transaction.atomic():
        task_enqueue("portal.tasks.outbox_send", args=[1], key="rolled-back")
        raise RuntimeError("the change failed")
    assert not TaskOutbox.objects.exists()


def test_the_same_key_is_one_task_dispatched_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = task_enqueue("portal.tasks.outbox_send_pending", key="sweep:1")
        second = task_enqueue("portal.tasks.outbox_send_pending", key="sweep:1")
    assert first.pk == second.pk and len(callbacks) == 1
    assert task_dispatch(first.pk) is False  # already dispatched: nothing sent twice
    assert TaskOutbox.objects.get().attempts == 1


def test_a_broker_that_is_down_fails_nothing_and_the_sweeper_sends_the_task_later(
    broker_at, django_capture_on_commit_callbacks, mailoutbox
):
    broker_at(closed_broker())
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        email = queue_email()
    assert time.monotonic() - started < 10  # the request does not hang on the dead broker
    row = TaskOutbox.objects.get()
    assert row.dispatched_at is None and row.attempts == 1 and row.last_error
    assert tasks_dispatch_pending(older_than=timedelta(0)) == 0  # still down: left for the next sweep
    app.conf.task_always_eager = True  # the broker is back (in-process here; a real worker in test_redis_outage)
    assert tasks_dispatch_pending() == 0  # too young: its own request may still dispatch it
    assert tasks_dispatch_pending(older_than=timedelta(0)) == 1
    assert tasks_dispatch_pending(older_than=timedelta(0)) == 0
    row.refresh_from_db()
    assert row.dispatched_at is not None and row.attempts == 3 and row.last_error == ""
    assert len(mailoutbox) == 1
    assert OutboxEmail.objects.get(pk=email.pk).status == OutboxEmail.Status.SENT


def test_a_database_failure_after_the_commit_is_logged_not_raised(
    broker_at, django_capture_on_commit_callbacks, django_db_blocker, caplog
):
    broker_at(closed_broker())
    capture = django_capture_on_commit_callbacks(execute=True)
    capture.__enter__()
    task_enqueue("portal.tasks.outbox_send_pending", key="after-commit")
    with django_db_blocker.block():  # the database goes away between the commit and the dispatch
        capture.__exit__(None, None, None)  # runs the after-commit dispatch: no exception reaches the request
    assert any("in on_commit()" in record.getMessage() for record in caplog.records)  # logged for the operator
    row = TaskOutbox.objects.get()
    assert row.dispatched_at is None and row.attempts == 0  # committed, untouched: the sweeper will send it


def test_dispatched_tasks_are_pruned_after_a_month_and_pending_ones_kept():
    old = timezone.now() - timedelta(days=31)
    TaskOutbox.objects.create(name="x", key="old-sent", dispatched_at=old)
    TaskOutbox.objects.create(name="x", key="new-sent", dispatched_at=timezone.now())
    TaskOutbox.objects.create(name="x", key="old-pending")
    assert tasks_dispatched_prune() == 1
    assert set(TaskOutbox.objects.values_list("key", flat=True)) == {"new-sent", "old-pending"}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_registering_a_deal_while_the_broker_is_down_is_no_500_after_the_commit(client, broker_at):
    """Regression: the registration was committed, then queueing its email raised and the page was a 500."""
    gold = Tier.objects.get(code="gold")
    member = MembershipFactory(role="sales", partner=PartnerFactory(tier=gold, computed_tier=gold))
    client.force_login(member.user)
    broker_at(closed_broker())
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
    registration = Registration.objects.get()
    assert response.status_code == 302
    assert registration.status == Registration.Status.APPROVED  # auto-approved: its email is queued
    pending = TaskOutbox.objects.get(name="portal.tasks.outbox_send")
    assert pending.dispatched_at is None and pending.last_error
    assert OutboxEmail.objects.filter(pk=pending.args[0], status=OutboxEmail.Status.PENDING).exists()


def test_the_admin_retry_action_queues_the_send_through_the_outbox(
    rf, broker_at, django_capture_on_commit_callbacks, mailoutbox
):
    from django.contrib import admin
    from django.contrib.messages.storage.fallback import FallbackStorage

    from portal.admin import OutboxEmailAdmin
    from tests.factories import UserFactory

    email = OutboxEmail.objects.create(
        key="failed-1", to=["a@example.com"], subject="Hi", body="Hello", status="failed"
    )
    request = rf.post("/admin/portal/outboxemail/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    request.session = {}
    request._messages = FallbackStorage(request)
    broker_at(closed_broker())
    with django_capture_on_commit_callbacks(execute=True):  # the broker is down: the action still answers
        OutboxEmailAdmin(OutboxEmail, admin.site).retry(request, OutboxEmail.objects.all())
    task = TaskOutbox.objects.get()
    assert (task.name, task.args, task.dispatched_at) == ("portal.tasks.outbox_send", [email.pk], None)
    assert task.last_error
    app.conf.task_always_eager = True  # the broker is back: the sweeper sends it
    assert tasks_dispatch_pending(older_than=timedelta(0)) == 1
    assert [message.subject for message in mailoutbox] == ["Hi"]  # the subject as stored


def test_tasks_queued_together_are_recorded_once_and_dispatched_in_one_pass(
    broker_at, django_capture_on_commit_callbacks
):
    """``tasks_enqueue`` (a night's email batches): each key is one row, sent once after commit; a key queued
    again records nothing; with the broker down the first row keeps the error and every row is left to the
    sweeper, which sends each once."""
    broker_at("memory://")
    calls = [([[1, 2]], "emails:1-2:2"), ([[3, 4]], "emails:3-4:2")]
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks_enqueue("portal.tasks.outbox_send_batch", calls) == 2
    assert sorted(TaskOutbox.objects.values_list("key", "attempts")) == [("emails:1-2:2", 1), ("emails:3-4:2", 1)]
    assert not TaskOutbox.objects.filter(dispatched_at=None).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks_enqueue("portal.tasks.outbox_send_batch", calls) == 0

    broker_at(closed_broker())
    down = [([[5]], "emails:5"), ([[6]], "emails:6")]
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks_enqueue("portal.tasks.noop_for_test", down) == 2
    first, second = TaskOutbox.objects.filter(key__in=["emails:5", "emails:6"]).order_by("pk")
    assert (first.attempts, bool(first.last_error), first.dispatched_at) == (1, True, None)
    assert (second.attempts, second.last_error, second.dispatched_at) == (0, "", None)
    broker_at("memory://")
    assert tasks_dispatch_pending(older_than=timedelta(0)) == 2
    assert not TaskOutbox.objects.filter(dispatched_at=None).exists()
