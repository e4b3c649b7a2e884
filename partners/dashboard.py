"""The partner dashboard's cards, filled by the apps that own them.

``partners`` sits under ``deals`` and ``rebates``: it cannot read their figures itself. Each app registers its
cards from its ``AppConfig.ready()``; the dashboard shows, in ``order``, the cards the user's role may see, each
with the value its ``load`` returns (a falsy value hides the card).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
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
