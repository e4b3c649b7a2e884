"""A real Celery worker process on Redis runs a task and its effect lands in PostgreSQL."""

import time

import pytest

from portal.models import OutboxEmail
from portal.tasks import outbox_send


@pytest.mark.services
def test_a_real_worker_runs_a_task_and_writes_to_postgresql(celery_worker_process, settings):
    from portal.celery import app

    email = OutboxEmail.objects.create(key="worker-test", to=["someone@example.com"], subject="Hi", body="Hello")
    app.conf.task_always_eager = False
    outbox_send.apply_async(args=[email.pk], queue=celery_worker_process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        email.refresh_from_db()
        if email.status == OutboxEmail.Status.SENT:
            break
        time.sleep(0.3)
    assert email.status == OutboxEmail.Status.SENT
    assert email.attempts == 1
