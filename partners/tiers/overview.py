"""Reads that explain tiers: the "My tier" overview (partner page and admin) and the tier export (DESIGN §7)."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Q
from django.utils.translation import gettext as _

from portal.csvexport import csv_document
from portal.money import round_money

from .. import calculations as calc
from ..models import CertificationRecord, Partner, Tier, TierHistory, TitaniumBlackAward
from ..selectors import tiers_by_code
from .engine import TierEvaluation, tier_evaluations

EXPORT_HEADER = [
    "partner_code",
    "tier",
    "computed_tier",
    "at_risk",
    "qualifying_revenue",
    "services_revenue",
    "certified_people",
    "competencies",
]


# --------------------------------------------------------------------------------------------------------------
# Export (DESIGN §7)


def _money(amount: Decimal) -> str:
    return f"{round_money(amount):.2f}"


def tier_export_rows(*, as_of: date, partner_ids=None) -> list[list[str]]:
    """Return the rows of the tier export on ``as_of``, header first, one row per active partner by code.

    ``tier`` is the effective tier on ``as_of`` (``titanium_black`` while an award stands); the figures and
    ``computed_tier`` are those of an evaluation on ``as_of``, 1.25X applied; ``at_risk`` is ``true`` when the
    computed tier is below the effective tier (``false`` otherwise).
    """
    rows = [list(EXPORT_HEADER)]
    for evaluation in tier_evaluations(as_of=as_of, partner_ids=partner_ids):
        rows.append(
            [
                evaluation.partner.code,
                evaluation.tier,
                evaluation.computed_tier,
                "true" if evaluation.at_risk else "false",
                _money(evaluation.figures.qualifying_revenue),
                _money(evaluation.figures.services_revenue),
                str(evaluation.figures.certified_people),
                str(evaluation.figures.competencies),
            ]
        )
    return rows


def tier_export_csv(*, as_of: date, partner_ids=None) -> str:
    """Return the tier export on ``as_of`` as CSV text (DESIGN §7), formula-safe cells."""
    return csv_document(
        tier_export_rows(as_of=as_of, partner_ids=partner_ids),
        number_columns=("qualifying_revenue", "services_revenue", "certified_people", "competencies"),
    )


# --------------------------------------------------------------------------------------------------------------
# The "My tier" explanation (partner page and admin)


@dataclass
class PathStatus:
    gap: calc.PathGap
    rows: list[dict]


@dataclass
class TierOverview:
    evaluation: TierEvaluation
    tier: Tier
    base_tier: Tier  # Titanium for Titanium Black: what the figures must keep
    since: TierHistory | None
    computed_tier: Tier
    next_tier: Tier | None
    next_paths: list[PathStatus]
    at_risk: bool
    at_risk_paths: list[PathStatus]
    review_on: date
    award: TitaniumBlackAward | None
    history: list[TierHistory]
    pending_certifications: int = 0  # entered in the portal, not verified yet: in no figure above

    @property
    def sections(self) -> list[dict]:
        """The path tables to show: the current tier's when at risk, then the next tier's."""
        sections = []
        if self.at_risk:
            sections.append({"kind": "at_risk", "tier": self.base_tier, "paths": self.at_risk_paths})
        if self.next_tier:
            sections.append({"kind": "next", "tier": self.next_tier, "paths": self.next_paths})
        return sections

    @property
    def award_last_day(self) -> date | None:
        """The last day of the active award (``ends_on`` is exclusive)."""
        return self.award.ends_on - timedelta(days=1) if self.award else None


def _percent(value, target) -> int:
    if not target:
        return 100
    return max(0, min(100, int(Decimal(value) * 100 / Decimal(target))))


def _path_status(gap: calc.PathGap, figures: calc.TierFigures) -> PathStatus:
    requirement = gap.requirement
    rows = [
        {
            "key": "qualifying_revenue",
            "label": _("Qualifying revenue"),
            "money": True,
            "have": figures.qualifying_revenue,
            "need": requirement.min_revenue,
            "missing": gap.revenue_missing,
        },
        {
            "key": "services_revenue",
            "label": _("Services revenue"),
            "money": True,
            "have": figures.services_revenue,
            "need": requirement.min_services_revenue,
            "missing": gap.services_missing,
        },
        {
            "key": "certified_people",
            "label": _("Certified people"),
            "money": False,
            "have": figures.certified_people,
            "need": requirement.min_certified_people,
            "missing": gap.people_missing,
        },
        {
            "key": "competencies",
            "label": _("Competencies"),
            "money": False,
            "have": figures.competencies,
            "need": requirement.min_competencies,
            "missing": gap.competencies_missing,
        },
    ]
    for row in rows:
        row["met"] = not row["missing"]
        row["percent"] = _percent(row["have"], row["need"])
    return PathStatus(gap=gap, rows=rows)


def tier_overview(*, partner: Partner, as_of: date) -> TierOverview:
    """Explain a partner's tier on ``as_of``: figures, next tier's paths, risk, award, history (bounded queries)."""
    (evaluation,) = tier_evaluations(as_of=as_of, partner_ids=[partner.pk], active_only=False)
    tiers = tiers_by_code()
    next_code = calc.next_tier(evaluation.tier, ranks=evaluation.computation.ranks)
    computation = evaluation.computation
    history = list(
        TierHistory.objects.filter(partner=partner)
        .select_related("from_tier", "to_tier", "changed_by")
        .order_by("-effective_on", "-id")
    )
    since = next((change for change in history if change.effective_on <= as_of), None)
    award = (
        TitaniumBlackAward.objects.filter(partner=partner, awarded_on__lte=as_of, ends_on__gt=as_of)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=as_of))
        .first()
    )
    return TierOverview(
        evaluation=evaluation,
        tier=tiers[evaluation.tier],
        base_tier=tiers[calc.base_tier(evaluation.tier)],
        since=since,
        computed_tier=tiers[evaluation.computed_tier],
        next_tier=tiers[next_code] if next_code else None,
        next_paths=[_path_status(gap, evaluation.figures) for gap in computation.gaps_for(next_code or "")],
        at_risk=evaluation.at_risk,
        at_risk_paths=[_path_status(gap, evaluation.figures) for gap in computation.gaps_for(evaluation.tier)],
        review_on=evaluation.review_on,
        award=award,
        history=history,
        pending_certifications=CertificationRecord.objects.filter(
            person__partner=partner, status=CertificationRecord.Status.PENDING
        ).count(),
    )


def tier_evaluation_and_next(*, partner: Partner, as_of: date) -> tuple[TierEvaluation, Tier | None]:
    """The partner's evaluation on ``as_of`` and the tier above its own (``None`` at the top), for the dashboard."""
    (evaluation,) = tier_evaluations(as_of=as_of, partner_ids=[partner.pk], active_only=False)
    next_code = calc.next_tier(evaluation.tier, ranks=evaluation.computation.ranks)
    return evaluation, tiers_by_code().get(next_code) if next_code else None
