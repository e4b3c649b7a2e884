"""The rebates cards of the partner dashboard: the open quarter's accrual and the latest statement (admin,
finance)."""

from datetime import date

from partners.dashboard import DashboardCard
from partners.models import Partner
from partners.scoping import ROLE_ADMIN, ROLE_FINANCE

from .models import Statement
from .selectors import rebate_accrual


def latest_statement(*, partner: Partner, today: date) -> Statement | None:
    """The partner's most recently issued statement (one query), or ``None`` before its first quarter close."""
    return (
        Statement.objects.filter(partner=partner, issued_on__lte=today)
        .only("number", "quarter", "status", "issued_on", "total", "paid_on", "partner_id")
        .order_by("-issued_on", "-pk")
        .first()
    )


ACCRUAL_CARD = DashboardCard(
    key="accrual",
    template="rebates/_accrual_card.html",
    roles=(ROLE_ADMIN, ROLE_FINANCE),  # rebate figures are for admin and finance
    load=lambda *, partner, today: rebate_accrual(partner=partner, as_of=today),
    order=20,
)

STATEMENT_CARD = DashboardCard(
    key="latest_statement",
    template="rebates/_dashboard_statement.html",
    roles=(ROLE_ADMIN, ROLE_FINANCE),
    load=latest_statement,
    order=21,
)
