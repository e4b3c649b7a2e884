"""Demo statements for ``seed_demo``: close every due quarter, and pay all but the latest (idempotent)."""

from datetime import date, timedelta

from django.utils import timezone

from rebates import services
from rebates.models import QuarterClose, Statement


def seed_demo_statements(*, as_of: date | None = None) -> dict:
    """Issue the statements of every quarter whose delay has passed on ``as_of`` (default today), then mark the
    statements of every closed quarter but the latest paid. Running it again changes nothing."""
    as_of = as_of or timezone.localdate()
    closed = services.quarter_close_due(as_of=as_of)
    latest = QuarterClose.objects.order_by("-quarter").values_list("quarter", flat=True).first()
    paid = 0
    for statement in Statement.objects.filter(status=Statement.Status.ISSUED).exclude(quarter=latest):
        services.statement_mark_paid(
            statement=statement,
            payment_reference=f"DEMO-PAY-{statement.number}",
            paid_on=min(statement.issued_on + timedelta(days=30), as_of),
        )
        paid += 1
    return {"quarters_closed": len(closed), "statements_paid": paid}
