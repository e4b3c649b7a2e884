"""The partner dashboard's cards, filled by the apps that own them.

``partners`` sits under ``deals`` and ``rebates``: it cannot read their figures itself. Each app registers its
cards from its ``AppConfig.ready()``; the dashboard shows, in ``order``, the cards the user's role may see, each
with the value its ``load`` returns (a falsy value hides the card).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from .models import Partner


@dataclass(frozen=True)
class DashboardCard:
    key: str  # the template variable that holds the card's value
    template: str  # the partial that renders it, inside the dashboard's cards grid
    roles: tuple[str, ...]  # the partner roles that see it
    load: Callable[..., Any]  # load(partner=..., today=...) -> the card's value (a bounded number of queries)
    order: int = 100


_cards: dict[str, DashboardCard] = {}


def dashboard_card_register(card: DashboardCard) -> None:
    """Add ``card`` to the dashboard (registering the same key again replaces it)."""
    _cards[card.key] = card


def dashboard_cards(*, role: str) -> list[DashboardCard]:
    """The registered cards ``role`` may see, in display order."""
    return sorted((card for card in _cards.values() if role in card.roles), key=lambda card: (card.order, card.key))


def dashboard_card_values(*, partner: Partner, role: str, today: date) -> dict[str, Any]:
    """Each visible card's value by key, in display order."""
    return {card.key: card.load(partner=partner, today=today) for card in dashboard_cards(role=role)}


# --------------------------------------------------------------------------------------------------------------
# The partners app's own cards


CERTIFICATIONS_EXPIRING_DAYS = 60


def partner_tier_outlook(*, partner: Partner, today: date):
    """The compact revenue chart and the forecast of My tier (every role: the tier is everyone's business)."""
    from .tiers.forecast import tier_outlook
    from .tiers.overview import tier_evaluation_and_next

    evaluation, next_tier = tier_evaluation_and_next(partner=partner, as_of=today)
    return tier_outlook(evaluation=evaluation, next_tier=next_tier, compact=True)


def partner_certification_items(*, partner: Partner, today: date) -> dict:
    """What a partner admin acts on among certifications (one query): records that count today and expire within
    ``CERTIFICATIONS_EXPIRING_DAYS`` days, and records entered in the portal still pending verification."""
    from django.db.models import Count, Min, Q

    from .models import CertificationRecord

    expiring = Q(
        status=CertificationRecord.Status.VERIFIED,
        earned_on__lte=today,
        expires_on__gt=today,
        expires_on__lte=today + timedelta(days=CERTIFICATIONS_EXPIRING_DAYS),
    )
    return {
        **CertificationRecord.objects.filter(person__partner=partner).aggregate(
            expiring=Count("pk", filter=expiring),
            first_expiry=Min("expires_on", filter=expiring),
            pending=Count("pk", filter=Q(status=CertificationRecord.Status.PENDING)),
        ),
        "days": CERTIFICATIONS_EXPIRING_DAYS,
    }


def register_partner_cards() -> None:
    """Register the partners app's cards (called from ``PartnersConfig.ready``)."""
    from .scoping import ALL_ROLES, ROLE_ADMIN

    dashboard_card_register(
        DashboardCard(
            key="outlook",
            template="partners/_dashboard_outlook.html",
            roles=ALL_ROLES,
            load=partner_tier_outlook,
            order=90,
        )
    )
    dashboard_card_register(
        DashboardCard(
            key="certifications",
            template="partners/_dashboard_certifications.html",
            roles=(ROLE_ADMIN,),  # the team's certifications are the partner admin's to keep up
            load=partner_certification_items,
            order=30,
        )
    )
