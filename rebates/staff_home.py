"""The rebates' items of the admin home's "needs action" panel (``portal.staff_home``)."""

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.staff_home import StaffAction, staff_action_register

from .services import quarters_due

ACTIONS = [
    StaffAction(
        key="quarters_due",
        label=_("Quarters due for closing and not closed"),
        count=lambda: len(quarters_due(as_of=timezone.localdate())),  # the daily close should have run
        url=lambda: reverse("admin:rebates_quarterclose_changelist"),
        urgent=True,
        order=40,
        permission="rebates.view_quarterclose",
    ),
]


def register() -> None:
    for action in ACTIONS:
        staff_action_register(action)
