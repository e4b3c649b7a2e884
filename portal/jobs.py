"""Claim a periodic job for one period, so it is applied once however often it is started.

A second beat, a broker redelivery or a manual re-run of ``(name, period)`` finds the run finished and
does nothing; ``force=True`` re-runs it, which is safe because every job is idempotent. The job body runs
inside the transaction that holds the claim row locked, so two copies at once run one after the other,
and a run killed half-way rolls back entirely and can simply be started again.
"""

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import JobRun


def job_run_once(name: str, period: str, work: Callable[[], dict[str, Any] | None], *, force: bool = False):
    """Run ``work()`` for ``(name, period)`` unless it already ran; return its result, or ``None`` if skipped."""
    try:
        with transaction.atomic():
            JobRun.objects.get_or_create(name=name, period=str(period))
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


def exclusive(name: str) -> None:
    """Within the current transaction, wait until no other transaction holds ``name``.

    For writers that are not claimed per period (an admin action re-evaluating tiers while the nightly job
    runs): the second one starts after the first committed, so it sees the first one's writes. PostgreSQL
    takes a transaction-level advisory lock; SQLite already serialises writing transactions.
    """
    from django.db import connection

    if not connection.in_atomic_block:
        raise RuntimeError("exclusive() must be called inside a transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])
