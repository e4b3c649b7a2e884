"""The task outbox: a task is a row written with the change that needs it, then handed to the broker after commit.

``task_enqueue`` is the only way application code queues work. Tasks are named, never imported, so a service
does not depend on its ``tasks`` module (no import cycle) and the kernel does not depend on the apps. A broker
that is down when the change commits fails nothing: the row stays undispatched, the error is recorded and
``tasks_dispatch_pending`` (beat) sends it once the broker is back.
"""

import logging
import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .celery import app
from .models import TaskOutbox

logger = logging.getLogger(__name__)

# The sweeper leaves rows this young to the after-commit dispatch of their own request.
SWEEP_GRACE = timedelta(seconds=30)
SWEEP_BATCH = 500


def task_enqueue(name: str, *, args: list | None = None, kwargs: dict | None = None, key: str = "") -> TaskOutbox:
    """Record task ``name`` in the current transaction and dispatch it after commit; return its row.

    ``key`` names the unit of work (``email:42``, ``statements_email:FY2018-Q1``): the same key queued again is
    the same row, dispatched once. Without a key every call is a new task.
    """
    row, created = TaskOutbox.objects.get_or_create(
        key=key or f"{name}:{uuid.uuid4().hex}",
        defaults={"name": name, "args": list(args or []), "kwargs": dict(kwargs or {})},
    )
    if created:
        # Robust: whatever goes wrong after the commit (the broker, even the database) is logged, never raised
        # into the request; the row is committed and the sweeper sends it. In-process mode with propagation on
        # (the tests) raises, so that a failing task fails its test.
        propagate = app.conf.task_always_eager and app.conf.task_eager_propagates
        transaction.on_commit(lambda: task_dispatch(row.pk), robust=not propagate)
    return row


def tasks_enqueue(name: str, calls: list[tuple[list, str]]) -> int:
    """``task_enqueue`` of many calls ``(args, key)`` of task ``name`` at once (a night's email batches): one
    read of the keys recorded before, one bulk insert, one read of the new rows; each new row is dispatched after
    commit, as ``task_enqueue`` does. Return how many were new."""
    keys = [key for _args, key in calls]
    existing = set(TaskOutbox.objects.filter(key__in=keys).values_list("key", flat=True))
    rows = [TaskOutbox(key=key, name=name, args=list(args)) for args, key in calls if key not in existing]
    if not rows:
        return 0
    TaskOutbox.objects.bulk_create(rows, ignore_conflicts=True)  # a key recorded meanwhile is that process's
    created = list(
        TaskOutbox.objects.filter(key__in=[row.key for row in rows], dispatched_at=None).values_list("pk", flat=True)
    )
    propagate = app.conf.task_always_eager and app.conf.task_eager_propagates
    # A row another process recorded meanwhile may be dispatched twice: each is locked and sent once.
    transaction.on_commit(lambda: tasks_dispatch(sorted(created)), robust=not propagate)
    return len(created)


def tasks_dispatch(task_ids: list[int]) -> int:
    """``task_dispatch`` of many rows in one transaction (one lock query, one update), not one transaction per
    row: a night's email batches. In-process mode runs them one by one. Stops at the first broker failure,
    recorded on its row; the rows not sent are left to the sweeper. Return how many went."""
    if app.conf.task_always_eager:
        return sum(_dispatch(task_id) == SENT for task_id in task_ids)
    with transaction.atomic():
        rows = list(
            TaskOutbox.objects.select_for_update(skip_locked=True)
            .filter(pk__in=task_ids, dispatched_at=None)
            .order_by("pk")
        )
        tried = []
        for row in rows:
            row.attempts += 1
            tried.append(row)
            try:
                app.send_task(row.name, args=row.args, kwargs=row.kwargs)
            except Exception as error:  # the broker is down or refused: keep the rows for the sweeper
                row.last_error = f"{type(error).__name__}: {error}"[:2000]
                logger.warning("task %s (%s) not dispatched, the sweeper retries it: %s", row.name, row.key, error)
                break
            row.dispatched_at = timezone.now()
            row.last_error = ""
        TaskOutbox.objects.bulk_update(tried, ["attempts", "last_error", "dispatched_at"])
    return sum(row.dispatched_at is not None for row in tried)


def task_dispatch(task_id: int) -> bool:
    """Hand one recorded task to the broker (or run it, in eager mode); return True when it went.

    Never raises for a broker failure: the error is logged and recorded on the row for the sweeper.
    """
    return _dispatch(task_id) == SENT


SENT, SKIPPED, FAILED = "sent", "skipped", "failed"


def _dispatch(task_id: int) -> str:
    eager = app.conf.task_always_eager
    with transaction.atomic():
        row = TaskOutbox.objects.select_for_update(skip_locked=True).filter(pk=task_id, dispatched_at=None).first()
        if row is None:  # dispatched already, or being dispatched by another sweeper right now
            return SKIPPED
        row.attempts += 1
        if eager:  # in-process mode (development, tests): the task runs below, after this row is marked
            row.dispatched_at = timezone.now()
            row.last_error = ""
            row.save(update_fields=["attempts", "last_error", "dispatched_at"])
        else:
            try:
                app.send_task(row.name, args=row.args, kwargs=row.kwargs)
            except Exception as error:  # the broker is down or refused: keep the row for the sweeper
                row.last_error = f"{type(error).__name__}: {error}"[:2000]
                row.save(update_fields=["attempts", "last_error"])
                logger.warning("task %s (%s) not dispatched, the sweeper retries it: %s", row.name, row.key, error)
                return FAILED
            row.dispatched_at = timezone.now()
            row.last_error = ""
            row.save(update_fields=["attempts", "last_error", "dispatched_at"])
    if eager:
        app.loader.import_default_modules()
        app.tasks[row.name].apply(args=row.args, kwargs=row.kwargs, throw=app.conf.task_eager_propagates)
    return SENT


def tasks_dispatch_pending(*, older_than: timedelta = SWEEP_GRACE) -> int:
    """Dispatch every recorded task that is not dispatched yet (oldest first); return how many went.

    Stops at the first broker failure: the next sweep resumes. Safe to run twice at once (rows are locked
    while dispatched, and a locked row is skipped).
    """
    cutoff = timezone.now() - older_than
    ids = list(
        TaskOutbox.objects.filter(dispatched_at=None, created_at__lte=cutoff)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    sent = 0
    for task_id in ids:
        outcome = _dispatch(task_id)
        if outcome == FAILED:
            break  # the broker refused it: no point trying the rest now
        sent += outcome == SENT
    return sent


def tasks_dispatched_prune(*, older_than: timedelta = timedelta(days=30)) -> int:
    """Delete dispatched rows older than ``older_than`` (the outbox is a queue, not an archive)."""
    deleted, _rows = TaskOutbox.objects.filter(dispatched_at__lt=timezone.now() - older_than).delete()
    return deleted
