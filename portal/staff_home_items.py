"""The kernel's own items of the admin home's "needs action" panel: background work that needs staff."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .health import OUTBOX_STALE_AFTER
from .models import ImportRun, JobItemFailure, OutboxEmail, TaskOutbox
from .staff_home import StaffAction, staff_action_register

ACTIONS = [
    StaffAction(
        key="job_item_failures",
        label=_("Items a nightly job could not process"),
        count=lambda: JobItemFailure.objects.filter(resolved_at=None).count(),
        url=lambda: reverse("admin:portal_jobitemfailure_changelist") + "?resolved_at__isempty=1",
        urgent=True,
        order=50,
        permission="portal.view_jobitemfailure",
    ),
    StaffAction(
        key="tasks_waiting",
        label=_("Background tasks waiting for the broker for over 10 minutes"),
        count=lambda: TaskOutbox.objects.filter(
            dispatched_at=None, created_at__lt=timezone.now() - OUTBOX_STALE_AFTER
        ).count(),
        url=lambda: reverse("admin:portal_taskoutbox_changelist") + "?dispatched_at__isempty=1",
        urgent=True,
        order=51,
        permission="portal.view_taskoutbox",
    ),
    StaffAction(
        key="emails_failing",
        label=_("Emails not sent after several attempts"),
        count=lambda: OutboxEmail.objects.exclude(status=OutboxEmail.Status.SENT).filter(attempts__gte=3).count(),
        url=lambda: reverse("admin:portal_outboxemail_changelist"),
        urgent=True,
        order=52,
        permission="portal.view_outboxemail",
    ),
    StaffAction(
        key="imports_running",
        label=_("Imports waiting for or running on a worker"),
        count=lambda: ImportRun.objects.filter(
            status__in=[ImportRun.Status.PENDING, ImportRun.Status.RUNNING],
            started_at__gt=timezone.now() - timedelta(days=7),
        ).count(),
        url=lambda: reverse("admin:portal_importrun_changelist"),
        order=53,
        permission="portal.view_importrun",
    ),
]


def register() -> None:
    for action in ACTIONS:
        staff_action_register(action)
