"""Periodic API housekeeping (scheduled in ``portal/celery.py``)."""

from celery import shared_task

from portal.celery import IDEMPOTENT

from . import services


@shared_task(name="api.tasks.idempotent_requests_prune", **IDEMPOTENT)
def idempotent_requests_prune():
    """Forget the stored answers of POSTs older than a month (re-running deletes nothing more)."""
    return services.idempotent_requests_prune()


@shared_task(name="api.tasks.webhook_deliver", **IDEMPOTENT)
def webhook_deliver(delivery_id: int):
    """Attempt one webhook delivery (a redelivered task finds it done, or not yet due, and does nothing)."""
    from . import webhooks

    return webhooks.webhook_deliver(delivery_id=delivery_id)


@shared_task(name="api.tasks.webhook_deliveries_due", **IDEMPOTENT)
def webhook_deliveries_due():
    """Queue the next attempt of the webhook deliveries that are due."""
    from . import webhooks

    return webhooks.webhook_deliveries_due()
