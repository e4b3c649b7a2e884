"""Demo statements for ``seed_demo``: every due quarter closed on its real close date, and paid about a month
later when that day has come (idempotent: a closed quarter is not closed again, a paid statement not paid again).

The demo's past was delivered in the past: only the latest closed quarter's statements are delivered now (their
PDFs rendered and stored, their emails queued); an older statement's PDF is rendered on its first download, like
any statement whose delivery has not run yet. That keeps ``seed_demo`` fast (each render costs about 0.1 s, plus
a quarter of a millisecond a line and language).
"""

from datetime import date, timedelta

from django.db.models import Q
from django.utils import timezone

from portal.models import OutboxEmail, Program, TaskOutbox
from rebates import services
from rebates.models import QuarterClose, Statement

PAID_AFTER_DAYS = 30


def seed_demo_statements(*, as_of: date | None = None) -> dict:
    """Close each quarter due on ``as_of`` (default today) as of its own close day (quarter end + the statement
    delay), then mark each issued statement paid ``PAID_AFTER_DAYS`` after its issue, when that day is past."""
    as_of = as_of or timezone.localdate()
    delay = timedelta(days=Program.current().statement_delay_days)
    due = services.quarters_due(as_of=as_of)
    for quarter in due:
        services.quarter_close(quarter=quarter, as_of=quarter.end + delay)
    paid = 0
    for statement in Statement.objects.filter(status=Statement.Status.ISSUED).order_by("issued_on", "pk"):
        paid_on = statement.issued_on + timedelta(days=PAID_AFTER_DAYS)
        if paid_on > as_of:
            continue
        services.statement_mark_paid(
            statement=statement, payment_reference=f"DEMO-PAY-{statement.number}", paid_on=paid_on
        )
        paid += 1
    _deliver_only_the_latest_quarter()
    return {"quarters_closed": len(due), "statements_paid": paid}


def _deliver_only_the_latest_quarter() -> None:
    """Drop the not yet dispatched deliveries of the statements of every quarter but the latest closed one: their
    emails and PDFs belong to the demo's past (run inside ``seed_demo``'s transaction, before anything is sent)."""
    latest = QuarterClose.objects.order_by("-quarter").values_list("quarter", flat=True).first()
    older = list(Statement.objects.exclude(quarter=latest).values_list("pk", "quarter"))
    quarters = {quarter for _pk, quarter in older}
    TaskOutbox.objects.filter(dispatched_at=None, key__in=[f"statements_email:{q}" for q in quarters]).delete()
    TaskOutbox.objects.filter(
        dispatched_at=None, key__in=[f"statement_documents:{pk}:paid" for pk, _q in older]
    ).delete()
    paid_emails = Q(pk__in=[])
    for pk, _quarter in older:
        paid_emails |= Q(key__startswith=f"statement_paid:{pk}:")
    OutboxEmail.objects.filter(paid_emails, status=OutboxEmail.Status.PENDING).delete()
