"""Periodic rebate jobs (scheduled in ``portal/celery.py``): thin wrappers taking ISO dates or quarters."""

from celery import shared_task

from portal.celery import IDEMPOTENT
from portal.chunks import dispatch_to_workers
from portal.jobs import dated_job_task

from . import services


@dated_job_task(services.CLOSE_DUE_TASK)
def quarter_close_due(*, as_of):
    """Close, in order, the quarters whose statement delay has passed on ``as_of`` (default today): on workers,
    in chunks spread over them; in-process (no broker), here."""
    return services.quarter_close_due(as_of=as_of, dispatch=dispatch_to_workers())


@shared_task(
    name=services.STATEMENTS_EMAIL_TASK, autoretry_for=(Exception,), retry_backoff=60, max_retries=5, **IDEMPOTENT
)
def statements_email(quarter: str):
    """Hand the issued statements of ``quarter`` to ``statements_deliver`` in chunks (each chunk queued once)."""
    return services.statements_email_quarter(quarter=quarter)


@shared_task(
    name=services.STATEMENTS_DELIVER_TASK, autoretry_for=(Exception,), retry_backoff=60, max_retries=5, **IDEMPOTENT
)
def statements_deliver(statement_ids: list[int]):
    """Render and store the PDFs of one chunk of statements, then queue their emails (each once)."""
    return services.statements_deliver(statement_ids=statement_ids)


@shared_task(
    name=services.STATEMENT_DOCUMENTS_TASK, autoretry_for=(Exception,), retry_backoff=60, max_retries=5, **IDEMPOTENT
)
def statement_documents_render(statement_id: int):
    """Render and store the PDFs of one statement as it reads now (its paid version)."""
    return services.statement_documents_render(statement_id=statement_id)


@shared_task(name="rebates.tasks.statements_email_sweep", **IDEMPOTENT)
def statements_email_sweep():
    """Queue the email of every issued statement that has none (its emailing was interrupted)."""
    return services.statements_email_missing()


@shared_task(name="rebates.tasks.accruals_refresh", **IDEMPOTENT)
def accruals_refresh():
    """Recompute today's stored dashboard accruals whose inputs changed (queued after each import commits)."""
    from django.utils import timezone

    from .accruals import accruals_refresh_stored

    return accruals_refresh_stored(as_of=timezone.localdate())
