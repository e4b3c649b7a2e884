"""The demo registrations: every status, a conflict awaiting arbitration, and a second run changes nothing."""

import pytest

from deals.models import OrderLine, Registration
from demo.partners import seed_demo_partners
from demo.registrations import seed_demo_registrations

pytestmark = pytest.mark.django_db
S = Registration.Status


def test_the_demo_has_every_status_and_a_conflict_and_is_idempotent():
    seed_demo_partners()
    seed_demo_registrations()
    statuses = set(Registration.objects.values_list("status", flat=True))
    assert statuses == {S.SUBMITTED, S.APPROVED, S.REJECTED, S.WITHDRAWN, S.WON, S.LOST, S.EXPIRED}
    conflict = Registration.objects.get(conflict_with__isnull=False)
    assert conflict.status == S.SUBMITTED and conflict.partner.code == "DEMO-DE1"
    assert conflict.conflict_with.partner.code == "DEMO-FR1"
    assert Registration.objects.filter(extension="requested").count() == 1
    assert Registration.objects.filter(extension="granted").count() == 1
    won = Registration.objects.get(status=S.WON)
    assert OrderLine.objects.filter(registration=won).exists()
    counts = (Registration.objects.count(), OrderLine.objects.count())
    seed_demo_registrations()
    assert (Registration.objects.count(), OrderLine.objects.count()) == counts
