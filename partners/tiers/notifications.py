"""The emails of the tier engine: a tier change, a coming downgrade (once each: outbox keys)."""

from typing import TYPE_CHECKING

from portal.emails import email_users
from portal.fiscal import fiscal_year_of

from .. import calculations as calc
from ..models import Membership, Tier, TierHistory
from ..selectors import partner_users_with_roles

if TYPE_CHECKING:  # the engine imports this module
    from .engine import TierEvaluation


def email_tier_changes(changes: list[TierHistory]) -> None:
    """Tell the partner's admins about each change, once per change (keyed by partner, date and tiers)."""
    if not changes:
        return
    admins = partner_users_with_roles({change.partner_id for change in changes}, [Membership.Role.ADMIN])
    tiers = {tier.pk: tier for tier in Tier.objects.all()}
    for change in changes:
        users = admins.get(change.partner_id)
        if not users:
            continue
        email_users(
            key=f"tier-changed:{change.partner_id}:{change.effective_on.isoformat()}:{change.to_tier_id}",
            users=users,
            template="partners/email/tier_changed",
            context={
                "partner": change.partner,
                "from_tier": tiers.get(change.from_tier_id),
                "to_tier": tiers[change.to_tier_id],
                "effective_on": change.effective_on,
                "reason": change.reason,
                "note": change.note,
            },
        )


def email_at_risk(news: list[tuple["TierEvaluation", calc.TierDecision]], tiers_by_code: dict[str, Tier]) -> None:
    """Warn the partner's admins once per program year, tier and computed tier that a downgrade is coming."""
    if not news:
        return
    admins = partner_users_with_roles({evaluation.partner.pk for evaluation, _d in news}, [Membership.Role.ADMIN])
    for evaluation, decision in news:
        users = admins.get(evaluation.partner.pk)
        if not users:
            continue
        keep = calc.base_tier(evaluation.tier)
        email_users(
            key=(
                f"tier-at-risk:{evaluation.partner.pk}:FY{fiscal_year_of(evaluation.as_of)}:"
                f"{keep}:{evaluation.computed_tier}"
            ),
            users=users,
            template="partners/email/at_risk",
            context={
                "partner": evaluation.partner,
                "tier": tiers_by_code[keep],
                "computed_tier": tiers_by_code[evaluation.computed_tier],
                "review_on": evaluation.review_on,
                "gaps": evaluation.computation.gaps_for(keep),
                "reason": decision.at_risk_reason,
            },
        )
