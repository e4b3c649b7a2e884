from celery import shared_task

from .celery import IDEMPOTENT
from .emails import outbox_send_one
from .models import OutboxEmail


@shared_task(bind=True, max_retries=8, default_retry_delay=60, **IDEMPOTENT)
def outbox_send(self, email_id: int):
    """Send one outbox email; a failure is retried with back-off (idempotent: a sent row is skipped)."""
    try:
        outbox_send_one(email_id)
    except Exception as error:
        if self.request.is_eager:
            return
        raise self.retry(exc=error, countdown=60 * 2**self.request.retries) from error


@shared_task(**IDEMPOTENT)
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
