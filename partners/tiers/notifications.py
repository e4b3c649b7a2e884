"""The emails of the tier engine: a tier change, a coming downgrade (once each: outbox keys).

Recipients are plain values and the partner and tiers references by id (``ModelRef``): a night queues thousands of
these emails, and the send task reads the rows when it renders them, as it would an instance's.
"""

from typing import TYPE_CHECKING

from portal.emailcontext import ModelRef
from portal.emails import UsersEmail, emails_queue
from portal.fiscal import fiscal_year_of

from .. import calculations as calc
from ..models import Membership, Partner, Tier, TierHistory
from ..selectors import partner_recipients

if TYPE_CHECKING:  # the engine imports this module
    from .engine import TierEvaluation

PARTNER = Partner._meta.label_lower
TIER = Tier._meta.label_lower


def _tier_ref(tier_id: int | None) -> ModelRef | None:
    return ModelRef(TIER, tier_id) if tier_id is not None else None


def email_tier_changes(changes: list[TierHistory]) -> None:
    """Tell the partner's admins about each change, once per change (keyed by partner, date and tiers)."""
    if not changes:
        return
    admins = partner_recipients({change.partner_id for change in changes}, [Membership.Role.ADMIN])
    emails_queue(
        UsersEmail(
            key=f"tier-changed:{change.partner_id}:{change.effective_on.isoformat()}:{change.to_tier_id}",
            users=admins[change.partner_id],
            template="partners/email/tier_changed",
            context={
                "partner": ModelRef(PARTNER, change.partner_id),
                "from_tier": _tier_ref(change.from_tier_id),
                "to_tier": _tier_ref(change.to_tier_id),
                "effective_on": change.effective_on,
                "reason": change.reason,
                "note": change.note,
            },
        )
        for change in changes
        if admins.get(change.partner_id)
    )


def email_at_risk(news: list[tuple["TierEvaluation", calc.TierDecision]], tiers_by_code: dict[str, Tier]) -> None:
    """Warn the partner's admins once per program year, tier and computed tier that a downgrade is coming."""
    if not news:
        return
    admins = partner_recipients({evaluation.partner.pk for evaluation, _d in news}, [Membership.Role.ADMIN])
    emails_queue(
        _at_risk_email(evaluation, decision, admins[evaluation.partner.pk], tiers_by_code)
        for evaluation, decision in news
        if admins.get(evaluation.partner.pk)
    )


def _at_risk_email(evaluation: "TierEvaluation", decision: calc.TierDecision, users, tiers_by_code) -> UsersEmail:
    keep = calc.base_tier(evaluation.tier)
    return UsersEmail(
        key=f"tier-at-risk:{evaluation.partner.pk}:FY{fiscal_year_of(evaluation.as_of)}:{keep}:{evaluation.computed_tier}",
        users=users,
        template="partners/email/at_risk",
        context={
            "partner": ModelRef(PARTNER, evaluation.partner.pk),
            "tier": _tier_ref(tiers_by_code[keep].pk),
            "computed_tier": _tier_ref(tiers_by_code[evaluation.computed_tier].pk),
            "review_on": evaluation.review_on,
            "gaps": evaluation.computation.gaps_for(keep),
            "reason": decision.at_risk_reason,
        },
    )
