"""Periodic rebate jobs (scheduled in ``portal/celery.py``): thin wrappers taking ISO dates or quarters."""

from celery import shared_task
from django.utils import timezone

from portal.celery import IDEMPOTENT
from portal.fiscal import parse_iso_date

from . import services


@shared_task(name="rebates.tasks.quarter_close_due", **IDEMPOTENT)
def quarter_close_due(as_of: str | None = None):
    """Close, in order, the quarters whose statement delay has passed on ``as_of`` (default today)."""
    day = parse_iso_date(as_of) if as_of else timezone.localdate()
    return services.quarter_close_due(as_of=day)


@shared_task(name="rebates.tasks.statements_email", autoretry_for=(Exception,), retry_backoff=60, max_retries=5)
def statements_email(quarter: str):
    """Queue the issued statements of ``quarter`` to their partners (each once; a retry skips the sent ones)."""
    return services.statements_email_quarter(quarter=quarter)
