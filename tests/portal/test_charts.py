"""The server-side SVG charts (portal.charts): accessible, readable without colour, escaped, no float money."""

import re
from decimal import Decimal

import pytest

from portal.charts import PATTERNS, BarChart, Category, Series, Threshold, money_text, nice_ceiling, short_amount


def chart(**kwargs):
    values = {
        "title": "Revenue <b>",
        "description": "desc & more",
        "x_label": "Month",
        "y_label": "USD",
        "series": [Series("a", "Alpha"), Series("b", "Beta")],
        "categories": [Category("Jan", (Decimal("100"), Decimal("50"))), Category("Feb", (Decimal("0"), Decimal("0")))],
        "format_value": lambda v: money_text(v, 2),
        "format_short": short_amount,
    } | kwargs
    return BarChart(**values)


@pytest.mark.parametrize(
    ("value", "top"),
    [("0", "1"), ("7", "10"), ("10", "10"), ("11", "20"), ("2100", "2500"), ("4999999", "5000000"), ("0.3", "0.5")],
)
def test_the_value_axis_ends_on_a_round_number_at_or_above_the_highest_value(value, top):
    assert nice_ceiling(Decimal(value)) == Decimal(top)


def test_the_svg_is_an_image_with_a_title_a_description_and_escaped_text():
    svg = str(chart(thresholds=[Threshold("Gold <5M>", Decimal("120"))]).svg())
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert "<title" in svg and "Revenue &lt;b&gt;" in svg and "desc &amp; more" in svg
    assert "Gold &lt;5M&gt;" in svg and "<b>" not in svg


def test_each_series_has_its_own_pattern_and_a_legend_entry():
    svg = str(chart().svg())
    assert 'fill="url(#chart-solid)"' in svg and 'fill="url(#chart-hatch)"' in svg
    assert 'class="chart-legend">Alpha<' in svg and 'class="chart-legend">Beta<' in svg
    assert len(PATTERNS) == len(set(PATTERNS))


def test_every_bar_total_is_written_as_text_and_the_table_holds_the_same_figures():
    made = chart()
    svg = str(made.svg())
    assert 'class="chart-value" text-anchor="middle">150<' in svg
    assert made.table_rows[0] == {
        "label": "Jan",
        "values": ["100.00\u00a0USD", "50.00\u00a0USD"],
        "total": "150.00\u00a0USD",
    }


def test_a_zero_or_negative_bar_draws_nothing_but_still_says_its_value():
    made = chart(series=[Series("a", "Alpha")], categories=[Category("Mar", (Decimal("-25"),))])
    svg = str(made.svg())
    assert 'class="chart-bar' not in svg and ">-25<" in svg


def test_a_long_legend_wraps_instead_of_leaving_the_chart():
    series = [Series(str(n), f"A rather long component name {n}") for n in range(6)]
    made = chart(series=series, categories=[Category("Q1", tuple(Decimal(1) for _ in series))])
    svg = str(made.svg())
    swatches = [(int(x), int(y)) for x, y in re.findall(r'<rect x="(\d+)" y="(\d+)" width="14"', svg)]
    assert len(swatches) == 6 and len({y for _x, y in swatches}) == 3  # three rows of two
    assert all(x + 34 + 7 * len(series[0].label) <= made.width for x, _y in swatches)


def test_short_amounts():
    assert short_amount(Decimal("1234567")) == "1.2\u00a0M"
    assert short_amount(Decimal("750000")) == "750\u00a0k"
    assert short_amount(Decimal("85")) == "85"


def test_the_category_axis_name_sits_below_the_plot_inside_the_image():
    svg = str(chart().svg())
    view_height = int(re.search(r'viewBox="0 0 \d+ (\d+)"', svg).group(1))
    x_label_y = int(
        re.search(r'<text x="\d+" y="(\d+)" class="chart-axis-label" text-anchor="middle">Month<', svg).group(1)
    )
    baseline = int(re.search(r'<line x1="\d+" x2="\d+" y1="(\d+)" y2="\d+" class="chart-axis"', svg).group(1))
    assert baseline < x_label_y < view_height
