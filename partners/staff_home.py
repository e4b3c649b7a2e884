"""The partners' items of the admin home's "needs action" panel (``portal.staff_home``)."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from portal.staff_home import StaffAction, staff_action_register

from .models import CertificationRecord

ACTIONS = [
    StaffAction(
        key="certifications_pending",
        label=_("Certifications to verify"),
        count=lambda: CertificationRecord.objects.filter(status=CertificationRecord.Status.PENDING).count(),
        url=lambda: reverse("admin:partners_certificationrecord_changelist"),  # opens on the pending ones
        order=30,
        permission="partners.view_certificationrecord",
    ),
]


def register() -> None:
    for action in ACTIONS:
        staff_action_register(action)
