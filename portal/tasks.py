"""Kernel tasks: send one outbox email, and the beat sweepers that finish what a broker outage or a killed worker
left undone (undispatched tasks, unsent emails, unfinished job claims)."""

from celery import shared_task

from .celery import IDEMPOTENT
from .chunks import CHUNK_TASK, FINISH_TASK, chunk_run, chunks_finish, job_chunks_redispatch
from .csvimport import IMPORT_RUN_TASK, import_run_process
from .emails import OUTBOX_SEND_BATCH_TASK, OUTBOX_SEND_TASK, outbox_send_many, outbox_send_one
from .health import SWEEPER_HEARTBEAT, heartbeat
from .jobs import REDISPATCH_AFTER, job_claims_redispatch
from .models import OutboxEmail
from .outbox import tasks_dispatch_pending, tasks_dispatched_prune


@shared_task(name=OUTBOX_SEND_TASK, bind=True, max_retries=8, default_retry_delay=60, **IDEMPOTENT)
def outbox_send(self, email_id: int):
    """Send one outbox email; a failure is retried with back-off (idempotent: a sent row is skipped)."""
    try:
        outbox_send_one(email_id)
    except Exception as error:
        if self.request.is_eager:
            return
        raise self.retry(exc=error, countdown=60 * 2**self.request.retries) from error


@shared_task(name=OUTBOX_SEND_BATCH_TASK, bind=True, max_retries=8, default_retry_delay=60, **IDEMPOTENT)
def outbox_send_batch(self, email_ids: list[int]):
    """Send a batch of outbox emails queued together; a failure retries the batch, which skips what was sent."""
    try:
        return outbox_send_many(email_ids)
    except Exception as error:
        if self.request.is_eager:
            return None
        raise self.retry(exc=error, countdown=60 * 2**self.request.retries) from error


@shared_task(name="portal.tasks.outbox_send_pending", **IDEMPOTENT)
def outbox_send_pending():
    """Retry every email that is still pending or failed (at most 20 attempts each)."""
    ids = (
        OutboxEmail.objects.exclude(status=OutboxEmail.Status.SENT).filter(attempts__lt=20).values_list("pk", flat=True)
    )
    for email_id in ids:
        try:
            outbox_send_one(email_id)
        except Exception:  # recorded on the row; the next sweep retries
            continue


@shared_task(name="portal.tasks.task_outbox_dispatch", **IDEMPOTENT)
def task_outbox_dispatch():
    """Dispatch the recorded tasks that were not dispatched after their commit (the broker was down)."""
    sent = tasks_dispatch_pending()
    tasks_dispatched_prune()
    heartbeat(SWEEPER_HEARTBEAT)  # beat, the broker and a worker all work: /health/jobs reads it
    return sent


@shared_task(name="portal.tasks.job_claims_redispatch", **IDEMPOTENT)
def job_claims_redispatch_task():
    """Dispatch again the job claims, and the chunks of chunked jobs, left unfinished by a worker that died."""
    return job_claims_redispatch() + job_chunks_redispatch(older_than=REDISPATCH_AFTER)


@shared_task(name=CHUNK_TASK, **IDEMPOTENT)
def job_chunk_run(chunk_id: int):
    """Run one chunk of a chunked job (``portal.chunks``); the last one queues the job's finish."""
    return chunk_run(chunk_id)


@shared_task(name=FINISH_TASK, **IDEMPOTENT)
def job_chunks_finish(run_id: int):
    """Finish a chunked job whose chunks are all finished (once)."""
    return chunks_finish(run_id)


@shared_task(name=IMPORT_RUN_TASK, **IDEMPOTENT)
def import_run_process_task(run_id: int):
    """Import an uploaded file (``portal.csvimport.import_run_process``): claimed once, recorded either way."""
    import_run_process(run_id)
