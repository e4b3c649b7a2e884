"""Reads for partner pages, always scoped to one partner."""

from django.db.models import QuerySet

from .models import Invitation, Membership, Partner, TierHistory


def team_members(*, partner: Partner) -> QuerySet[Membership]:
    return Membership.objects.filter(partner=partner).select_related("user").order_by("user__email")


def team_open_invitations(*, partner: Partner) -> QuerySet[Invitation]:
    return Invitation.objects.filter(partner=partner, accepted_at=None, revoked_at=None).order_by("-created_at")


def partner_tier_history(*, partner: Partner) -> QuerySet[TierHistory]:
    return (
        TierHistory.objects.filter(partner=partner)
        .select_related("from_tier", "to_tier")
        .order_by("-effective_on", "-id")
    )
