"""The rebates chart of the statements page: what the partner earned per quarter and component over the last
eight quarters, from its issued statements (one ``GROUP BY``)."""

from datetime import date
from decimal import Decimal

from django.db.models import QuerySet, Sum
from django.utils.translation import gettext as _

from portal.charts import BarChart, Category, Series, money_text, short_amount
from portal.fiscal import Quarter
from portal.money import CURRENCY, ZERO

from .models import COMPONENT_ORDER, Component, RebateLine, Statement

CHART_QUARTERS = 8


def closed_quarters(today: date, count: int = CHART_QUARTERS) -> list[Quarter]:
    """The ``count`` quarters before the one containing ``today``, oldest first."""
    quarters = [Quarter.containing(today).previous()]
    while len(quarters) < count:
        quarters.append(quarters[-1].previous())
    return quarters[::-1]


def rebates_by_quarter(*, lines: QuerySet[RebateLine], quarters: list[Quarter]) -> dict[tuple[str, str], Decimal]:
    """The rebate amounts of ``lines`` (already scoped to one partner) by (statement quarter, component): one
    ``GROUP BY`` whatever the number of lines. A quarter's statement includes its prior-period adjustments."""
    rows = (
        lines.filter(statement__quarter__in=[str(quarter) for quarter in quarters])
        .exclude(statement__status=Statement.Status.CLOSING)  # a close in progress shows when it is issued
        .values("statement__quarter", "component")
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    return {(row["statement__quarter"], row["component"]): row["amount"] for row in rows}


def rebate_quarters_chart(*, lines: QuerySet[RebateLine], today: date) -> BarChart:
    """The stacked bars of :func:`rebates_by_quarter` for the last eight closed quarters, one pattern per
    component (only the components the partner earned appear in the legend)."""
    quarters = closed_quarters(today)
    amounts = rebates_by_quarter(lines=lines, quarters=quarters)
    earned = [component for component in COMPONENT_ORDER if any(key[1] == component for key in amounts)]
    labels = dict(Component.choices)
    series = [Series(key=component, label=str(labels[component])) for component in earned] or [
        Series(key="total", label=_("Rebates"))
    ]
    categories = [
        Category(
            label=str(quarter),
            values=tuple(amounts.get((str(quarter), s.key), ZERO) for s in series),
        )
        for quarter in quarters
    ]
    return BarChart(
        title=_("Rebates by quarter and component, last %(count)s quarters") % {"count": CHART_QUARTERS},
        description=_(
            "Each bar is the total of a quarter's statement (in %(currency)s), stacked by component; each component "
            "has its own pattern, named in the legend."
        )
        % {"currency": CURRENCY},
        x_label=_("Quarter"),
        y_label=_("Rebates (%(currency)s)") % {"currency": CURRENCY},
        series=series,
        categories=categories,
        format_value=lambda amount: money_text(amount, 2),
        format_short=short_amount,
        chart_id="chart-rebates",
    )
