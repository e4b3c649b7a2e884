"""Reads for statement pages, documents, exports and the staff views; partner reads take scoped querysets."""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Case, CharField, Count, F, Func, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Cast

from deals.models import net_amount_text
from partners.selectors import tiers_by_code
from portal.catalog import ProductLine
from portal.fiscal import Quarter
from portal.money import AMOUNT_PATTERN, ZERO

from . import accruals
from .models import COMPONENT_ORDER, Component, RebateLine, Statement

EXPORT_HEADER = [
    "statement_number",
    "partner_code",
    "order_number",
    "line_number",
    "product_line",
    "booked_on",
    "net_amount",
    "component",
    "rate",
    "amount",
]


def rate_text(rate: Decimal) -> str:
    """A rate in percentage points without trailing zeros: ``2``, ``25``, ``2.5``."""
    return format(rate.normalize(), "f")


def component_rank():
    return Case(
        *[When(component=value, then=Value(index)) for index, value in enumerate(COMPONENT_ORDER)],
        output_field=IntegerField(),
    )


def statement_for_partner(*, statements: QuerySet[Statement], number: str) -> Statement | None:
    """The statement ``number`` among ``statements`` (already scoped to one partner), or ``None``."""
    return statements.select_related("partner").filter(number=number).first()


def statement_lines(lines: QuerySet[RebateLine], *, one_quarter: bool = False) -> QuerySet[RebateLine]:
    """Rebate lines in statement order: the quarter's lines by booked date, then prior-period adjustments,
    then credits, each by booked date, order and line, then component.

    ``one_quarter``: the lines are known to be of one quarter, whose key the sort can skip (a quarter's export
    sorts 224,825 lines: the constant key cost 15–35 % of the query on the bench).
    """
    order = ["_credit", "_late", "order_line__booked_on", "order_line__order__number", "order_line__line_number"]
    return (
        # A row carries its order line, order and tier, what the pages and the API show: not its statement and
        # partner again (two model instances a row nobody read; the exports read values, not instances).
        lines.select_related("order_line__order", "tier")
        .annotate(
            _credit=Case(When(order_line__credited_order__isnull=False, then=Value(1)), default=Value(0)),
            _late=Case(
                When(Q(order_line__credited_order__isnull=True, is_adjustment=True), then=Value(1)), default=Value(0)
            ),
            _component=component_rank(),
        )
        .order_by(*([] if one_quarter else ["statement__quarter"]), *order, "_component")
    )


def statement_page_lines(statement: Statement) -> QuerySet[RebateLine]:
    """``statement``'s lines in statement order for its pages: by the position the close wrote with each line (an
    index range of the page's rows, whatever the statement's size), or sorted as ``statement_lines`` for a
    statement closed before lines had one."""
    lines = statement_lines(RebateLine.objects.filter(statement=statement), one_quarter=True)
    if lines.filter(position__isnull=True).exists():
        return lines
    return lines.order_by("position")


def statement_lines_version(statement: Statement) -> str:
    """What a rendering of ``statement``'s lines table depends on besides the page's address and language: the
    statement itself (created once, its lines final once issued) and the tiers' names its rows show. The detail
    page keeps each rendered page of lines under it (``{% cache %}``): the fifty rows' rendering was two thirds of
    the page's time, for rows that never change. A statement still closing is never shown to partners."""
    tiers = ",".join(f"{tier.pk}:{tier.name}" for tier in tiers_by_code().values())
    return f"{statement.pk}:{statement.created_at.isoformat()}:{statement.line_count}:{tiers}"


EXPORT_FIELDS = (
    "statement__number",
    "statement__partner__code",
    "order_line__order__number",
    "order_line__line_number",
    "order_line__product_line",
    "order_line__booked_on",
    "order_line__net_amount_source",
    "order_line__net_amount",
    "component",
    "rate",
    "amount",
)


def statement_export_rows(statements: QuerySet[Statement]):
    """The CSV rows of DESIGN §7 for ``statements`` (header first): plain values read in chunks, no model
    instance per row (a quarter is a million rows)."""
    yield EXPORT_HEADER
    lines = statement_lines(RebateLine.objects.filter(statement__in=statements)).values_list(*EXPORT_FIELDS)
    for (
        number,
        partner,
        order,
        line_number,
        product_line,
        booked_on,
        source,
        net,
        component,
        rate,
        amount,
    ) in lines.iterator(chunk_size=5000):
        yield [
            number,
            partner,
            order,
            str(line_number),
            product_line,
            booked_on.isoformat(),
            net_amount_text(source, net),  # as the vendor's file wrote it
            component,
            rate_text(rate),
            f"{amount:.2f}",
        ]


class _CsvText(Func):
    """A text cell as ``portal.csvexport.csv_cell`` writes it: a leading apostrophe before a formula prefix."""

    template = (
        "CASE WHEN left(%(expressions)s, 1) IN ('=', '+', '-', '@', chr(9), chr(13))"
        " THEN chr(39) || %(expressions)s ELSE %(expressions)s END"
    )
    output_field = CharField()


def statement_export_sql(statements: QuerySet[Statement]) -> tuple[str, tuple]:
    """The rows of ``statement_export_rows`` (without the header) as one PostgreSQL query whose columns are the
    CSV cells, formatted in SQL exactly as the Python rows are, in statement order: for ``COPY (…) TO STDOUT``."""
    source_ok = Q(order_line__net_amount_source__regex=rf"^{AMOUNT_PATTERN.pattern}$")
    cells = {
        "c_number": _CsvText(F("statement__number")),
        "c_partner": _CsvText(F("statement__partner__code")),
        "c_order": _CsvText(F("order_line__order__number")),
        "c_line": Cast("order_line__line_number", CharField()),
        "c_product": _CsvText(F("order_line__product_line")),
        "c_booked": Func(F("order_line__booked_on"), Value("YYYY-MM-DD"), function="to_char", output_field=CharField()),
        "c_net": Case(  # as the vendor's file wrote it, else with two decimals
            When(source_ok, then=F("order_line__net_amount_source")),
            default=Cast("order_line__net_amount", CharField()),
            output_field=CharField(),
        ),
        "c_component": _CsvText(F("component")),
        "c_rate": Cast(Func(F("rate"), function="trim_scale"), CharField()),  # 2.500 → 2.5, as rate_text
        "c_amount": Cast("amount", CharField()),
    }
    one_quarter = len(statements.order_by().values_list("quarter", flat=True).distinct()[:2]) == 1
    lines = statement_lines(RebateLine.objects.filter(statement__in=statements), one_quarter=one_quarter)
    lines = lines.annotate(**cells)
    return lines.values_list(*cells).query.sql_with_params()


@dataclass
class StatementSummary:
    by_component: list[dict] = field(default_factory=list)
    by_product_line: list[dict] = field(default_factory=list)
    adjustments: Decimal = ZERO
    total: Decimal = ZERO


def statement_summary(statement: Statement) -> StatementSummary:
    """Totals by component and by product line, and the prior-period adjustments, from ONE grouped query (at most
    6 components × 6 product lines × 2 rows, whatever the statement's size), stored on an issued statement the
    first time its PDF is rendered (``Statement.summary``); their sums equal the statement total."""
    groups = statement_summary_groups(statement)
    by_component: dict[str, dict] = {}
    by_line: dict[str, dict] = {}
    adjustments = ZERO
    for group in groups:
        component = by_component.setdefault(group["component"], {"amount": ZERO, "count": 0})
        component["amount"] += group["amount"]
        component["count"] += group["count"]
        line = by_line.setdefault(group["order_line__product_line"], {"amount": ZERO, "net": None})
        line["amount"] += group["amount"]
        if group["component"] == Component.BASE:  # every rebated line has a base row: its net, once
            line["net"] = (line["net"] or ZERO) + group["net"]
        if group["is_adjustment"]:
            adjustments += group["amount"]
    labels = dict(Component.choices)
    return StatementSummary(
        by_component=[
            {"component": value, "label": labels[value], **by_component[value]}
            for value in COMPONENT_ORDER
            if value in by_component
        ],
        by_product_line=[
            {"product_line": value, "label": label, "amount": by_line[value]["amount"], "net": by_line[value]["net"]}
            for value, label in ProductLine.choices
            if value in by_line
        ],
        adjustments=adjustments,
        total=statement.total,
    )


def statement_summary_groups(statement: Statement) -> list[dict]:
    """The statement's lines grouped by component, product line and adjustment: as stored at issue
    (``Statement.summary``, ``documents.statement_summary_store``), else read by one grouped query."""
    if statement.summary is not None:
        return [
            {"component": group["component"], "order_line__product_line": group["product_line"],
             "is_adjustment": group["adjustment"], "amount": Decimal(group["amount"]), "count": group["lines"],
             "net": Decimal(group["net"])}
            for group in statement.summary
        ]  # fmt: skip
    return list(
        RebateLine.objects.filter(statement=statement)
        .values("component", "order_line__product_line", "is_adjustment")
        .annotate(amount=Sum("amount"), count=Count("id"), net=Sum("net_amount"))
        .order_by("component", "order_line__product_line", "is_adjustment")
    )


def statement_summary_encode(groups: list[dict]) -> list[dict]:
    """``statement_summary_groups`` as ``Statement.summary`` stores them (amounts as exact decimal text)."""
    return [
        {"component": group["component"], "product_line": group["order_line__product_line"],
         "adjustment": group["is_adjustment"], "amount": str(group["amount"]), "lines": group["count"],
         "net": str(group["net"])}
        for group in groups
    ]  # fmt: skip


def program_totals() -> list[dict]:
    """What the program pays: per quarter, component and tier (one grouped query)."""
    return list(
        RebateLine.objects.exclude(statement__status=Statement.Status.CLOSING)  # issued, as the QuarterClose
        .values("statement__quarter", "component", "tier__name", "tier__rank")
        .annotate(amount=Sum("amount"), lines=Count("id"))
        .order_by("-statement__quarter", "tier__rank", "component")
    )


# --- accrual --------------------------------------------------------------------------------------------------


@dataclass
class Accrual:
    quarter: Quarter
    as_of: date
    total: Decimal
    by_component: list[dict]
    lines: int
    computed_at: datetime | None = None
    current: bool = True  # False: a refresh is queued; the figure is the one of ``computed_at``


def rebate_accrual(*, partner, as_of: date) -> Accrual:
    """The open quarter's accrual for ``partner`` on ``as_of``: what the lines booked so far would earn if the
    quarter closed now, by the same code as the close (an estimate: it freezes nothing). Read from its stored row
    while the inputs are unchanged (``rebates.accruals``)."""
    stored = accruals.accrual_for_partner(partner_id=partner.pk, as_of=as_of)
    labels = dict(Component.choices)
    return Accrual(
        quarter=stored.quarter,
        as_of=stored.as_of,
        total=stored.total,
        by_component=[
            {"component": c, "label": labels[c], "amount": stored.by_component[c]}
            for c in COMPONENT_ORDER
            if c in stored.by_component
        ],
        lines=stored.lines,
        computed_at=stored.computed_at,
        current=stored.current,
    )
