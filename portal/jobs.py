"""Claim a periodic job for one period, so it is applied once however often it is started.

A second beat, a broker redelivery or a manual re-run of ``(name, period)`` finds the run finished and
does nothing; ``force=True`` re-runs it, which is safe because every job is idempotent. The job body runs
inside the transaction that holds the claim row locked, so two copies at once run one after the other,
and a run killed half-way rolls back entirely and can simply be started again.

A claim made by a task (``dated_job_task``) records that task and its resolved arguments; a claim left
unfinished because its worker died is found by ``job_claims_redispatch`` (beat) and dispatched again, on the
same as-of date, without waiting for the broker's redelivery.
"""

import inspect
import logging
from collections.abc import Callable
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from .celery import IDEMPOTENT
from .fiscal import parse_iso_date
from .models import JobRun
from .outbox import task_enqueue

logger = logging.getLogger(__name__)

# A claim younger than this may be between its creation and its lock: the sweeper leaves it alone.
REDISPATCH_AFTER = timedelta(minutes=2)
# A job that fails every time is retried this often, then left for staff (``JobRun`` in the admin).
MAX_REDISPATCHES = 5

# (task name, keyword arguments) of the dated job task running in this context, recorded on its claims.
_current_task: ContextVar[tuple[str, dict] | None] = ContextVar("portal_job_task", default=None)


def current_task_claim() -> dict:
    """The task fields of a claim made now: the dated job task running in this context, if any."""
    task = _current_task.get()
    return {"task_name": task[0], "task_kwargs": task[1]} if task else {}


def job_run_once(name: str, period: str, work: Callable[[], dict[str, Any] | None], *, force: bool = False):
    """Run ``work()`` for ``(name, period)`` unless it already ran; return its result, or ``None`` if skipped."""
    recorded = current_task_claim()
    try:
        with transaction.atomic():
            _run, created = JobRun.objects.get_or_create(name=name, period=str(period), defaults=recorded)
            if not created and recorded:
                JobRun.objects.filter(name=name, period=str(period), task_name="").update(**recorded)
    except IntegrityError:  # a concurrent claimer created it first: fine, the row exists now
        pass
    with transaction.atomic():
        run = JobRun.objects.select_for_update().get(name=name, period=str(period))
        if run.finished_at is not None and not force:
            return None
        result = work() or {}
        run.finished_at = timezone.now()
        run.runs += 1
        run.result = result
        run.save(update_fields=["finished_at", "runs", "result"])
    return result


def dated_job_task(name: str):
    """Declare the Celery task of a dated job: ``func(*, as_of: date[, force: bool])``.

    The task takes ``as_of`` as an ISO date (default: today, resolved once) and ``force``; it acknowledges late
    (a redelivery is a no-op on a finished claim), and the claims it makes remember the resolved date, so a
    re-dispatch of a killed run computes the same day, not the day it is re-run.
    """

    def decorate(func):
        takes_force = "force" in inspect.signature(func).parameters

        def run(as_of: str | None = None, force: bool = False):
            day = parse_iso_date(as_of) if as_of else timezone.localdate()
            token = _current_task.set((name, {"as_of": day.isoformat()}))
            try:
                return func(as_of=day, force=force) if takes_force else func(as_of=day)
            finally:
                _current_task.reset(token)

        run.__doc__, run.__module__, run.__qualname__ = func.__doc__, func.__module__, func.__qualname__
        run.__name__ = func.__name__
        return shared_task(name=name, **IDEMPOTENT)(run)

    return decorate


def job_claims_redispatch(*, older_than: timedelta = REDISPATCH_AFTER) -> int:
    """Dispatch again, through the task outbox, every claim left unfinished by a dead run; return how many.

    A running job holds its claim row locked, so the rows this can lock (``skip_locked``) belong to runs that
    died. Each claim is re-dispatched at most ``MAX_REDISPATCHES`` times, once per sweep.
    """
    cutoff = timezone.now() - older_than
    with transaction.atomic():
        stale = list(
            JobRun.objects.select_for_update(skip_locked=True)
            .filter(finished_at=None, created_at__lte=cutoff, redispatches__lt=MAX_REDISPATCHES, parent=None)
            .exclude(task_name="")
            .exclude(Exists(JobRun.objects.filter(parent=OuterRef("pk"))))  # chunked: portal.chunks sweeps them
            .order_by("created_at", "pk")
        )
        for run in stale:
            task_enqueue(run.task_name, kwargs=run.task_kwargs, key=f"jobrun:{run.pk}:{run.redispatches + 1}")
            logger.warning("job %s %s was left unfinished: dispatched %s again", run.name, run.period, run.task_name)
        JobRun.objects.filter(pk__in=[run.pk for run in stale]).update(redispatches=F("redispatches") + 1)
    return len(stale)


def exclusive(name: str, *, shared: bool = False) -> None:
    """Within the current transaction, wait until no other transaction holds ``name``.

    For writers that are not claimed per period (an admin action re-evaluating tiers while the nightly job
    runs): the second one starts after the first committed, so it sees the first one's writes. PostgreSQL
    takes a transaction-level advisory lock; SQLite already serialises writing transactions. ``shared``: the
    chunks of one job (``portal.chunks``) hold it together, and an exclusive holder waits for all of them.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("exclusive() must be called inside a transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
            cursor.execute(f"SELECT {function}(hashtext(%s))", [name])
