"""The rebates chart of the statements page (issue 12): the last eight closed quarters, stacked by component,
from the partner's own issued statements, in one GROUP BY."""

import html
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.fiscal import Quarter
from rebates import services
from rebates.charts import closed_quarters, rebate_quarters_chart, rebates_by_quarter
from rebates.models import RebateLine
from tests.factories import MembershipFactory
from tests.factories import rebates as f

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
LAST = Quarter.containing(TODAY).previous()  # the latest quarter the close may have issued


def closed_with_orders(partner, quarters_and_lines):
    for quarter, lines in quarters_and_lines:
        f.order(partner=partner, customer=f.customer(), booked_on=quarter.start, lines=lines)
    services.quarter_close_due(as_of=TODAY)


def test_the_last_eight_quarters_before_the_open_one():
    assert closed_quarters(date(2026, 12, 2)) == [
        Quarter(2025, 4), Quarter(2026, 1), Quarter(2026, 2), Quarter(2026, 3), Quarter(2026, 4),
        Quarter(2027, 1), Quarter(2027, 2), Quarter(2027, 3),
    ]  # fmt: skip


def test_amounts_by_quarter_and_component_are_the_statements_and_only_the_partners_own():
    gold, other = f.partner(tier="gold"), f.partner(tier="gold")
    closed_with_orders(gold, [(LAST, [("server", "10000.00")]), (LAST.previous(), [("storage", "1000.00")])])
    closed_with_orders(other, [(LAST, [("server", "99999.00")])])
    amounts = rebates_by_quarter(
        lines=RebateLine.objects.filter(statement__partner=gold), quarters=closed_quarters(TODAY)
    )
    statement = gold.statements.get(quarter=str(LAST))
    assert sum(a for (quarter, _c), a in amounts.items() if quarter == str(LAST)) == statement.total
    assert amounts[(str(LAST), "base")] == Decimal("200.00")  # Gold, server: 2 points
    assert (str(LAST.previous()), "base") in amounts


def test_one_query_whatever_the_number_of_lines():
    partner = f.partner(tier="gold")
    closed_with_orders(partner, [(LAST, [("server", "100.00")])])
    lines = RebateLine.objects.filter(statement__partner=partner)
    with CaptureQueriesContext(connection) as few:
        rebates_by_quarter(lines=lines, quarters=closed_quarters(TODAY))
    second = f.partner(tier="gold")
    for _n in range(5):
        f.order(
            partner=second, customer=f.customer(), booked_on=LAST.start, lines=[("server", "1.00"), ("storage", "2.00")]
        )
    lines = RebateLine.objects.all()
    with CaptureQueriesContext(connection) as many:
        rebates_by_quarter(lines=lines, quarters=closed_quarters(TODAY))
    assert len(few) == len(many) == 1


def test_the_chart_has_a_legend_a_pattern_per_component_and_the_figures_as_text():
    partner = f.partner(tier="gold")
    closed_with_orders(partner, [(LAST, [("server", "10000.00"), ("services", "1000.00")])])
    chart = rebate_quarters_chart(lines=RebateLine.objects.filter(statement__partner=partner), today=TODAY)
    svg = html.unescape(str(chart.svg()))
    assert [s.label for s in chart.series][:1] == ["Base"] and "Services" in [s.label for s in chart.series]
    assert 'class="chart-legend">Base<' in svg and 'class="chart-legend">Services<' in svg
    fills = {label: svg.split(f"{label}: ")[0].rsplit('fill="', 1)[1].split('"')[0] for label in ("Base", "Services")}
    assert len(set(fills.values())) == 2  # two components, two patterns
    total = partner.statements.get(quarter=str(LAST)).total
    assert chart.table_rows[-1]["total"] == f"{total:,.2f}\u00a0USD"  # the statement's total, its currency
    assert len(chart.categories) == 8


def test_the_statements_page_shows_the_chart_in_french(client):
    member = MembershipFactory(role="finance", user__language="fr")
    f.tier_change(member.partner, "gold", date(2017, 2, 1))
    closed_with_orders(member.partner, [(LAST, [("server", "10000.00")])])
    client.force_login(member.user)
    page = html.unescape(client.get(reverse("rebates:statement_list")).content.decode())
    assert 'id="chart-rebates"' in page and 'role="img"' in page
    assert "Remises par trimestre et composante" in page and "Trimestre" in page
    assert "200,00\u00a0USD" in page  # the base component, in the French number format
