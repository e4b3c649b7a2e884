"""Writes of the rebates app: close a quarter (issue its statements), email statements, mark them paid."""

import logging
from collections import defaultdict
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import CharField, Count, Exists, Max, OuterRef, Sum, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from deals.models import OrderLine
from partners.models import Membership, Partner
from partners.selectors import partner_users_with_roles
from portal.chunks import ChunkedJob, chunk_ranges, chunked_run, in_range
from portal.emails import email_users
from portal.events import STATEMENT_ISSUED, PartnerEvent, events_publish
from portal.fiscal import Quarter
from portal.models import OutboxEmail, Program
from portal.money import ZERO, round_money
from portal.outbox import task_enqueue
from portal.statistics import statistics_refresh

from . import generator
from .documents import document_language, statement_documents_ensure
from .models import QuarterClose, RebateLine, Statement, StatementDocument, statement_order_key

logger = logging.getLogger(__name__)

CLOSE_JOB = "rebates.close_quarter"
CLOSE_DUE_TASK = "rebates.tasks.quarter_close_due"
STATEMENT_EMAIL_TEMPLATE = "rebates/email/statement_issued"
STATEMENT_PAID_EMAIL_TEMPLATE = "rebates/email/statement_paid"
STATEMENTS_EMAIL_TASK = "rebates.tasks.statements_email"
STATEMENTS_DELIVER_TASK = "rebates.tasks.statements_deliver"
STATEMENT_DOCUMENTS_TASK = "rebates.tasks.statement_documents_render"


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


def quarter_close(*, quarter: Quarter, as_of: date, force: bool = False, dispatch: bool = False) -> dict:
    """Close ``quarter`` as of ``as_of``: issue one statement per partner with rebate lines, once.

    Planned once per quarter in partner-range chunks (``portal.chunks``, ``QUARTER_CLOSE``): each chunk writes
    its partners' statements, still ``closing`` (seen by nobody), and their rebate lines in its own short
    transaction; the finish issues them all at once, records the close and queues the emails. A second run, or
    two at once, issue nothing more (two at once share the chunks); a run killed half-way keeps its finished
    chunks and the next run does the rest, to the result of one run. The chunks read the order lines there when
    the close was planned, for the lines to put on statements and for their facts (new business, blended,
    credits); registrations, certifications, attestations and rates are read when each chunk runs. ``dispatch``:
    queue the chunks for the workers instead of running them here, and return at once. Return the close's summary.
    """
    program = Program.current()
    _check_closable(quarter, as_of, program)
    params = {"quarter": str(quarter), "as_of": as_of.isoformat(), "watermark": _line_watermark(), "dispatch": dispatch}
    result = chunked_run(QUARTER_CLOSE, str(quarter), params, dispatch=dispatch, force=force)
    close = QuarterClose.objects.filter(quarter=str(quarter)).first()
    if result is None or dispatch:  # closed before, or queued: say where it stands
        if close is None:
            return {"quarter": str(quarter), "created": False, "closing": True, **(result or {})}
        return {**_summary(close, created=False), **(result or {})}
    return result


def _line_watermark() -> int | None:
    return OrderLine.objects.aggregate(last=Max("pk"))["last"]


def _summary(close: QuarterClose, *, created: bool) -> dict:
    return {
        "quarter": close.quarter,
        "closed_on": close.closed_on.isoformat(),
        "statements": close.statements,
        "rebate_lines": close.rebate_lines,
        "total": str(close.total),
        "created": created,
    }


def _close_plan(params: dict) -> list[dict]:
    """Partner ranges of at most ``CLOSE_CHUNK_PARTNERS`` partners or about ``CLOSE_CHUNK_LINES`` quarter lines."""
    quarter = Quarter.parse(params["quarter"])
    if QuarterClose.objects.filter(quarter=str(quarter)).exists():  # a forced re-run: nothing to write
        return [{"lo": None, "hi": None}]
    _check_closable(quarter, date.fromisoformat(params["as_of"]), Program.current())  # again, under the claim
    lines = dict(
        OrderLine.objects.filter(partner__isnull=False, booked_on__gte=quarter.start, booked_on__lte=quarter.end)
        .values("partner_id")
        .annotate(lines=Count("id"))
        .values_list("partner_id", "lines")
    )
    weights = [(pk, lines.get(pk, 1)) for pk in Partner.objects.values_list("pk", flat=True)]
    return chunk_ranges(
        weights, max_items=settings.REBATES_CLOSE_CHUNK_PARTNERS, max_weight=settings.REBATES_CLOSE_CHUNK_LINES
    )


def _close_chunk(params: dict, chunk: dict) -> dict:
    """Write the closing statements and rebate lines of the partners of one range (``_close_plan``)."""
    quarter, issued_on = Quarter.parse(params["quarter"]), date.fromisoformat(params["as_of"])
    if QuarterClose.objects.filter(quarter=str(quarter)).exists():  # a forced re-run: an issued statement stays
        return {"statements": 0}
    partner_ids = list(Partner.objects.filter(**in_range(chunk["lo"], chunk["hi"])).values_list("pk", flat=True))
    if not partner_ids:
        return {"statements": 0}
    program, closing = Program.current(), Statement.Status.CLOSING
    if connection.vendor == "postgresql":
        generator.rebate_lines_insert_sql(
            quarter=quarter,
            issued_on=issued_on,
            program=program,
            partner_ids=partner_ids,
            watermark=params["watermark"],
            status=closing,
        )
    else:
        rows = generator.rebate_rows(
            quarter=quarter, program=program, partner_ids=partner_ids, watermark=params["watermark"]
        )
        rebate_lines_write(rows=rows, quarter=quarter, issued_on=issued_on, status=closing)
    statements_totals_update(quarter=quarter, partner_ids=partner_ids)
    return {"statements": Statement.in_close.for_quarter(quarter).filter(partner_id__in=partner_ids).count()}


def _close_finish(params: dict, results: list[dict]) -> dict:
    """Issue the quarter's statements together, record the close, queue the emails and publish the events."""
    quarter = Quarter.parse(params["quarter"])
    existing = QuarterClose.objects.filter(quarter=str(quarter)).first()
    if existing is not None:  # a forced re-run: an issued statement never changes
        return _summary(existing, created=False)
    Statement.in_close.for_quarter(quarter).filter(status=Statement.Status.CLOSING).update(
        status=Statement.Status.ISSUED
    )
    statements = Statement.objects.for_quarter(quarter)
    figures = statements.aggregate(count=Count("id"), lines=Sum("line_count"), total=Sum("total"))
    close = QuarterClose.objects.create(
        quarter=str(quarter),
        closed_on=date.fromisoformat(params["as_of"]),
        statements=figures["count"] or 0,
        rebate_lines=figures["lines"] or 0,
        total=round_money(figures["total"] or ZERO),  # a sum of cents: exact; quantized for SQLite
    )
    # The export, the deliveries and the pages that follow at once plan on the quarter's real size.
    statistics_refresh((Statement, RebateLine), rows=close.rebate_lines)
    task_enqueue(STATEMENTS_EMAIL_TASK, args=[str(quarter)], key=f"statements_email:{quarter}")
    if params.get("dispatch"):  # the nightly close on workers: on to the next quarter due, if any
        task_enqueue(CLOSE_DUE_TASK, kwargs={"as_of": params["as_of"]}, key=f"quarter_close_due:{quarter}")
    events_publish([
        PartnerEvent(STATEMENT_ISSUED, partner_id, f"statement:{number}", {
            "number": number, "quarter": str(quarter), "total": f"{total:.2f}"})
        for partner_id, number, total in statements.values_list("partner_id", "number", "total").iterator(2000)
    ])  # fmt: skip
    logger.info("closed %s: %s statements in %s chunks, total %s", quarter, close.statements, len(results), close.total)
    return _summary(close, created=True)


QUARTER_CLOSE = ChunkedJob(
    name=CLOSE_JOB, path="rebates.services.QUARTER_CLOSE", plan=_close_plan, chunk=_close_chunk, finish=_close_finish
)


def statements_totals_update(*, quarter: Quarter, partner_ids=None) -> None:
    """Set each statement of ``quarter`` (of ``partner_ids``) to the total and count of its lines, in one query.

    One aggregate over the quarter's rebate lines joined back with ``UPDATE … FROM`` (PostgreSQL, SQLite ≥ 3.33),
    not two correlated subqueries per statement; a statement's total is exactly the sum of its rounded amounts.
    """
    partners, params = "", [str(quarter)]
    if partner_ids is not None:
        partners = f" AND s.partner_id IN ({', '.join(['%s'] * len(partner_ids))})"
        params += list(partner_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE rebates_statement SET total = agg.total, line_count = agg.lines
            FROM (SELECT r.statement_id, SUM(r.amount) AS total, COUNT(*) AS lines
                  FROM rebates_rebateline r JOIN rebates_statement s ON s.id = r.statement_id
                  WHERE s.quarter = %s{partners} GROUP BY r.statement_id) agg
            WHERE rebates_statement.id = agg.statement_id
            """,  # noqa: S608 — placeholders only
            params,
        )


def rebate_lines_write(
    *, rows: list[generator.RebateRow], quarter: Quarter, issued_on: date, status: str = Statement.Status.ISSUED
) -> int:
    """Write ``rows`` as statements of ``quarter`` and their rebate lines, in bulk; return the lines written."""
    partner_ids = sorted({row.partner_id for row in rows})
    positions = _statement_positions(rows)
    codes = dict(Partner.objects.filter(pk__in=partner_ids).values_list("pk", "code"))
    Statement.objects.bulk_create(
        [
            Statement(
                number=Statement.number_for(quarter, codes[partner_id]),
                partner_id=partner_id,
                quarter=str(quarter),
                issued_on=issued_on,
                status=status,
            )
            for partner_id in partner_ids
        ],
        ignore_conflicts=True,
    )
    statement_ids = dict(
        Statement.in_close.for_quarter(quarter).filter(partner_id__in=partner_ids).values_list("partner_id", "pk")
    )
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
                position=positions[row.order_line_id, row.component],
            )
            for row in rows
        ],
        batch_size=2000,
        ignore_conflicts=True,
    )
    return len(created)


def _statement_positions(rows: list[generator.RebateRow]) -> dict[tuple[int, str], int]:
    """Each row's ``RebateLine.position`` in its partner's statement, ``(order line, component)`` → 1, 2, …: the
    reference of the close's SQL window (``statement_order_sql``), from the order lines' facts."""
    facts = {}
    line_ids = sorted({row.order_line_id for row in rows})
    for start in range(0, len(line_ids), 2000):
        facts.update(
            (pk, rest)
            for pk, *rest in OrderLine.objects.filter(pk__in=line_ids[start : start + 2000]).values_list(
                "pk", "credited_order_id", "booked_on", "order__number", "line_number"
            )
        )
    by_partner = defaultdict(list)
    for row in rows:
        credited, booked_on, number, line_number = facts[row.order_line_id]
        key = statement_order_key(
            credited=credited is not None, is_adjustment=row.is_adjustment, booked_on=booked_on, number=number,
            line_number=line_number, component=row.component,
        )  # fmt: skip
        by_partner[row.partner_id].append((key, row.order_line_id, row.component))
    positions = {}
    for lines in by_partner.values():
        for position, (_key, line_id, component) in enumerate(sorted(lines), start=1):
            positions[line_id, component] = position
    return positions


def quarters_due(*, as_of: date) -> list[Quarter]:
    """The quarters, in order, whose statement delay has passed on ``as_of`` and that are not closed."""
    program = Program.current()
    closed = set(QuarterClose.objects.values_list("quarter", flat=True))
    quarter, due = first_quarter(program), []
    while quarter.end + timedelta(days=program.statement_delay_days) <= as_of:
        if str(quarter) not in closed:
            due.append(quarter)
        quarter = quarter.next()
    return due


def quarter_close_due(*, as_of: date, dispatch: bool = False) -> list[dict]:
    """Close, in order, every quarter whose statement delay has passed on ``as_of`` and that is not closed.

    ``dispatch`` (the nightly task on workers): queue the chunks of the first such quarter; its finish queues
    this again for the next one (quarters close in order).
    """
    due = quarters_due(as_of=as_of)
    if dispatch:
        return [quarter_close(quarter=due[0], as_of=as_of, dispatch=True)] if due else []
    return [quarter_close(quarter=quarter, as_of=as_of) for quarter in due]


# --- documents and email ----------------------------------------------------------------------------------------

# A delivery chunk (one short task): up to this many statements, or as many as hold this many rebate lines.
# A PDF costs about 0.1 s, plus a quarter of a millisecond a line and language (fpdf2, docs/performance.md), so a
# chunk takes seconds, and two workers share a quarter's chunks evenly; a statement larger than that is a chunk of
# its own (a 68,000-line statement: about a minute a language).
DELIVER_CHUNK_STATEMENTS = 50
DELIVER_CHUNK_LINES = 4000


def statement_recipients(statement: Statement):
    roles = [Membership.Role.ADMIN, Membership.Role.FINANCE]
    return partner_users_with_roles([statement.partner_id], roles)[statement.partner_id]


def statement_document_languages(statement: Statement, *, recipients=None) -> set[str]:
    """The languages a statement's PDF is rendered in ahead of need: its recipients' (who read and download it),
    the default language when it has none, and every language it was rendered in before (a paid statement)."""
    users = statement_recipients(statement) if recipients is None else recipients
    languages = {document_language(user.language) for user in users} or {settings.LANGUAGE_CODE}
    return languages | set(StatementDocument.objects.filter(statement=statement).values_list("language", flat=True))


def statement_email(*, statement: Statement) -> int:
    """Queue the statement to the partner's admin and finance users, once, each with the stored PDF in their
    language (rendered and stored here if the delivery worker has not done it yet); return how many new."""
    key = f"statement:{statement.pk}"
    users = [
        user
        for user in statement_recipients(statement)
        if not OutboxEmail.objects.filter(key=f"{key}:user:{user.pk}").exists()
    ]
    if not users:
        return 0
    documents = statement_documents_ensure(statement, languages=[document_language(user.language) for user in users])
    queued = 0
    for language, document in documents.items():
        queued += email_users(
            key=key,
            users=[user for user in users if document_language(user.language) == language],
            template=STATEMENT_EMAIL_TEMPLATE,
            context={"statement": statement, "partner": statement.partner},
            attachment=(f"{statement.number}.pdf", bytes(document.content), "application/pdf"),
        )
    return queued


def statements_deliver(*, statement_ids: list[int]) -> int:
    """Render and store the PDFs of each of ``statement_ids``, then queue its email; return how many emails new.

    One statement per transaction, in id order, its row locked (``FOR NO KEY UPDATE``: downloads that store a
    missing PDF are not blocked): a second copy running at the same time waits for the statement, then finds its
    PDFs stored and its emails queued, so each PDF is rendered once; so does a redelivered chunk. Waiting rather
    than skipping: a statement locked by its payment is delivered too, not left to the hourly sweep.
    """
    queued = 0
    for statement_id in sorted(statement_ids):
        with transaction.atomic():
            statement = (
                Statement.objects.select_for_update(no_key=True)
                .select_related("partner")
                .filter(pk=statement_id)
                .first()
            )
            if statement is None:
                continue
            recipients = statement_recipients(statement)
            statement_documents_ensure(
                statement, languages=statement_document_languages(statement, recipients=recipients)
            )
            queued += statement_email(statement=statement)
    return queued


def statement_chunks(statements) -> list[list[int]]:
    """The ids of ``statements`` in delivery chunks, in id order (the same statements give the same chunks)."""
    chunks: list[list[int]] = []
    current: list[int] = []
    lines = 0
    for statement_id, line_count in statements.order_by("pk").values_list("pk", "line_count"):
        if current and (len(current) >= DELIVER_CHUNK_STATEMENTS or lines + line_count > DELIVER_CHUNK_LINES):
            chunks.append(current)
            current, lines = [], 0
        current.append(statement_id)
        lines += line_count
    if current:
        chunks.append(current)
    return chunks


def _statements_deliver_queue(statements, *, key: str | None) -> int:
    """Queue ``statements`` to the delivery workers in chunks (after commit); return how many statements."""
    queued = 0
    with transaction.atomic():
        for ids in statement_chunks(statements):
            task_enqueue(STATEMENTS_DELIVER_TASK, args=[ids], key=f"{key}:{ids[0]}-{ids[-1]}:{len(ids)}" if key else "")
            queued += len(ids)
    return queued


def statements_email_quarter(*, quarter: str) -> int:
    """Queue the delivery (PDFs rendered and stored, then emails) of the statements of ``quarter`` in short
    chunks for the workers, each chunk once; return how many statements were handed over."""
    return _statements_deliver_queue(Statement.objects.filter(quarter=quarter), key=f"statements_deliver:{quarter}")


def statements_email_missing() -> int:
    """Hand every statement that has no email although its partner has recipients to the delivery workers;
    return how many.

    Finds what an interrupted ``statements_email`` left (a worker killed mid-quarter): a statement is emailed
    once, to the recipients of that time, so one already emailed is never sent again (not even to a user who
    joined since). Each sweep queues chunks of its own: a statement still being delivered by an earlier chunk
    waits for it and is then found delivered, so it is neither rendered nor emailed twice.
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
    queued = _statements_deliver_queue(missing, key=None)
    if queued:
        logger.warning("queued %s statement(s) whose email had not been sent", queued)
    return queued


def statement_documents_render(*, statement_id: int) -> int:
    """Render and store the PDFs of a statement as it reads now (after its payment); return how many were new."""
    statement = Statement.objects.select_related("partner").get(pk=statement_id)
    before = StatementDocument.objects.filter(statement=statement).count()
    statement_documents_ensure(statement, languages=statement_document_languages(statement))
    return StatementDocument.objects.filter(statement=statement).count() - before


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
        # The PDF prints the status and the payment: the paid statement's document is rendered by a worker, so
        # that its downloads stay files (the issued one, as emailed, is kept).
        task_enqueue(STATEMENT_DOCUMENTS_TASK, args=[locked.pk], key=f"statement_documents:{locked.pk}:paid")
        # The partner's finance learns the money is on its way, with the reference to find it (once: keyed).
        email_users(
            key=f"statement_paid:{locked.pk}",
            users=statement_recipients(locked),
            template=STATEMENT_PAID_EMAIL_TEMPLATE,
            context={"statement": locked, "partner": locked.partner},
        )
    return locked
