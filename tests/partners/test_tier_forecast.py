"""The outlook on My tier and the dashboard: qualifying revenue month by month against the next tier's
thresholds (an accessible SVG chart), and the forecast at the next annual review at today's pace."""

import html
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from partners.models import Certification, Tier, TierHistory
from partners.tiers.engine import tier_evaluations
from partners.tiers.forecast import DROP, REACH, STAY, qualifying_revenue_by_month, tier_forecast, tier_revenue_chart
from portal.fiscal import add_months
from tests.factories import (
    CertificationRecordFactory,
    MembershipFactory,
    OrderFactory,
    OrderLineFactory,
    PartnerFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db

TODAY = date(2026, 8, 15)  # mid program year FY2027: the next annual review is 2027-02-01
REVIEW = date(2027, 2, 1)


def book(partner, amount, day, product_line="server"):
    order = OrderFactory(partner=partner, booked_on=day)
    OrderLineFactory(order=order, product_line=product_line, net_amount=Decimal(amount))


def certify(partner, people, code="TECH-STORAGE", expires_on=None):
    for _n in range(people):
        CertificationRecordFactory(
            person=PersonFactory(partner=partner),
            certification=Certification.objects.get(code=code),
            earned_on=TODAY - timedelta(days=30),
            expires_on=expires_on,
        )


def evaluation_of(partner, day=TODAY):
    (evaluation,) = tier_evaluations(as_of=day, partner_ids=[partner.pk], active_only=False)
    return evaluation


def set_tier(partner, code, on=date(2017, 2, 1)):
    TierHistory.objects.create(
        partner=partner, to_tier=Tier.objects.get(code=code), effective_on=on, reason="status_match", figures={}
    )


def gold_figures(partner, revenue_per_month="500000.00", services_per_month="40000.00"):
    """A steady partner: the same revenue every month for two years, 2 certified people, 1 competency."""
    for back in range(24):
        day = add_months(TODAY, -back) - timedelta(days=1)
        book(partner, revenue_per_month, day)
        book(partner, services_per_month, day, product_line="services")
    certify(partner, 2)


# --- the monthly figures ----------------------------------------------------------------------------------


def test_the_last_point_is_the_figure_the_evaluation_compares_and_each_point_its_own_window():
    partner = PartnerFactory()
    book(partner, "1000.00", TODAY - timedelta(days=3))  # in every window from this month's point
    book(partner, "200.00", add_months(TODAY, -11) - timedelta(days=1))  # leaves the window at today's point
    book(partner, "50.00", add_months(TODAY, -13))  # before every point but the first two
    points = qualifying_revenue_by_month(evaluation=evaluation_of(partner))
    assert [day for day, _a in points] == [add_months(TODAY, -back) for back in range(11, -1, -1)]
    assert (
        points[-1][1]
        == evaluation_of(partner).figures.qualifying_revenue
        == Decimal("1200.00") - Decimal("200.00") + Decimal("200.00")
    )  # the 200 line is 11 months and a day old: still inside (today - 12 months, today]
    assert points[0][1] == Decimal("250.00")  # 11 months ago: the 200 line and the 50 line
    assert points[-2][1] == Decimal("200.00")  # a month ago: the 1,000 line was not booked yet


# Month ends clamp the points' days: a point on 28 February 2025 (from the 31st) reads back to 29 February 2024.
@pytest.mark.parametrize("today", [TODAY, date(2027, 3, 31), date(2028, 2, 29), date(2025, 3, 31), date(2029, 1, 30)])
def test_each_point_sums_exactly_the_lines_of_its_window_on_every_bound(today):
    """Lines on each month bound, the day after and the day before, over the 23 months the chart reads, and on
    29 February: each point equals the plain sum of the lines in (its day - 12 months, its day], as an evaluation
    on that day sums them."""
    partner = PartnerFactory()
    booked = []
    for back in range(24):
        bound = add_months(today, -back)
        for offset, amount in ((-1, "1.01"), (0, "10.10"), (1, "100.00")):
            day = bound + timedelta(days=offset)
            if day <= today:
                book(partner, amount, day)
                booked.append((day, Decimal(amount)))
    for leap in (date(2024, 2, 29), date(2028, 2, 29)):
        if add_months(today, -23) < leap <= today:
            book(partner, "7.00", leap)
            booked.append((leap, Decimal("7.00")))
    points = qualifying_revenue_by_month(evaluation=evaluation_of(partner, today))
    for day, amount in points:
        start = add_months(day, -12)
        assert amount == sum((value for booked_on, value in booked if start < booked_on <= day), Decimal(0)), day


def test_the_monthly_query_count_does_not_grow_with_the_orders():
    partner = PartnerFactory()
    book(partner, "10.00", TODAY)
    evaluation = evaluation_of(partner)
    with CaptureQueriesContext(connection) as few:
        qualifying_revenue_by_month(evaluation=evaluation)
    for back in range(30):
        book(partner, "10.00", TODAY - timedelta(days=back * 20))
    with CaptureQueriesContext(connection) as many:
        qualifying_revenue_by_month(evaluation=evaluation)
    assert len(few) == len(many) == 2  # the program (its revenue window), then one GROUP BY


def test_other_partners_orders_are_not_in_the_figures():
    partner, other = PartnerFactory(), PartnerFactory()
    book(other, "999999.00", TODAY - timedelta(days=3))
    assert all(amount == 0 for _day, amount in qualifying_revenue_by_month(evaluation=evaluation_of(partner)))


# --- the chart ----------------------------------------------------------------------------------------------


def test_the_chart_is_accessible_svg_with_the_next_tiers_thresholds_labelled():
    partner = PartnerFactory(country="FR")
    book(partner, "1234567.00", TODAY - timedelta(days=3))
    evaluation = evaluation_of(partner)
    chart = tier_revenue_chart(evaluation=evaluation, next_tier=Tier.objects.get(code="gold"))
    svg = str(chart.svg())
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "Qualifying revenue (USD)" in svg and ">Month<" in svg  # both axes labelled
    assert "Gold, path “revenue”: 5,000,000\u00a0USD" in svg and "Gold, path “training”: 750,000\u00a0USD" in svg
    assert svg.count('class="chart-threshold chart-threshold-') == 4  # two lines, and their samples in the legend
    assert 'class="chart-threshold-label">5\u00a0M<' in svg  # each line's amount at its end, beside the plot
    assert "1.2\u00a0M" in svg  # the bar's value is written, not only drawn
    assert chart.table_rows[-1]["total"] == "1,234,567\u00a0USD"


def test_the_chart_speaks_french():
    partner = PartnerFactory(country="FR")
    book(partner, "1234567.00", TODAY - timedelta(days=3))
    with translation.override("fr"):
        chart = tier_revenue_chart(evaluation=evaluation_of(partner), next_tier=Tier.objects.get(code="gold"))
        svg = html.unescape(str(chart.svg()))
    assert "Chiffre d'affaires qualifiant (USD)" in svg
    assert "1,2\u00a0M" in svg
    assert chart.table_rows[-1]["total"] == "1\u202f234\u202f567\u00a0USD" or chart.table_rows[-1]["total"] in (
        "1 234 567\u00a0USD",
        "1\u00a0234\u00a0567\u00a0USD",
    )


# --- the forecast -------------------------------------------------------------------------------------------


def test_a_steady_gold_partner_stays_gold():
    partner = PartnerFactory(country="FR")
    set_tier(partner, "gold")
    gold_figures(partner)  # 6,000,000 a year, 480,000 services: Gold's revenue path, not Platinum's
    forecast = tier_forecast(evaluation=evaluation_of(partner))
    assert (forecast.outcome, forecast.tier, forecast.review_on) == (STAY, "gold", REVIEW)
    # The pace replaces the months that leave the window: about today's figure (within one month's orders).
    today_figure = evaluation_of(partner).figures.qualifying_revenue
    assert abs(forecast.projected.qualifying_revenue - today_figure) < Decimal("540000.00")


def test_a_partner_whose_pace_passes_platinum_reaches_it():
    partner = PartnerFactory(country="FR")
    set_tier(partner, "gold")
    # Nothing until six months ago, then 4,000,000 a month: 24,000,000 today is already Platinum's revenue on
    # its own, but the services revenue (1,600,000 needed) is met only by the pace: 250,000 a month.
    for back in range(6):
        day = add_months(TODAY, -back) - timedelta(days=1)
        book(partner, "4000000.00", day)
        book(partner, "250000.00", day, product_line="services")
    certify(partner, 4, code="TECH-SERVER")
    certify(partner, 1, code="TECH-STORAGE")
    evaluation = evaluation_of(partner)
    assert evaluation.computed_tier == "gold"  # not yet: 1,500,000 services revenue today
    forecast = tier_forecast(evaluation=evaluation)
    assert (forecast.outcome, forecast.tier) == (REACH, "platinum")


def test_a_partner_whose_revenue_stopped_drops_at_the_review():
    partner = PartnerFactory(country="FR")
    set_tier(partner, "gold")
    # Gold figures today, but all booked 10 to 11 months ago: they leave the window before the review, and the
    # pace (their yearly average) does not make up for them.
    for days in (310, 320, 330):
        book(partner, "2000000.00", TODAY - timedelta(days=days))
        book(partner, "150000.00", TODAY - timedelta(days=days), product_line="services")
    certify(partner, 2)
    evaluation = evaluation_of(partner)
    assert evaluation.computed_tier == "gold"
    forecast = tier_forecast(evaluation=evaluation)
    assert (forecast.outcome, forecast.tier, forecast.review_on) == (DROP, "authorized", REVIEW)


def test_certifications_that_expire_before_the_review_no_longer_count():
    partner = PartnerFactory(country="FR")
    set_tier(partner, "gold")
    gold_figures(partner)
    Certification.objects.filter(code="TECH-STORAGE").update(validity_months=24)
    partner.people.all().delete()
    certify(partner, 2, expires_on=REVIEW - timedelta(days=10))
    assert evaluation_of(partner).computed_tier == "gold"
    forecast = tier_forecast(evaluation=evaluation_of(partner))
    assert (forecast.outcome, forecast.tier) == (DROP, "authorized")


@pytest.mark.parametrize("language", ["en", "fr"])
def test_my_tier_shows_the_forecast_its_assumptions_and_the_chart(client, language):
    member = MembershipFactory(role="sales", partner__country="FR", user__language=language)
    set_tier(member.partner, "gold")
    client.force_login(member.user)
    page = client.get(reverse("my_tier")).content.decode()
    if language == "en":
        assert "At this pace you" in page and "This projection assumes" in page
    else:
        assert "À ce rythme" in page and "Cette projection suppose" in page
    assert 'role="img"' in page and "<details" in page


def test_a_review_more_than_a_window_away_projects_one_window_of_the_pace_not_more():
    """A partner that joined in June 2026 is first reviewed on 2028-02-01 (DESIGN §3): the window of that review
    lies wholly in the future, so its projection is one year at today's pace, whatever the distance."""
    partner = PartnerFactory(country="FR", joined_on=date(2026, 6, 1))
    set_tier(partner, "gold", on=date(2026, 6, 1))
    gold_figures(partner)
    evaluation = evaluation_of(partner)
    assert evaluation.review_on == date(2028, 2, 1)
    forecast = tier_forecast(evaluation=evaluation)
    assert forecast.projected.qualifying_revenue == evaluation.figures.qualifying_revenue
    assert (forecast.outcome, forecast.tier, forecast.review_on) == (STAY, "gold", date(2028, 2, 1))
