"""The deals cards of the partner dashboard: routed orders to answer, protections ending soon (admin, sales)."""

from datetime import date, timedelta

from django.db.models import Count, Min, Q

from partners.dashboard import DashboardCard
from partners.models import Partner
from partners.scoping import ROLE_ADMIN, ROLE_SALES
from portal.models import Program

from .models import Registration, RoutingOffer
from .registrations.selectors import EXPIRING_SOON_DAYS, registrations_expiring_soon


def partner_action_items(*, partner: Partner, today: date) -> dict:
    """What a sales user should act on now: routed offers awaiting an answer (soonest deadline first), approved
    registrations whose protection ends within ``EXPIRING_SOON_DAYS`` days, and those whose extension window is
    open (the last days of protection, no extension asked yet). Three queries whatever the data."""
    offers = RoutingOffer.objects.open().filter(partner=partner).aggregate(count=Count("pk"), due=Min("respond_by"))
    window_days = Program.current().registration_extension_window_days
    in_window = Q(
        status=Registration.Status.APPROVED,
        extension="",
        protection_ends_on__gte=today,
        protection_ends_on__lte=today + timedelta(days=window_days),
    )
    expiring_soon = Q(pk__in=registrations_expiring_soon(Registration.objects.all(), today=today).values("pk"))
    registrations = Registration.objects.filter(partner=partner).aggregate(
        count=Count("pk", filter=expiring_soon),
        first=Min("protection_ends_on", filter=expiring_soon),
        extension_open=Count("pk", filter=in_window),
    )
    return {
        "offers": offers,
        "expiring": {"count": registrations["count"], "first": registrations["first"]},
        "expiring_days": EXPIRING_SOON_DAYS,
        "extension_open": registrations["extension_open"],
        "extension_window_days": window_days,
    }


ACTIONS_CARD = DashboardCard(
    key="actions",
    template="deals/_dashboard_actions.html",
    roles=(ROLE_ADMIN, ROLE_SALES),  # deals and routed orders are theirs
    load=partner_action_items,
    order=10,
)
