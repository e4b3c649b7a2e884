"""Split a job into short chunks that any number of Celery workers run, with a completion record per chunk.

A chunked job is planned once per ``(name, period)``: its ``JobRun`` (the parent claim) gets one child
``JobRun`` per chunk, created in the same transaction as the plan, so the plan is fixed and every chunk is
recorded before any runs. A chunk runs in the transaction that holds its own row locked and marks it finished
there: a chunk killed half-way rolls back alone and is simply run again; a chunk run twice (a redelivery, a
second process) finds it finished, or locked by the run in progress, and does nothing. When the last chunk
finishes, the parent's ``finish`` runs once, in the transaction that holds the parent locked.

The result is that of one process: no chunk's work depends on another's, and chunks read the inputs the plan
fixed (a job passes a watermark in its parameters for rows that arrive during the run). Inputs a job does not fix
are read when each chunk runs: a change to them during a run reaches the chunks that run after it.

Two ways to run a plan, with the same chunks and the same result (a test proves it):

- in-process (``dispatch=False``, the commands): run every chunk not running elsewhere, then wait for those that
  are, then finish. Two processes at once share the chunks between them;
- spread over workers (``dispatch=True``, the nightly tasks): one task per chunk through the task outbox; the
  worker that finishes the last chunk queues the finish. A worker that dies mid-chunk leaves its chunk
  unfinished and unlocked: ``job_chunks_redispatch`` (beat) queues it again once no chunk of the job is running
  and none has finished for a while.

A job is a ``ChunkedJob`` at module level; its chunks name it by import path, so a worker needs no registry.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.module_loading import import_string

from .celery import app
from .jobs import current_task_claim
from .models import JobRun
from .outbox import task_enqueue

logger = logging.getLogger(__name__)

CHUNK_TASK = "portal.tasks.job_chunk_run"
FINISH_TASK = "portal.tasks.job_chunks_finish"
# A chunk is queued again at most this often (then it is left for staff, in the job runs' admin). A copy queued
# while the first still waits behind other tasks is harmless (it finds the chunk finished, or running, and stops),
# so the bound is generous: a sweep every 5 minutes through 4 hours of backlog or broker outage.
MAX_CHUNK_REDISPATCHES = 48


@dataclass(frozen=True)
class ChunkedJob:
    """A job in chunks: ``plan(params)`` → the chunks' arguments; ``chunk(params, arguments)`` → its result;
    ``finish(params, results)`` → the job's result. ``path`` is this object's import path ("module.NAME")."""

    name: str
    path: str
    plan: Callable[[dict], list[dict]]
    chunk: Callable[[dict, dict], dict]
    finish: Callable[[dict, list[dict]], dict]


def chunk_name(job_name: str) -> str:
    return f"{job_name}:chunk"


def dispatch_to_workers() -> bool:
    """Whether a nightly task spreads its chunks over the workers: yes, unless tasks run in-process (no broker)."""
    return not app.conf.task_always_eager


def chunked_run(job: ChunkedJob, period: str, params: dict, *, dispatch: bool, force: bool = False):
    """Plan ``job`` for ``period`` (once) and run it; return its result, or ``None`` when it ran before.

    ``dispatch``: queue the chunks for the workers and return ``{"dispatched": n}`` at once. ``force``: a
    finished run is planned and run again (every job is idempotent).
    """
    parent, pending = _plan(job, str(period), params, force=force, dispatch=dispatch)
    if parent is None:
        return None
    if dispatch:
        return {"dispatched": pending, "chunks": parent.chunks.count()}
    for wait in (False, True):  # the chunks nobody runs, then those another process was running
        for child_pk in parent.chunks.filter(finished_at=None).order_by("period").values_list("pk", flat=True):
            chunk_run(child_pk, wait=wait, finish=False)
    return chunks_finish(parent.pk)


def _plan(job: ChunkedJob, period: str, params: dict, *, force: bool, dispatch: bool) -> tuple[JobRun | None, int]:
    try:
        with transaction.atomic():
            JobRun.objects.get_or_create(name=job.name, period=period, defaults=current_task_claim())
    except IntegrityError:  # a concurrent planner created it first
        pass
    with transaction.atomic():
        parent = JobRun.objects.select_for_update().get(name=job.name, period=period)
        if parent.finished_at is not None:
            if not force:
                return None, 0
            parent.chunks.all().delete()
            parent.finished_at = None
            parent.save(update_fields=["finished_at"])
        planned_before = parent.chunks.exists()
        if not planned_before:
            plan = job.plan(params)
            JobRun.objects.bulk_create(
                JobRun(
                    name=chunk_name(job.name),
                    period=f"{period}#{index:04d}",
                    parent=parent,
                    task_name=CHUNK_TASK,
                    task_kwargs={"job": job.path, "params": params, "chunk": arguments},
                )
                for index, arguments in enumerate(plan)
            )
        pending = 0
        if dispatch:  # queued in this transaction, sent after commit
            unfinished = parent.chunks.filter(finished_at=None).order_by("period")
            if planned_before:  # a chunk running now holds its row, and takes this parent's next: never wait on it
                unfinished = unfinished.select_for_update(skip_locked=True)
            if planned_before:  # started again (a later night, a re-run): each chunk queued anew, not deduplicated
                pending = _chunks_queue_again(list(unfinished))
            else:
                for child in unfinished:
                    task_enqueue(CHUNK_TASK, args=[child.pk], key=f"jobchunk:{child.pk}:{child.redispatches}")
                    pending += 1
            if planned_before and not parent.chunks.filter(finished_at=None).exists():  # the finish was lost
                _finish_queue(parent, reason="restart")
    return parent, pending


def chunk_run(child_pk: int, *, wait: bool = False, finish: bool = True) -> dict | None:
    """Run one chunk unless it is finished or (``wait=False``) running elsewhere; return its result or ``None``.

    ``finish``: when it was the last chunk, queue the job's finish (the workers' path).
    """
    with transaction.atomic():
        rows = JobRun.objects.select_for_update(skip_locked=not wait).filter(pk=child_pk, finished_at=None)
        child = rows.first()
        if child is None:  # finished, or being run by another process right now
            return None
        job: ChunkedJob = import_string(child.task_kwargs["job"])
        result = job.chunk(child.task_kwargs["params"], child.task_kwargs["chunk"]) or {}
        JobRun.objects.filter(pk=child.pk).update(finished_at=timezone.now(), runs=F("runs") + 1, result=result)
        if finish:
            # The last chunks to finish take the parent's row in turn, so the second one sees the first one's
            # commit: two chunks finishing at the same moment cannot both think the other one is still running.
            parent = JobRun.objects.select_for_update().get(pk=child.parent_id)
            if not JobRun.objects.filter(parent_id=parent.pk, finished_at=None).exclude(pk=child.pk).exists():
                task_enqueue(FINISH_TASK, args=[parent.pk], key=f"jobfinish:{parent.pk}:{parent.runs}")
    return result


def _finish_queue(parent: JobRun, *, reason: str) -> None:
    """Queue the finish of ``parent`` again (its first one was lost), once per call: each has a key of its own."""
    JobRun.objects.filter(pk=parent.pk).update(redispatches=F("redispatches") + 1)
    key = f"jobfinish:{parent.pk}:{parent.runs}:{reason}:{parent.redispatches + 1}"
    task_enqueue(FINISH_TASK, args=[parent.pk], key=key)


def chunks_finish(parent_pk: int) -> dict | None:
    """Run the job's finish once every chunk is finished; return its result, or ``None`` (done before, or a
    chunk is not finished yet)."""
    with transaction.atomic():
        parent = JobRun.objects.select_for_update().get(pk=parent_pk)
        children = list(parent.chunks.order_by("period"))
        if parent.finished_at is not None or not children or any(c.finished_at is None for c in children):
            return None
        job: ChunkedJob = import_string(children[0].task_kwargs["job"])
        result = job.finish(children[0].task_kwargs["params"], [child.result for child in children]) or {}
        parent.finished_at = timezone.now()
        parent.runs += 1
        parent.result = result
        parent.save(update_fields=["finished_at", "runs", "result"])
    logger.info("%s %s finished: %s chunks", parent.name, parent.period, len(children))
    return result


def job_chunks_redispatch(*, older_than: timedelta) -> int:
    """Queue again the chunks of every stalled chunked job, or its finish; return how many tasks were queued.

    A job is stalled when it is unfinished, none of its chunks is running (a running chunk holds its row
    locked) and none finished in the last ``older_than``: its unfinished chunks were lost with a worker. A job
    whose chunks are all finished but which is not (its finish was lost) gets its finish queued again.
    """
    cutoff = timezone.now() - older_than
    queued = 0
    # Planned before the cutoff (a forced re-plan of an old run is young again): its chunks' own creation.
    parents = JobRun.objects.filter(finished_at=None, chunks__created_at__lte=cutoff).distinct()
    for parent_pk in parents.values_list("pk", flat=True):
        with transaction.atomic():
            # The finish holds the parent's row while it runs, and so does a chunk checking whether it was last.
            parent = JobRun.objects.select_for_update(skip_locked=True).filter(pk=parent_pk, finished_at=None).first()
            if parent is None:
                continue
            unfinished = parent.chunks.filter(finished_at=None)
            if not unfinished.exists():
                if parent.redispatches < MAX_CHUNK_REDISPATCHES:
                    _finish_queue(parent, reason="sweep")
                    queued += 1
                continue
            last = parent.chunks.aggregate(last=Max("finished_at"))["last"]
            if last is not None and last > cutoff:
                continue  # making progress
            free = list(unfinished.select_for_update(skip_locked=True))
            if connection.vendor == "postgresql" and len(free) < unfinished.count():
                continue  # a chunk is running: the workers are at it
            free = [child for child in free if child.redispatches < MAX_CHUNK_REDISPATCHES]
            for child in free:
                logger.warning("chunk %s %s was left unfinished: queued again", child.name, child.period)
            queued += _chunks_queue_again(free)
    return queued


def _chunks_queue_again(children: list[JobRun]) -> int:
    """Queue each of ``children`` once more, under a key of its own (the outbox drops a key it has seen)."""
    for child in children:
        task_enqueue(CHUNK_TASK, args=[child.pk], key=f"jobchunk:{child.pk}:{child.redispatches + 1}")
    JobRun.objects.filter(pk__in=[child.pk for child in children]).update(redispatches=F("redispatches") + 1)
    return len(children)


def chunk_ranges(weights: list[tuple[int, int]], *, max_items: int, max_weight: int) -> list[dict]:
    """Cut ``(id, weight)`` pairs, in id order, into ranges of at most ``max_items`` ids or about ``max_weight``;
    return ``{"lo": first id or None, "hi": last id or None}`` covering every id (the ends are open), at least one.
    """
    ranges, count, weight, lo = [], 0, 0, None
    for item_id, item_weight in sorted(weights):
        if count and (count >= max_items or weight + item_weight > max_weight):
            ranges.append({"lo": lo, "hi": item_id - 1})
            lo, count, weight = item_id, 0, 0
        count += 1
        weight += item_weight
    ranges.append({"lo": lo, "hi": None})
    return ranges


def in_range(lo: int | None, hi: int | None) -> dict[str, Any]:
    """The lookups of ``id`` in a chunk range (``chunk_ranges``), for a queryset filter on ``pk``."""
    return {**({"pk__gte": lo} if lo is not None else {}), **({"pk__lte": hi} if hi is not None else {})}
