"""The deals' items of the admin home's "needs action" panel (``portal.staff_home``)."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.staff_home import StaffAction, staff_action_register

from .models import Registration, RoutingOffer
from .registrations.selectors import registration_queue


def _queue(name: str, label, *, urgent=False, order=10) -> StaffAction:
    return StaffAction(
        key=f"registrations_{name}",
        label=label,
        count=lambda: Registration.objects.filter(registration_queue(name)).count(),
        url=lambda: reverse("admin:deals_registration_changelist") + f"?queue={name}",
        urgent=urgent,
        order=order,
        permission="deals.view_registration",
    )


def _offers_due() -> int:
    """Routed offers still unanswered whose answer is due by tomorrow: the nightly job passes them on next."""
    due = timezone.localdate() + timedelta(days=1)
    return RoutingOffer.objects.filter(status=RoutingOffer.Status.OFFERED, respond_by__lte=due).count()


ACTIONS = [
    _queue("pending", _("Registrations awaiting a decision"), order=10),
    _queue("overdue", _("Registrations past the decision target"), urgent=True, order=11),
    _queue("conflict", _("Conflicts to arbitrate"), order=12),
    _queue("extension", _("Extension requests to answer"), order=13),
    StaffAction(
        key="routed_offers_due",
        label=_("Routed offers due for an answer by tomorrow"),
        count=_offers_due,
        url=lambda: reverse("admin:deals_routingcase_changelist") + "?deadline=open",
        order=20,
        permission="deals.view_routingcase",
    ),
]


def register() -> None:
    for action in ACTIONS:
        staff_action_register(action)
