"""Pure tier rules (DESIGN §3): no ORM here, figures in and decisions out.

Tiers are handled by code (``"gold"``); their order is the ``rank`` of the ``Tier`` table, which callers pass
in (``ranks``: code → rank of the base tiers, ``partners.selectors.tier_ranks``). ``titanium_black`` is an
overlay on Titanium, so every comparison of ranks is made on the *base* tier (:func:`base_tier`). Money is
``Decimal``; the only rounding goes through ``portal.money.round_money``.
"""

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from portal.fiscal import add_months, fiscal_year_of, fiscal_year_start
from portal.money import ZERO, round_money

AUTHORIZED = "authorized"
TITANIUM = "titanium"
TITANIUM_BLACK = "titanium_black"

DELL_LEGACY_TO_TIER = {"premier_plus": "titanium", "premier": "platinum", "preferred": "gold"}
EMC_LEGACY_TO_TIER = {"platinum": "titanium", "gold": "platinum", "silver": "gold"}
TierRanks = Mapping[str, int]  # code → rank of each base tier, from the Tier table

REASON_UPGRADE = "upgrade"
REASON_ANNUAL_REVIEW = "annual_review"


def status_match_tier(legacy_dell_tier: str, legacy_emc_tier: str, *, ranks: TierRanks) -> str:
    """Return the first tier a new partner gets from its legacy tiers: the higher of the two wins."""
    candidates = [
        DELL_LEGACY_TO_TIER.get(legacy_dell_tier or "", AUTHORIZED),
        EMC_LEGACY_TO_TIER.get(legacy_emc_tier or "", AUTHORIZED),
    ]
    return max(candidates, key=ranks.__getitem__)


def tier_on(changes: Sequence[tuple[date, int]], day: date, default: int) -> int:
    """The tier set by the latest change effective on or before ``day``; ``default`` (Authorized) before any.

    ``changes`` are one partner's ``(effective_on, tier)`` in history order (effective date, then id), so of two
    changes on the same day the later row wins. This is the one rule for "the tier of a partner on a date".
    """
    index = bisect_right(changes, day, key=lambda change: change[0])
    return changes[index - 1][1] if index else default


def base_tier(tier: str) -> str:
    """Return the tier that counts for requirements: Titanium Black is Titanium plus an award."""
    return TITANIUM if tier == TITANIUM_BLACK else tier


@dataclass(frozen=True)
class TierFigures:
    """What a partner's tier is computed from, on one date."""

    qualifying_revenue: Decimal = ZERO
    services_revenue: Decimal = ZERO
    certified_people: int = 0
    competencies: int = 0

    def with_multiplier(self, multiplier: Decimal) -> "TierFigures":
        """Return the figures with both revenue figures multiplied (1.25X), rounded to the cent."""
        return TierFigures(
            qualifying_revenue=round_money(self.qualifying_revenue * multiplier),
            services_revenue=round_money(self.services_revenue * multiplier),
            certified_people=self.certified_people,
            competencies=self.competencies,
        )

    def as_json(self) -> dict:
        return {
            "qualifying_revenue": str(self.qualifying_revenue),
            "services_revenue": str(self.services_revenue),
            "certified_people": self.certified_people,
            "competencies": self.competencies,
        }


def figures_for_evaluation(raw: TierFigures, *, attested: bool, multiplier: Decimal) -> TierFigures:
    """Return the figures an evaluation compares: 1.25X applied when a Dell-only attestation is active.

    The multiplied amounts are rounded to the cent, so the figures a partner sees are exactly those compared.
    """
    return raw.with_multiplier(multiplier) if attested else raw


@dataclass(frozen=True)
class RequirementPath:
    """One path to a tier (a ``TierRequirement`` row, without the ORM)."""

    tier: str
    path: str
    min_revenue: Decimal = ZERO
    min_services_revenue: Decimal = ZERO
    min_certified_people: int = 0
    min_competencies: int = 0


@dataclass(frozen=True)
class PathGap:
    """How far figures are from one path: every ``*_missing`` is zero when the path is met."""

    requirement: RequirementPath
    revenue_missing: Decimal
    services_missing: Decimal
    people_missing: int
    competencies_missing: int

    @property
    def met(self) -> bool:
        return not (self.revenue_missing or self.services_missing or self.people_missing or self.competencies_missing)

    def shortfalls(self) -> list[str]:
        """Name what is missing, in plain English (the stored at-risk reason; pages render their own)."""
        parts = []
        if self.revenue_missing:
            parts.append(f"{self.revenue_missing:,.2f} USD qualifying revenue")
        if self.services_missing:
            parts.append(f"{self.services_missing:,.2f} USD services revenue")
        if self.people_missing:
            parts.append(f"{self.people_missing} certified {'person' if self.people_missing == 1 else 'people'}")
        if self.competencies_missing:
            parts.append(f"{self.competencies_missing} competenc{'y' if self.competencies_missing == 1 else 'ies'}")
        return parts


def path_gap(figures: TierFigures, requirement: RequirementPath) -> PathGap:
    """Return what ``figures`` miss for ``requirement`` (a threshold is met when the figure is at or above it)."""
    return PathGap(
        requirement=requirement,
        revenue_missing=max(requirement.min_revenue - figures.qualifying_revenue, ZERO),
        services_missing=max(requirement.min_services_revenue - figures.services_revenue, ZERO),
        people_missing=max(requirement.min_certified_people - figures.certified_people, 0),
        competencies_missing=max(requirement.min_competencies - figures.competencies, 0),
    )


def meets(figures: TierFigures, requirement: RequirementPath) -> bool:
    """Is every threshold of ``requirement`` met (at or above it)?"""
    return (
        figures.qualifying_revenue >= requirement.min_revenue
        and figures.services_revenue >= requirement.min_services_revenue
        and figures.certified_people >= requirement.min_certified_people
        and figures.competencies >= requirement.min_competencies
    )


@dataclass(frozen=True)
class TierComputation:
    """The computed tier, and on demand the gap of the figures to every path of any tier."""

    tier: str
    figures: TierFigures
    ranks: TierRanks
    requirements: tuple[RequirementPath, ...] = ()

    def is_below(self, tier: str) -> bool:
        """Is the computed tier below ``tier``'s base tier (the partner would be at risk)?"""
        return self.ranks[self.tier] < self.ranks[base_tier(tier)]

    def gaps_for(self, tier: str) -> list[PathGap]:
        tier = base_tier(tier)
        paths = sorted((r for r in self.requirements if r.tier == tier), key=lambda r: r.path)
        return [path_gap(self.figures, requirement) for requirement in paths]


def compute_tier(figures: TierFigures, requirements, *, ranks: TierRanks) -> TierComputation:
    """Return the highest-ranked tier with at least one path fully met (else Authorized).

    A tier without any path cannot be reached by figures (only by status match or staff).
    """
    tier, rank = AUTHORIZED, ranks[AUTHORIZED]
    for requirement in requirements:
        if ranks[requirement.tier] > rank and meets(figures, requirement):
            tier, rank = requirement.tier, ranks[requirement.tier]
    return TierComputation(tier=tier, figures=figures, ranks=ranks, requirements=tuple(requirements))


def next_tier(tier: str, *, ranks: TierRanks) -> str | None:
    """Return the next-ranked tier above ``tier``'s base tier, or ``None`` at the top (Titanium Black is awarded)."""
    rank = ranks[base_tier(tier)]
    above = [(value, code) for code, value in ranks.items() if value > rank]
    return min(above)[1] if above else None


def first_review_year_start(joined_on: date) -> date:
    """The start of the first program year whose annual review can downgrade a partner that joined on
    ``joined_on``: the first program-year start at least 12 months after it joined (DESIGN §3). A partner that
    joined at the program start (2017-02-01) is first reviewed on 2018-02-01."""
    earliest = add_months(joined_on, 12)
    start = fiscal_year_start(fiscal_year_of(earliest))
    return start if start >= earliest else fiscal_year_start(fiscal_year_of(earliest) + 1)


def is_annual_review(*, on: date, joined_on: date, previous_evaluation_this_year: bool) -> bool:
    """Is an evaluation on ``on`` the annual review of a partner that joined on ``joined_on``?

    It is the first evaluation on or after the start of a program year, from the first program year that starts
    at least 12 months after the partner joined (until then it keeps its status-matched tier: upgrades only).
    """
    if fiscal_year_start(fiscal_year_of(on)) < first_review_year_start(joined_on):
        return False
    return not previous_evaluation_this_year


def annual_review_date(on: date, joined_on: date) -> date:
    """The next annual review after ``on`` that can downgrade a partner that joined on ``joined_on``."""
    return max(fiscal_year_start(fiscal_year_of(on) + 1), first_review_year_start(joined_on))


@dataclass(frozen=True)
class TierDecision:
    tier: str  # the effective tier after the evaluation (``titanium_black`` kept while its award stands)
    reason: str | None  # ``upgrade`` | ``annual_review`` when the tier changes, else None
    at_risk: bool
    at_risk_reason: str
    loses_titanium_black: bool = False
    # The reason as a kind and its parameters (``at_risk_details``), worded per language by ``tiers.reasons``.
    at_risk_details: dict = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.reason is not None


def at_risk_explanation(*, current: str, computed: TierComputation, review_on: date) -> str:
    """Explain, in plain English, why a partner is at risk and what each path of its tier misses.

    The admin's and the export's text; partner pages word ``at_risk_details`` in their reader's language.
    """
    keep = base_tier(current)
    lines = [
        f"The figures meet no path of {keep.title()}: the computed tier is {computed.tier.title()}, "
        f"and the annual review on {review_on.isoformat()} will apply it."
    ]
    for gap in computed.gaps_for(keep):
        lines.append(f"{gap.requirement.path} path: missing {', '.join(gap.shortfalls())}.")
    return "\n".join(lines)


AT_RISK_NO_PATH = "no_path"


def at_risk_details(*, current: str, computed: TierComputation, review_on: date) -> dict:
    """Why a partner is at risk, as data a page words in its reader's language (``partners.tiers.reasons``).

    ``kind`` names the reason; the tier codes, the review date (ISO) and, per path of the kept tier, what is
    missing (amounts as strings, no float) are its parameters.
    """
    keep = base_tier(current)
    return {
        "kind": AT_RISK_NO_PATH,
        "tier": keep,
        "computed": computed.tier,
        "review_on": review_on.isoformat(),
        "paths": [
            {
                "path": gap.requirement.path,
                "revenue_missing": str(gap.revenue_missing),
                "services_missing": str(gap.services_missing),
                "people_missing": gap.people_missing,
                "competencies_missing": gap.competencies_missing,
            }
            for gap in computed.gaps_for(keep)
        ],
    }


def decide_tier(
    *, current: str, computed: TierComputation, on: date, annual_review: bool, review_on: date
) -> TierDecision:
    """Decide the evaluation on ``on`` of a partner whose effective tier on ``on`` is ``current`` (DESIGN §3).

    Upgrades take effect at once. A lower computed tier downgrades only at the annual review (and ends
    Titanium Black when it goes below Titanium); mid-year it flags the partner at risk, with the reason and
    ``review_on``, the annual review that will apply it.
    """
    current_rank = computed.ranks[base_tier(current)]
    computed_rank = computed.ranks[computed.tier]
    if computed_rank > current_rank:
        return TierDecision(tier=computed.tier, reason=REASON_UPGRADE, at_risk=False, at_risk_reason="")
    if computed_rank == current_rank:
        return TierDecision(tier=current, reason=None, at_risk=False, at_risk_reason="")
    if annual_review:
        return TierDecision(
            tier=computed.tier,
            reason=REASON_ANNUAL_REVIEW,
            at_risk=False,
            at_risk_reason="",
            loses_titanium_black=current == TITANIUM_BLACK,
        )
    reason = at_risk_explanation(current=current, computed=computed, review_on=review_on)
    details = at_risk_details(current=current, computed=computed, review_on=review_on)
    return TierDecision(tier=current, reason=None, at_risk=True, at_risk_reason=reason, at_risk_details=details)
