"""Process a nightly job's items in batches so that one bad item never stops the job (issue 10, item 9).

Each batch runs in a savepoint. When it fails, its items are run again one by one, each in its own savepoint:
the good ones go through, a failing one is rolled back alone and recorded (``JobItemFailure``) with its error,
for staff. The failures are written in the job's own transaction, with its result. A failed item was not
processed, so the next run selects it again; the first run that processes it marks its failure resolved.

Errors of the connection or of locking (``OperationalError``) are not an item's fault: they stop the job, which
is claimed per period and rolls back entirely, so it can simply be run again.
"""

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import OperationalError, transaction
from django.utils import timezone

from .models import JobItemFailure

log = logging.getLogger(__name__)

Item = TypeVar("Item")

# An error message long enough to read the cause, short enough for a list page.
ERROR_MAX_LENGTH = 2000


@dataclass
class IsolatedRun:
    """What ``run_isolated`` did: the results of the batches (or single items) that went through, and the
    keys of the items that failed."""

    results: list[Any] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def run_isolated(
    *,
    job: str,
    period: str,
    batches: Iterable[Sequence[Item]],
    process: Callable[[Sequence[Item]], Any],
    key: Callable[[Item], str],
    checkpoint: Callable[[], Callable[[], None]] | None = None,
    pending: set[str] | None = None,
) -> IsolatedRun:
    """Run ``process(batch)`` for each of ``batches`` in a savepoint; re-run a failed batch item by item.

    ``checkpoint()``, when given, is called before each attempt and returns a function that restores the
    caller's in-memory state (counters, caches) to that point; it is called when the attempt is rolled back,
    so memory and database stay in step. ``pending``: the job's unresolved failures (``failures_unresolved``),
    when the caller already read them. Must run inside a transaction (the job's).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("run_isolated() must be called inside the job's transaction")
    outcome = IsolatedRun()
    for batch in batches:
        if not batch:
            continue
        if pending is None:
            pending = failures_unresolved(job)
        result, error = _attempt(process, batch, checkpoint)
        if error is None:
            outcome.results.append(result)
            _resolve(job, pending, [key(item) for item in batch])
            continue
        for item in batch:
            result, error = _attempt(process, [item], checkpoint)
            if error is None:
                outcome.results.append(result)
                _resolve(job, pending, [key(item)])
            else:
                outcome.failed.append(key(item))
                _record(job=job, period=period, item=key(item), error=error)
    return outcome


def _attempt(process, batch, checkpoint) -> tuple[Any, Exception | None]:
    restore = checkpoint() if checkpoint is not None else None
    try:
        with transaction.atomic():
            return process(batch), None
    except OperationalError:
        raise
    except Exception as error:  # an item's data made it fail: rolled back to the savepoint, reported
        if restore is not None:
            restore()
        return None, error


def _resolve(job: str, pending: set[str], keys: list[str]) -> None:
    resolved = pending.intersection(keys)
    if resolved:
        JobItemFailure.objects.filter(job=job, item__in=resolved, resolved_at__isnull=True).update(
            resolved_at=timezone.now()
        )
        pending.difference_update(resolved)


def _record(*, job: str, period: str, item: str, error: Exception) -> None:
    message = f"{type(error).__name__}: {error}"[:ERROR_MAX_LENGTH]
    log.warning("%s %s: item %s failed: %s", job, period, item, message)
    now = timezone.now()
    failure = JobItemFailure.objects.select_for_update().filter(job=job, item=item).first()
    if failure is None:
        JobItemFailure.objects.create(
            job=job, item=item, period=period, error=message, first_seen=now, last_seen=now, attempts=1
        )
        return
    failure.period = period
    failure.error = message
    failure.last_seen = now
    failure.attempts += 1
    failure.resolved_at = None
    failure.save(update_fields=["period", "error", "last_seen", "attempts", "resolved_at"])


def failures_unresolved(job: str) -> set[str]:
    """The keys of the items of ``job`` that failed and were not processed since."""
    return set(JobItemFailure.objects.filter(job=job, resolved_at__isnull=True).values_list("item", flat=True))


def failures_pending(job: str) -> bool:
    """Whether ``job`` has items that failed and were not processed since (a re-run of its date retries them)."""
    return JobItemFailure.objects.filter(job=job, resolved_at__isnull=True).exists()
