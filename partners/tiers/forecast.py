"""Where a partner's tier is heading: its qualifying revenue month by month, and the tier its pace leads to at
the next annual review (My tier and the dashboard).

The rules are those of ``partners.calculations`` (the window, 1.25X, the paths, the decision of an evaluation)
and the figures those of ``partners.tiers.engine``: nothing here restates a threshold or a date rule.
"""

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Sum
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from deals.models import OrderLine
from portal.charts import BarChart, Category, Series, Threshold, money_text, short_amount
from portal.fiscal import add_months
from portal.models import Program
from portal.money import CURRENCY, ZERO, round_money

from .. import calculations as calc
from ..models import Tier
from ..selectors import tiers_by_code
from .engine import TierEvaluation, attested_partner_ids, tier_raw_figures, tier_window_start
from .reasons import path_label

TREND_MONTHS = 12


def _month_ends(today: date, months: int) -> list[date]:
    """``today`` and the same day of each of the ``months - 1`` months before, oldest first."""
    return [add_months(today, -back) for back in range(months - 1, -1, -1)]


def qualifying_revenue_by_month(
    *, evaluation: TierEvaluation, months: int = TREND_MONTHS
) -> list[tuple[date, Decimal]]:
    """The qualifying revenue (1.25X as on ``evaluation.as_of``) on the same day of each of the last ``months``
    months, oldest first: the figure an evaluation on each of those days would have compared.

    One query whatever the number of lines: the lines from the first point's window on are summed per day in one
    ``GROUP BY`` (from the partner window index alone, at most a row a day), and each point adds up the days of
    its own window, ``(point - 12 months, point]`` as an evaluation on that day reads it (``tier_window_start``),
    by prefix sums. (A ``CASE`` of 23 month slices per line in SQL cost twice as much for a 14,000-line partner,
    and a point's window made of slices of today's months lost a 29 February after a clamped 28 February.)
    """
    today = evaluation.as_of
    program = Program.current()  # its revenue window, DESIGN §3
    on = [add_months(today, -back) for back in range(months - 1, -1, -1)]  # the points' days, oldest first
    days = (
        OrderLine.objects.filter(
            partner_id=evaluation.partner.pk, booked_on__gt=tier_window_start(on[0], program), booked_on__lte=today
        )
        .values_list("booked_on")
        .annotate(revenue=Sum("net_amount"))
        .order_by("booked_on")
    )
    booked, totals = [], [ZERO]  # each day, and the revenue up to and including it
    for day, revenue in days:
        booked.append(day)
        totals.append(totals[-1] + Decimal(revenue or 0))
    points = []
    for day in on:
        revenue = totals[bisect_right(booked, day)] - totals[bisect_right(booked, tier_window_start(day, program))]
        raw = calc.TierFigures(qualifying_revenue=round_money(revenue))
        figures = calc.figures_for_evaluation(raw, attested=evaluation.attested, multiplier=evaluation.multiplier)
        points.append((day, figures.qualifying_revenue))
    return points


def tier_revenue_chart(
    *, evaluation: TierEvaluation, next_tier: Tier | None, points=None, compact: bool = False
) -> BarChart:
    """The chart of :func:`qualifying_revenue_by_month` against the revenue threshold of each path of the next
    tier (the next tier's name and path on each line)."""
    points = points if points is not None else qualifying_revenue_by_month(evaluation=evaluation)
    thresholds = []
    if next_tier is not None:
        for gap in evaluation.computation.gaps_for(next_tier.code):
            requirement = gap.requirement
            thresholds.append(
                Threshold(
                    label=_("%(tier)s, path “%(path)s”: %(amount)s")
                    % {
                        "tier": next_tier.name,
                        "path": path_label(requirement.path),
                        "amount": money_text(requirement.min_revenue),
                    },
                    value=requirement.min_revenue,
                )
            )
    title = _("Qualifying revenue over the last 12 months, month by month")
    if next_tier is not None:
        description = _(
            "Each bar is the qualifying revenue of the 12 months ending on that day (in %(currency)s); the dashed "
            "lines are the revenue each path of %(tier)s requires."
        ) % {"currency": CURRENCY, "tier": next_tier.name}
    else:
        description = _("Each bar is the qualifying revenue of the 12 months ending on that day (in %(currency)s).") % {
            "currency": CURRENCY
        }
    return BarChart(
        title=title,
        description=description,
        x_label=_("Month"),
        y_label=_("Qualifying revenue (%(currency)s)") % {"currency": CURRENCY},
        series=[Series(key="qualifying_revenue", label=_("Qualifying revenue"))],
        categories=[Category(label=date_format(day, "M y"), values=(amount,)) for day, amount in points],
        thresholds=thresholds,
        format_value=money_text,
        format_short=short_amount,
        height=220 if compact else 300,
        chart_id="chart-tier-dashboard" if compact else "chart-tier",
    )


# --------------------------------------------------------------------------------------------------------------
# The forecast


STAY, REACH, DROP = "stay", "reach", "drop"


@dataclass(frozen=True)
class TierForecast:
    outcome: str  # stay | reach | drop
    tier: str  # the tier code at the review
    review_on: date
    projected: calc.TierFigures  # the figures projected on the review date (1.25X as it will stand)
    daily_rate: Decimal  # the run rate: qualifying revenue per day over the trailing window
    attested_on_review: bool


def tier_forecast(*, evaluation: TierEvaluation) -> TierForecast:
    """Project the evaluation at the next annual review (``evaluation.review_on``) at today's pace.

    Assumptions, said on the page: the lines already booked that are still in the window on the review date
    stay as they are; from tomorrow to the review date, qualifying and services revenue keep coming at their
    average daily rate of the trailing 12 months; certifications and the Dell-only attestation are those on
    record today (a certification or attestation that ends before the review no longer counts). The decision is
    the program's own (``calculations.decide_tier``) for an annual review on that date.
    """
    today, review_on = evaluation.as_of, evaluation.review_on
    program = Program.current()
    window_days = (today - tier_window_start(today, program)).days
    # The days of the review's window still to come (all of it when the review is more than a window away).
    remaining = (review_on - max(today, tier_window_start(review_on, program))).days
    # What an evaluation on the review date would see of the lines booked so far and of today's records (three
    # grouped queries: the engine's own figures and attestation rule on that date).
    partner_id = evaluation.partner.pk
    at_review = tier_raw_figures(as_of=review_on, program=program, partner_ids=[partner_id]).get(
        partner_id, calc.TierFigures()
    )
    attested_on_review = partner_id in attested_partner_ids(review_on, [partner_id])
    projected_raw = calc.TierFigures(
        qualifying_revenue=at_review.qualifying_revenue
        + round_money(evaluation.raw.qualifying_revenue * remaining / window_days),
        services_revenue=at_review.services_revenue
        + round_money(evaluation.raw.services_revenue * remaining / window_days),
        certified_people=at_review.certified_people,
        competencies=at_review.competencies,
    )
    projected = calc.figures_for_evaluation(
        projected_raw, attested=attested_on_review, multiplier=program.exclusivity_multiplier
    )
    computation = calc.compute_tier(projected, evaluation.requirements, ranks=evaluation.computation.ranks)
    decision = calc.decide_tier(
        current=evaluation.tier, computed=computation, on=review_on, annual_review=True, review_on=review_on
    )
    ranks = evaluation.computation.ranks
    before, after = ranks[calc.base_tier(evaluation.tier)], ranks[calc.base_tier(decision.tier)]
    outcome = REACH if after > before else DROP if after < before else STAY
    return TierForecast(
        outcome=outcome,
        tier=decision.tier,
        review_on=review_on,
        projected=projected,
        daily_rate=round_money(evaluation.raw.qualifying_revenue / window_days),
        attested_on_review=attested_on_review,
    )


@dataclass(frozen=True)
class TierOutlook:
    """What My tier and the dashboard show of the trend: the chart, the forecast and its tier."""

    chart: BarChart
    forecast: TierForecast
    forecast_tier: Tier


def tier_outlook(*, evaluation: TierEvaluation, next_tier: Tier | None, compact: bool = False) -> TierOutlook:
    """The revenue chart and the forecast of ``evaluation`` (a bounded number of queries)."""
    forecast = tier_forecast(evaluation=evaluation)
    return TierOutlook(
        chart=tier_revenue_chart(evaluation=evaluation, next_tier=next_tier, compact=compact),
        forecast=forecast,
        forecast_tier=tiers_by_code()[forecast.tier],
    )
