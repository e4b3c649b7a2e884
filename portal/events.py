"""What happened to a partner, for whoever listens (the API's webhooks): published by the apps' services inside
their transaction, so a rolled-back change announces nothing. The kernel knows no listener: apps register theirs
in ``ready()``."""

from collections.abc import Callable
from dataclasses import dataclass, field

REGISTRATION_DECIDED = "registration.decided"
ROUTED_OFFER_RECEIVED = "routed_offer.received"
STATEMENT_ISSUED = "statement.issued"
EVENT_KINDS = (REGISTRATION_DECIDED, ROUTED_OFFER_RECEIVED, STATEMENT_ISSUED)


@dataclass(frozen=True)
class PartnerEvent:
    kind: str
    partner_id: int
    key: str  # names this occurrence: the same key published twice is one event
    data: dict = field(default_factory=dict)


_LISTENERS: list[Callable[[list[PartnerEvent]], None]] = []


def event_listener_register(listener: Callable[[list[PartnerEvent]], None]) -> None:
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def events_publish(events: list[PartnerEvent]) -> None:
    """Hand ``events`` to every listener, in the caller's transaction (one call for a batch: set-based)."""
    if events:
        for listener in _LISTENERS:
            listener(list(events))
