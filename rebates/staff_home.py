"""The rebates' items of the admin home's "needs action" panel (``portal.staff_home``)."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.models import Program
from portal.staff_home import StaffAction, staff_action_register

from .models import QuarterClose
from .services import first_quarter


def quarters_due_not_closed() -> int:
    """Quarters whose statement delay has passed and that are not closed: the daily close should have run."""
    program = Program.current()
    closed = set(QuarterClose.objects.values_list("quarter", flat=True))
    today, quarter, due = timezone.localdate(), first_quarter(program), 0
    while quarter.end + timedelta(days=program.statement_delay_days) <= today:
        due += str(quarter) not in closed
        quarter = quarter.next()
    return due


ACTIONS = [
    StaffAction(
        key="quarters_due",
        label=_("Quarters due for closing and not closed"),
        count=quarters_due_not_closed,
        url=lambda: reverse("admin:rebates_quarterclose_changelist"),
        urgent=True,
        order=40,
        permission="rebates.view_quarterclose",
    ),
]


def register() -> None:
    for action in ACTIONS:
        staff_action_register(action)
