"""Staff actions on a partner's tier (DESIGN §3): Titanium Black award and revocation, the manual override.

Each writes one tier-history row and refreshes the ``Partner.tier`` display cache from the history.
"""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from portal.fiscal import add_months
from portal.models import Program

from ..models import Partner, Tier, TierHistory, TitaniumBlackAward
from ..selectors import partner_tier_on
from .engine import partner_tier_cache_refresh, titanium_black_expire
from .notifications import email_tier_changes


@transaction.atomic
def titanium_black_award(
    *, partner: Partner, sponsor: str, reason: str, awarded_on: date, awarded_by=None
) -> TitaniumBlackAward:
    """Award Titanium Black to a partner whose effective tier on ``awarded_on`` is Titanium, for one year."""
    Partner.objects.select_for_update().filter(pk=partner.pk).first()
    if not sponsor.strip() or not reason.strip():
        raise ValidationError(_("A Titanium Black award needs a sponsor and a reason."))
    titanium_black_expire(as_of=awarded_on)
    current = partner_tier_on(partner, awarded_on)
    if current.code == Tier.TITANIUM_BLACK:
        raise ValidationError(_("%(code)s already holds Titanium Black on that date.") % {"code": partner.code})
    if current.code != Tier.TITANIUM:
        raise ValidationError(
            _("Titanium Black is awarded to Titanium partners only; %(code)s is %(tier)s on %(day)s.")
            % {"code": partner.code, "tier": current.name, "day": date_format(awarded_on, "DATE_FORMAT")}
        )
    program = Program.current()
    award = TitaniumBlackAward.objects.create(
        partner=partner,
        awarded_on=awarded_on,
        ends_on=add_months(awarded_on, program.titanium_black_months),
        sponsor=sponsor.strip(),
        reason=reason.strip(),
        awarded_by=awarded_by,
    )
    change = TierHistory.objects.create(
        partner=partner,
        from_tier=current,
        to_tier=Tier.objects.get(code=Tier.TITANIUM_BLACK),
        effective_on=awarded_on,
        reason=TierHistory.Reason.TITANIUM_BLACK_AWARD,
        note=f"{award.sponsor}: {award.reason}",
        figures={"award_id": award.pk, "ends_on": award.ends_on.isoformat()},
        changed_by=awarded_by,
    )
    partner_tier_cache_refresh([partner.pk])
    email_tier_changes([change])
    return award


@transaction.atomic
def titanium_black_revoke(*, award: TitaniumBlackAward, revoked_on: date, reason: str, revoked_by=None) -> TierHistory:
    """End an active Titanium Black award on ``revoked_on``: the partner is Titanium again from that day."""
    award = TitaniumBlackAward.objects.select_for_update().select_related("partner").get(pk=award.pk)
    if not reason.strip():
        raise ValidationError(_("Give the reason for the revocation."))
    if award.ended_on is not None:
        raise ValidationError(
            _("This award already ended on %(day)s.") % {"day": date_format(award.ended_on, "DATE_FORMAT")}
        )
    if not award.awarded_on <= revoked_on < award.ends_on:
        raise ValidationError(
            _("The revocation date must be within the award (%(start)s to %(end)s, exclusive).")
            % {"start": date_format(award.awarded_on, "DATE_FORMAT"), "end": date_format(award.ends_on, "DATE_FORMAT")}
        )
    award.ended_on, award.end_reason = revoked_on, TierHistory.Reason.TITANIUM_BLACK_REVOCATION
    award.save(update_fields=["ended_on", "end_reason"])
    change = TierHistory.objects.create(
        partner=award.partner,
        from_tier=Tier.objects.get(code=Tier.TITANIUM_BLACK),
        to_tier=Tier.objects.get(code=Tier.TITANIUM),
        effective_on=revoked_on,
        reason=TierHistory.Reason.TITANIUM_BLACK_REVOCATION,
        note=reason.strip(),
        figures={"award_id": award.pk},
        changed_by=revoked_by,
    )
    partner_tier_cache_refresh([award.partner_id])
    email_tier_changes([change])
    return change


@transaction.atomic
def tier_override(*, partner: Partner, tier: Tier | str, reason: str, effective_on: date, changed_by) -> TierHistory:
    """Set a partner's tier by hand (staff), with a reason; an active Titanium Black award ends with it.

    The override is a tier change like any other: later evaluations start from it (an upgrade still
    applies at once, a lower computed tier flags the partner at risk until the annual review).
    """
    Partner.objects.select_for_update().filter(pk=partner.pk).first()
    if isinstance(tier, str):
        tier = Tier.objects.filter(code=tier).first()
        if tier is None:
            raise ValidationError(_("Unknown tier."))
    if tier.is_overlay:
        raise ValidationError(_("Titanium Black is given with an award (sponsor and reason), not an override."))
    if not reason.strip():
        raise ValidationError(_("Give the reason for the override."))
    current = partner_tier_on(partner, effective_on)
    if current.pk == tier.pk:
        raise ValidationError(
            _("%(code)s is already %(tier)s on %(day)s.")
            % {"code": partner.code, "tier": tier.name, "day": date_format(effective_on, "DATE_FORMAT")}
        )
    TitaniumBlackAward.objects.filter(
        partner=partner, ended_on__isnull=True, awarded_on__lte=effective_on, ends_on__gt=effective_on
    ).update(ended_on=effective_on, end_reason=TierHistory.Reason.MANUAL_OVERRIDE)
    change = TierHistory.objects.create(
        partner=partner,
        from_tier=current,
        to_tier=tier,
        effective_on=effective_on,
        reason=TierHistory.Reason.MANUAL_OVERRIDE,
        note=reason.strip(),
        changed_by=changed_by,
    )
    partner_tier_cache_refresh([partner.pk])
    Partner.objects.filter(pk=partner.pk).update(at_risk=False, at_risk_reason="", at_risk_details={})
    email_tier_changes([change])
    return change
