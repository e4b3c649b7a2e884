"""Reads for the partner's deal registration pages and export. Callers pass a queryset already scoped to one
partner (``PartnerViewMixin.scope``): scoping stays in one place."""

from datetime import date, timedelta

from django.db.models import Prefetch, QuerySet, Sum

from ..models import Registration, RegistrationEvent
from ..selectors import DistinctProductLines

EXPIRING_SOON_DAYS = 30


def registration_list_for_partner(*, registrations: QuerySet[Registration]) -> QuerySet[Registration]:
    """One row per registration of ``registrations`` (already scoped) with its customer, estimated total and
    product lines — one query for a page."""
    return (
        registrations.select_related("customer")
        .annotate(
            estimated_total=Sum("lines__estimated_amount"), product_lines=DistinctProductLines("lines__product_line")
        )
        .order_by("-submitted_at", "-pk")
    )


def registrations_expiring_soon(registrations: QuerySet[Registration], *, today: date) -> QuerySet[Registration]:
    """Approved registrations whose protection ends within ``EXPIRING_SOON_DAYS`` days."""
    return registrations.filter(
        status=Registration.Status.APPROVED,
        protection_ends_on__gte=today,
        protection_ends_on__lte=today + timedelta(days=EXPIRING_SOON_DAYS),
    )


def registration_detail_for_partner(*, registrations: QuerySet[Registration], number: str) -> Registration | None:
    """The registration ``number`` among ``registrations`` (already scoped), or ``None``, with its lines and its
    events (and their actors) prefetched."""
    return (
        registrations.select_related("customer", "submitted_by", "partner__tier")
        .prefetch_related(
            "lines",
            Prefetch("events", queryset=RegistrationEvent.objects.select_related("actor").order_by("created_at", "pk")),
        )
        .filter(number=number)
        .first()
    )
