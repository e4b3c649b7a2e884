"""Writes of the rebates app: close a quarter (issue its statements), email statements, mark them paid."""

import logging
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import CharField, Count, Exists, OuterRef, Sum, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.models import Membership, Partner
from partners.selectors import partner_users_with_roles
from portal.emails import email_users
from portal.events import STATEMENT_ISSUED, PartnerEvent, events_publish
from portal.fiscal import Quarter
from portal.jobs import job_run_once
from portal.models import OutboxEmail, Program
from portal.money import ZERO, round_money
from portal.outbox import task_enqueue

from . import generator
from .models import QuarterClose, RebateLine, Statement

logger = logging.getLogger(__name__)

CLOSE_JOB = "rebates.close_quarter"
STATEMENT_EMAIL_TEMPLATE = "rebates/email/statement_issued"
STATEMENTS_EMAIL_TASK = "rebates.tasks.statements_email"


class QuarterCloseError(Exception):
    """A quarter that cannot be closed (yet): the message says why."""


def first_quarter(program: Program) -> Quarter:
    return Quarter.containing(program.start_date)


def _check_closable(quarter: Quarter, as_of: date, program: Program) -> None:
    if quarter < first_quarter(program):
        raise QuarterCloseError(
            _("%(quarter)s is before the program start (%(start)s).")
            % {"quarter": quarter, "start": program.start_date}
        )
    if as_of <= quarter.end:
        raise QuarterCloseError(
            _("%(quarter)s ends on %(end)s: it cannot be closed as of %(as_of)s.")
            % {"quarter": quarter, "end": quarter.end, "as_of": as_of}
        )
    previous = quarter.previous()
    if previous >= first_quarter(program) and not QuarterClose.objects.filter(quarter=str(previous)).exists():
        raise QuarterCloseError(
            _("%(previous)s is not closed yet: quarters close in order, close it before %(quarter)s.")
            % {"previous": previous, "quarter": quarter}
        )


def quarter_close(*, quarter: Quarter, as_of: date, force: bool = False) -> dict:
    """Close ``quarter`` as of ``as_of``: issue one statement per partner with rebate lines, once.

    Claimed per quarter (``job_run_once``): a second run, or two at once, issue nothing more; a run killed
    half-way rolls back entirely. Statements are emailed after commit. Return the close's summary.
    """
    program = Program.current()
    _check_closable(quarter, as_of, program)
    result = job_run_once(CLOSE_JOB, str(quarter), lambda: _close(quarter, as_of, program), force=force)
    if result is None:  # closed before: report what that close did
        result = _summary(QuarterClose.objects.get(quarter=str(quarter)), created=False)
    return result


def _summary(close: QuarterClose, *, created: bool) -> dict:
    return {
        "quarter": close.quarter,
        "closed_on": close.closed_on.isoformat(),
        "statements": close.statements,
        "rebate_lines": close.rebate_lines,
        "total": str(close.total),
        "created": created,
    }


def _close(quarter: Quarter, as_of: date, program: Program) -> dict:
    existing = QuarterClose.objects.filter(quarter=str(quarter)).first()
    if existing is not None:  # a forced re-run: an issued statement never changes
        return _summary(existing, created=False)
    _check_closable(quarter, as_of, program)  # again, under the claim
    if connection.vendor == "postgresql":
        generator.rebate_lines_insert_sql(quarter=quarter, issued_on=as_of, program=program)
    else:
        rebate_lines_write(
            rows=generator.rebate_rows(quarter=quarter, program=program), quarter=quarter, issued_on=as_of
        )
    statements_totals_update(quarter=quarter)
    statements = Statement.objects.for_quarter(quarter)
    figures = statements.aggregate(count=Count("id"), lines=Sum("line_count"), total=Sum("total"))
    close = QuarterClose.objects.create(
        quarter=str(quarter),
        closed_on=as_of,
        statements=figures["count"] or 0,
        rebate_lines=figures["lines"] or 0,
        total=round_money(figures["total"] or ZERO),  # a sum of cents: exact; quantized for SQLite
    )
    task_enqueue(STATEMENTS_EMAIL_TASK, args=[str(quarter)], key=f"statements_email:{quarter}")
    events_publish([
        PartnerEvent(STATEMENT_ISSUED, partner_id, f"statement:{number}", {
            "number": number, "quarter": str(quarter), "total": f"{total:.2f}"})
        for partner_id, number, total in statements.values_list("partner_id", "number", "total").iterator(2000)
    ])  # fmt: skip
    logger.info("closed %s: %s statements, total %s", quarter, close.statements, close.total)
    return _summary(close, created=True)


def statements_totals_update(*, quarter: Quarter) -> None:
    """Set each statement of ``quarter`` to the total and count of its lines, from one ``GROUP BY``.

    One aggregate over the quarter's rebate lines joined back with ``UPDATE … FROM`` (PostgreSQL, SQLite ≥ 3.33),
    not two correlated subqueries per statement; a statement's total is exactly the sum of its rounded amounts.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE rebates_statement SET total = agg.total, line_count = agg.lines
            FROM (SELECT r.statement_id, SUM(r.amount) AS total, COUNT(*) AS lines
                  FROM rebates_rebateline r JOIN rebates_statement s ON s.id = r.statement_id
                  WHERE s.quarter = %s GROUP BY r.statement_id) agg
            WHERE rebates_statement.id = agg.statement_id
            """,
            [str(quarter)],
        )


def rebate_lines_write(*, rows: list[generator.RebateRow], quarter: Quarter, issued_on: date) -> int:
    """Write ``rows`` as statements of ``quarter`` and their rebate lines, in bulk; return the lines written."""
    partner_ids = sorted({row.partner_id for row in rows})
    codes = dict(Partner.objects.filter(pk__in=partner_ids).values_list("pk", "code"))
    Statement.objects.bulk_create(
        [
            Statement(
                number=Statement.number_for(quarter, codes[partner_id]),
                partner_id=partner_id,
                quarter=str(quarter),
                issued_on=issued_on,
            )
            for partner_id in partner_ids
        ],
        ignore_conflicts=True,
    )
    statement_ids = dict(Statement.objects.for_quarter(quarter).values_list("partner_id", "pk"))
    created = RebateLine.objects.bulk_create(
        [
            RebateLine(
                statement_id=statement_ids[row.partner_id],
                order_line_id=row.order_line_id,
                component=row.component,
                tier_id=row.tier_id,
                net_amount=row.net_amount,
                rate=row.rate,
                amount=row.amount,
                is_adjustment=row.is_adjustment,
            )
            for row in rows
        ],
        batch_size=2000,
        ignore_conflicts=True,
    )
    return len(created)


def quarter_close_due(*, as_of: date) -> list[dict]:
    """Close, in order, every quarter whose statement delay has passed on ``as_of`` and that is not closed."""
    program = Program.current()
    closed = set(QuarterClose.objects.values_list("quarter", flat=True))
    quarter = first_quarter(program)
    results = []
    while quarter.end + timedelta(days=program.statement_delay_days) <= as_of:
        if str(quarter) not in closed:
            results.append(quarter_close(quarter=quarter, as_of=as_of))
        quarter = quarter.next()
    return results


# --- email ----------------------------------------------------------------------------------------------------


def statement_recipients(statement: Statement):
    roles = [Membership.Role.ADMIN, Membership.Role.FINANCE]
    return partner_users_with_roles([statement.partner_id], roles)[statement.partner_id]


def statement_email(*, statement: Statement) -> int:
    """Queue the statement, with its PDF, to the partner's admin and finance users, once; return how many new."""
    key = f"statement:{statement.pk}"
    users = [
        user
        for user in statement_recipients(statement)
        if not OutboxEmail.objects.filter(key=f"{key}:user:{user.pk}").exists()
    ]
    if not users:
        return 0
    from .documents import statement_pdf

    return email_users(
        key=key,
        users=users,
        template=STATEMENT_EMAIL_TEMPLATE,
        context={"statement": statement, "partner": statement.partner},
        attachment=(f"{statement.number}.pdf", statement_pdf(statement), "application/pdf"),
    )


def statements_email_quarter(*, quarter: str) -> int:
    """Queue the email of each statement of ``quarter``, one statement per transaction; return how many new."""
    return _statements_email(Statement.objects.filter(quarter=quarter))


def statements_email_missing() -> int:
    """Queue the email of every statement that has none although its partner has recipients; return how many.

    Finds what an interrupted ``statements_email`` left (a worker killed mid-quarter): a statement is emailed
    once, to the recipients of that time, so one already emailed is never sent again (not even to a user who
    joined since).
    """
    emailed = OutboxEmail.objects.filter(
        key__startswith=Concat(Value("statement:"), Cast(OuterRef("pk"), CharField()), Value(":user:"))
    )
    recipients = Membership.objects.filter(
        partner=OuterRef("partner_id"),
        user__is_active=True,
        role__in=[Membership.Role.ADMIN, Membership.Role.FINANCE],
    )
    missing = Statement.objects.filter(Exists(recipients)).exclude(Exists(emailed))
    queued = _statements_email(missing)
    if queued:
        logger.warning("queued %s statement email(s) that had not been sent", queued)
    return queued


def _statements_email(statements) -> int:
    queued = 0
    for statement in statements.select_related("partner").order_by("pk"):
        with transaction.atomic():
            queued += statement_email(statement=statement)
    return queued


# --- payment --------------------------------------------------------------------------------------------------


def statement_mark_paid(*, statement: Statement, payment_reference: str, paid_on: date) -> Statement:
    """Issued → paid, with the payment reference and date (a paid statement is not paid again)."""
    payment_reference = (payment_reference or "").strip()
    if not payment_reference:
        raise ValidationError(_("A payment reference is required."))
    with transaction.atomic():
        locked = Statement.objects.select_for_update().get(pk=statement.pk)
        if locked.status != Statement.Status.ISSUED:
            raise ValidationError(_("Statement %(number)s is already paid.") % {"number": locked.number})
        if paid_on > timezone.localdate():
            raise ValidationError(_("The payment date cannot be in the future."))
        if paid_on < locked.issued_on:
            raise ValidationError(_("A statement cannot be paid before it was issued."))
        locked.status = Statement.Status.PAID
        locked.payment_reference = payment_reference
        locked.paid_on = paid_on
        locked.save(update_fields=["status", "payment_reference", "paid_on"])
    return locked
