"""Bar charts drawn on the server as accessible SVG: no script, no CDN, readable without colour.

A chart is a list of categories (months, quarters), each a stack of segments (one per series), optional
horizontal threshold lines, and the same figures as a table for screen readers and for anyone who prefers
numbers. The SVG carries ``role="img"``, a ``<title>`` and a ``<desc>``, labelled axes, every bar's total
written as text above it, and each series filled with its own *pattern* (and named in the legend), so that
nothing relies on colour alone. Threshold lines are dashed and labelled in words.

Geometry is integer pixels computed from ``Decimal`` values (no float): amounts are only compared and scaled.
Callers pass the formatting (the reader's language and currency) as functions, so this module knows no
language and imports no app.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

from django.template.defaultfilters import floatformat
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from portal.money import CURRENCY

ZERO = Decimal(0)
# One fill per series, each distinguishable in greyscale and without colour: solid, hatches, dots, cross.
PATTERNS = ("solid", "hatch", "dots", "cross", "back-hatch", "grid")


@dataclass(frozen=True)
class Series:
    key: str
    label: str


@dataclass(frozen=True)
class Threshold:
    label: str  # already worded, e.g. "Platinum (revenue path): 20,000,000 USD"
    value: Decimal


@dataclass(frozen=True)
class Category:
    label: str  # the axis label, e.g. "Mar 2026"
    values: tuple[Decimal, ...]  # one per series, in series order

    @property
    def total(self) -> Decimal:
        return sum(self.values, ZERO)


@dataclass
class BarChart:
    title: str
    description: str
    x_label: str
    y_label: str
    series: Sequence[Series]
    categories: Sequence[Category]
    thresholds: Sequence[Threshold] = ()
    format_value: Callable[[Decimal], str] = str  # a full amount, for the table and tooltips
    format_short: Callable[[Decimal], str] = str  # a short amount, above the bars and on the axis
    width: int = 720
    height: int = 300
    chart_id: str = "chart"
    table_rows: list = field(init=False)

    def __post_init__(self):
        self.table_rows = [
            {
                "label": category.label,
                "values": [self.format_value(value) for value in category.values],
                "total": self.format_value(category.total),
            }
            for category in self.categories
        ]

    @property
    def stacked(self) -> bool:
        return len(self.series) > 1

    @property
    def has_data(self) -> bool:
        return any(value for category in self.categories for value in category.values)

    def svg(self) -> SafeString:
        return render_bar_chart_svg(self)


def money_text(amount: Decimal, places: int = 0) -> str:
    """An amount in the active language's number format with its currency: "5,000,000 USD", "5 000 000 USD"."""
    return f"{floatformat(amount, f'{places}g')}\u00a0{CURRENCY}"


def short_amount(value: Decimal) -> str:
    """An amount in a few characters, in the active language's number format: ``1.2 M``, ``750 k``, ``85``."""
    magnitude = abs(value)
    if magnitude >= 1_000_000:
        return f"{floatformat(value / Decimal(1_000_000), '-1')}\u00a0M"
    if magnitude >= 1_000:
        return f"{floatformat(value / Decimal(1_000), '0')}\u00a0k"
    return floatformat(value, "0")


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above ``value`` (the top of the value axis); 1 for nothing."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for step in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        candidate = step.scaleb(exponent)
        if candidate >= value:
            return candidate
    return Decimal(10).scaleb(exponent)  # pragma: no cover - the loop ends at 10 × 10ⁿ > value


def _scale(value: Decimal, top: Decimal, pixels: int) -> int:
    """``value`` on a ``pixels``-tall axis whose top is ``top``, whole pixels, never negative."""
    if value <= 0:
        return 0
    return int((value * pixels / top).to_integral_value(rounding=ROUND_CEILING))


_PATTERN_DEFS = {
    "solid": '<rect width="8" height="8" class="chart-fill-bg chart-fill-solid"/>',
    "hatch": '<rect width="8" height="8" class="chart-fill-bg"/><path d="M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4" '
    'class="chart-stroke"/>',
    "dots": '<rect width="8" height="8" class="chart-fill-bg"/><circle cx="4" cy="4" r="1.6" class="chart-dot"/>',
    "cross": '<rect width="8" height="8" class="chart-fill-bg"/><path d="M0,4 h8 M4,0 v8" class="chart-stroke"/>',
    "back-hatch": '<rect width="8" height="8" class="chart-fill-bg"/><path d="M-2,6 l4,4 M0,0 l8,8 M6,-2 l4,4" '
    'class="chart-stroke"/>',
    "grid": '<rect width="8" height="8" class="chart-fill-bg"/><path d="M0,0 h8 v8" class="chart-stroke"/>',
}


def pattern_of(index: int) -> str:
    return PATTERNS[index % len(PATTERNS)]


def _legend_positions(chart: BarChart, left: int, right_edge: int) -> list[tuple[int, int]]:
    """Each legend entry's (x, row) — the series of a stacked chart, then the thresholds: entries flow left to
    right and wrap before ``right_edge`` (an entry is about 7 px per character of its name, plus its sample)."""
    labels = [series.label for series in chart.series] if chart.stacked else []
    labels += [threshold.label for threshold in chart.thresholds]
    positions, x, row = [], left, 0
    for label in labels:
        width = 34 + 7 * len(label)
        if x > left and x + width > right_edge:
            x, row = left, row + 1
        positions.append((x, row))
        x += width
    return positions


LEGEND_TOP, LEGEND_ROW = 24, 20


def render_bar_chart_svg(chart: BarChart) -> SafeString:
    """Draw ``chart`` as an SVG element (escaped text throughout).

    From the top: the value axis's name, the legend (series patterns, threshold line styles, wrapped), then the
    plot; each threshold line also carries its short amount in the right margin, clear of the bars' values.
    """
    left, bottom = 70, 52
    right = 52 if chart.thresholds else 16
    plot_w = chart.width - left - right
    legend = _legend_positions(chart, 4, chart.width - 4)
    legend_rows = max((row for _x, row in legend), default=-1) + 1
    plot_top = LEGEND_TOP + LEGEND_ROW * legend_rows + 16  # room for the tallest bar's value
    plot_h = chart.height - 100
    baseline = plot_top + plot_h
    height = baseline + bottom
    highest = max([category.total for category in chart.categories] + [t.value for t in chart.thresholds] + [ZERO])
    axis_top = nice_ceiling(highest)
    ids = {name: f"{chart.chart_id}-{name}" for name in PATTERNS}
    parts: list[str] = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {} {}" role="img" '
            'aria-labelledby="{}-title {}-desc" preserveAspectRatio="xMidYMid meet">',
            chart.width,
            height,
            chart.chart_id,
            chart.chart_id,
        ),
        format_html('<title id="{}-title">{}</title>', chart.chart_id, chart.title),
        format_html('<desc id="{}-desc">{}</desc>', chart.chart_id, chart.description),
        "<defs>",
        *(
            format_html(
                '<pattern id="{}" width="8" height="8" patternUnits="userSpaceOnUse">{}</pattern>',
                ids[pattern_of(index)],
                mark_safe(_PATTERN_DEFS[pattern_of(index)]),  # noqa: S308 - constant markup above
            )
            for index in range(min(len(chart.series), len(PATTERNS)))
        ),
        "</defs>",
    ]
    # Value axis: five ticks with their short amounts, and its label turned along it.
    for step in range(5):
        value = axis_top * step / 4
        y = baseline - _scale(value, axis_top, plot_h)
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" class="chart-grid"/>'
                '<text x="{}" y="{}" class="chart-tick" text-anchor="end">{}</text>',
                left,
                left + plot_w,
                y,
                y,
                left - 6,
                y + 4,
                chart.format_short(value),
            )
        )
    parts.append(format_html('<text x="4" y="14" class="chart-axis-label">{}</text>', chart.y_label))
    # Bars: one slot per category, the segments stacked from the baseline, the total written above.
    slot = plot_w // max(len(chart.categories), 1)
    bar_w = max(slot * 3 // 5, 4)
    for position, category in enumerate(chart.categories):
        x = left + position * slot + (slot - bar_w) // 2
        y = baseline
        for index, (series, value) in enumerate(zip(chart.series, category.values, strict=True)):
            segment = _scale(value, axis_top, plot_h)
            if not segment:
                continue
            y -= segment
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="url(#{})" class="chart-bar chart-series-{}">'
                    "<title>{} · {}: {}</title></rect>",
                    x,
                    y,
                    bar_w,
                    segment,
                    ids[pattern_of(index)],
                    index,
                    category.label,
                    series.label,
                    chart.format_value(value),
                )
            )
        parts.append(
            format_html(
                '<text x="{}" y="{}" class="chart-value" text-anchor="middle">{}</text>'
                '<text x="{}" y="{}" class="chart-tick" text-anchor="middle">{}</text>',
                x + bar_w // 2,
                min(y, baseline) - 4,
                chart.format_short(category.total),
                x + bar_w // 2,
                baseline + 16,
                category.label,
            )
        )
    parts.append(
        format_html(
            '<line x1="{}" x2="{}" y1="{}" y2="{}" class="chart-axis"/>'
            '<text x="{}" y="{}" class="chart-axis-label" text-anchor="middle">{}</text>',
            left,
            left + plot_w,
            baseline,
            baseline,
            left + plot_w // 2,
            height - 8,
            chart.x_label,
        )
    )
    # Thresholds: dashed lines, each labelled in words at its right end (dash patterns differ per line).
    for index, threshold in enumerate(chart.thresholds):
        y = baseline - _scale(threshold.value, axis_top, plot_h)
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" class="chart-threshold chart-threshold-{}"/>'
                '<text x="{}" y="{}" class="chart-threshold-label">{}</text>',
                left,
                left + plot_w,
                y,
                y,
                index,
                left + plot_w + 4,
                y + 4,
                chart.format_short(threshold.value),
            )
        )
    # Legend: a swatch of each series' pattern (stacked charts), then a sample of each threshold's line.
    entries = [("series", index, series.label) for index, series in enumerate(chart.series)] if chart.stacked else []
    entries += [("threshold", index, threshold.label) for index, threshold in enumerate(chart.thresholds)]
    for (kind, index, label), (x, row) in zip(entries, legend, strict=True):
        y = LEGEND_TOP + LEGEND_ROW * row
        if kind == "series":
            sample = format_html(
                '<rect x="{}" y="{}" width="14" height="14" fill="url(#{})" class="chart-swatch"/>',
                x,
                y,
                ids[pattern_of(index)],
            )
        else:
            sample = format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" class="chart-threshold chart-threshold-{}"/>',
                *(x, x + 24, y + 7, y + 7, index),
            )
        parts.append(format_html('{}<text x="{}" y="{}" class="chart-legend">{}</text>', sample, x + 30, y + 11, label))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every piece above is built with format_html
