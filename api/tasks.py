"""Periodic API housekeeping (scheduled in ``portal/celery.py``)."""

from celery import shared_task

from portal.celery import IDEMPOTENT

from . import services


@shared_task(name="api.tasks.idempotent_requests_prune", **IDEMPOTENT)
def idempotent_requests_prune():
    """Forget the stored answers of POSTs older than a month (re-running deletes nothing more)."""
    return services.idempotent_requests_prune()
