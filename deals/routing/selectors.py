"""Reads for the partner's "Routed orders" page; callers pass offers already scoped to one partner."""

from ..models import RoutingOffer


def routed_offers_for_partner(*, offers, pending: bool):
    """The partner's offers (``offers`` already scoped): open ones, or the answered history."""
    statuses = (
        [RoutingOffer.Status.OFFERED]
        if pending
        else [
            RoutingOffer.Status.ACCEPTED,
            RoutingOffer.Status.DECLINED,
            RoutingOffer.Status.EXPIRED,
            RoutingOffer.Status.WITHDRAWN,
        ]
    )
    ordering = ["respond_by", "id"] if pending else ["-offered_on", "-id"]
    return (
        offers.filter(status__in=statuses)
        .select_related("case__order__customer")
        .prefetch_related("case__order__lines")
        .order_by(*ordering)
    )
