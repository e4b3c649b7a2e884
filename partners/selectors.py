"""Reads for partner pages, always scoped to one partner."""

from django.db.models import QuerySet

from .models import Invitation, Membership, Partner, TierHistory


def team_members(*, partner: Partner) -> QuerySet[Membership]:
    return Membership.objects.filter(partner=partner).select_related("user").order_by("user__email")


def team_open_invitations(*, partner: Partner) -> QuerySet[Invitation]:
    return Invitation.objects.filter(partner=partner, accepted_at=None, revoked_at=None).order_by("-created_at")


def partner_action_items(*, partner: Partner, today) -> dict:
    """What a sales user should act on now: routed offers awaiting an answer (soonest deadline first) and
    approved registrations whose protection ends within 30 days. Two queries."""
    from datetime import timedelta

    from django.db.models import Count, Min

    from deals.models import Registration, RoutingOffer

    offers = RoutingOffer.objects.open().filter(partner=partner).aggregate(count=Count("pk"), due=Min("respond_by"))
    expiring = Registration.objects.filter(
        partner=partner,
        status=Registration.Status.APPROVED,
        protection_ends_on__gte=today,
        protection_ends_on__lte=today + timedelta(days=30),
    ).aggregate(count=Count("pk"), first=Min("protection_ends_on"))
    return {"offers": offers, "expiring": expiring}


def partner_tier_history(*, partner: Partner) -> QuerySet[TierHistory]:
    return (
        TierHistory.objects.filter(partner=partner)
        .select_related("from_tier", "to_tier")
        .order_by("-effective_on", "-id")
    )
