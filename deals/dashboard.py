"""The deals cards of the partner dashboard: routed orders to answer, protections ending soon (admin, sales)."""

from datetime import date

from django.db.models import Count, Min

from partners.dashboard import DashboardCard
from partners.models import Partner
from partners.scoping import ROLE_ADMIN, ROLE_SALES
from portal.models import Program

from .models import Registration, RoutingOffer
from .registrations.selectors import EXPIRING_SOON_DAYS, registrations_expiring_soon


def partner_action_items(*, partner: Partner, today: date) -> dict:
    """What a sales user should act on now: routed offers awaiting an answer (soonest deadline first) and
    approved registrations whose protection ends within ``EXPIRING_SOON_DAYS`` days. Two queries (three when
    some protection ends soon: the extension window is program data)."""
    offers = RoutingOffer.objects.open().filter(partner=partner).aggregate(count=Count("pk"), due=Min("respond_by"))
    expiring = registrations_expiring_soon(Registration.objects.filter(partner=partner), today=today).aggregate(
        count=Count("pk"), first=Min("protection_ends_on")
    )
    items = {"offers": offers, "expiring": expiring, "expiring_days": EXPIRING_SOON_DAYS}
    if expiring["count"]:  # the card then says how long before the end an extension can be asked for
        items["extension_window_days"] = Program.current().registration_extension_window_days
    return items


ACTIONS_CARD = DashboardCard(
    key="actions",
    template="deals/_dashboard_actions.html",
    roles=(ROLE_ADMIN, ROLE_SALES),  # deals and routed orders are theirs
    load=partner_action_items,
    order=10,
)
