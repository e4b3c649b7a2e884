"""Periodic rebate jobs (scheduled in ``portal/celery.py``): thin wrappers taking ISO dates or quarters."""

from celery import shared_task

from portal.celery import IDEMPOTENT
from portal.jobs import dated_job_task

from . import services


@dated_job_task("rebates.tasks.quarter_close_due")
def quarter_close_due(*, as_of):
    """Close, in order, the quarters whose statement delay has passed on ``as_of`` (default today)."""
    return services.quarter_close_due(as_of=as_of)


@shared_task(
    name=services.STATEMENTS_EMAIL_TASK, autoretry_for=(Exception,), retry_backoff=60, max_retries=5, **IDEMPOTENT
)
def statements_email(quarter: str):
    """Queue the issued statements of ``quarter`` to their partners (each once; a redelivery skips the queued)."""
    return services.statements_email_quarter(quarter=quarter)


@shared_task(name="rebates.tasks.statements_email_sweep", **IDEMPOTENT)
def statements_email_sweep():
    """Queue the email of every issued statement that has none (its emailing was interrupted)."""
    return services.statements_email_missing()
