"""The staff queue in the admin: oldest first with age and overdue, conflicts side by side, bulk approve, bulk
reject with a reason (intermediate page), arbitration and extension decisions — all through the services."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from deals.models import Registration
from tests.factories import PartnerFactory, UserFactory
from tests.factories.deals_pages import CustomerFactory
from tests.factories.registrations import RegistrationFactory

pytestmark = pytest.mark.django_db
S = Registration.Status
CHANGELIST = reverse("admin:deals_registration_changelist")


@pytest.fixture
def staff(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def change(registration):
    return reverse("admin:deals_registration_change", args=[registration.pk])


def decide(registration, operation):
    return reverse("admin:deals_registration_decide", args=[registration.pk, operation])


def act(client, action, registrations, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [r.pk for r in registrations], **extra}
    return client.post(CHANGELIST, data)


def test_the_queue_is_oldest_first_with_age_and_overdue(client, staff):
    now = timezone.now()
    recent = RegistrationFactory(submitted_at=now - timedelta(hours=5))
    old = RegistrationFactory(submitted_at=now - timedelta(hours=49))
    response = client.get(CHANGELIST)
    assert list(response.context["cl"].result_list) == [old, recent]
    content = response.content.decode()
    assert "2 d 1 h" in content and "5 h" in content
    overdue = client.get(f"{CHANGELIST}?queue=overdue")
    assert list(overdue.context["cl"].result_list) == [old]


def test_the_change_page_shows_the_competing_registration_side_by_side(client, staff):
    customer = CustomerFactory()
    first = RegistrationFactory(customer=customer, partner=PartnerFactory(name="First Partner"))
    later = RegistrationFactory(customer=customer, conflict_with=first, partner=PartnerFactory(name="Later Partner"))
    response = client.get(change(later))
    content = response.content.decode()
    assert response.status_code == 200
    assert "Side by side" in content and first.number in content and "First Partner" in content
    assert decide(later, "arbitrate") in content


def test_possible_duplicate_customers_are_shown(client, staff):
    registration = RegistrationFactory(customer=CustomerFactory(name="Dupont Industrie", country="FR"))
    look_alike = RegistrationFactory(customer=CustomerFactory(name="Dupont Industries", country="FR"))
    content = client.get(change(registration)).content.decode()
    assert "Possible duplicate customer" in content and look_alike.number in content


def test_bulk_approve_approves_and_reports_those_needing_arbitration(client, staff):
    customer = CustomerFactory()
    free = RegistrationFactory()
    first = RegistrationFactory(customer=customer)
    later = RegistrationFactory(customer=customer, conflict_with=first)
    act(client, "approve_selected", [free, later])
    free.refresh_from_db(), later.refresh_from_db()
    assert (free.status, later.status) == (S.APPROVED, S.SUBMITTED)
    assert free.events.last().actor == staff


def test_bulk_reject_asks_for_a_reason_then_rejects(client, staff):
    registrations = [RegistrationFactory(), RegistrationFactory()]
    page = act(client, "reject_selected", registrations)
    assert page.status_code == 200 and b"Reason" in page.content
    assert not Registration.objects.filter(status=S.REJECTED).exists()
    act(client, "reject_selected", registrations, apply="1", reason="")
    assert not Registration.objects.filter(status=S.REJECTED).exists()
    act(client, "reject_selected", registrations, apply="1", reason="Not a new opportunity")
    assert set(Registration.objects.values_list("status", "decision_note")) == {(S.REJECTED, "Not a new opportunity")}


def test_arbitration_from_the_change_page(client, staff):
    customer = CustomerFactory()
    first = RegistrationFactory(customer=customer)
    later = RegistrationFactory(customer=customer, conflict_with=first)
    confirm = client.get(decide(later, "arbitrate"))
    assert confirm.status_code == 200 and first.number in confirm.content.decode()
    response = client.post(decide(later, "arbitrate"), {"winner_note": "customer's choice"})
    assert response.status_code == 302
    first.refresh_from_db(), later.refresh_from_db()
    assert (first.status, later.status) == (S.REJECTED, S.APPROVED)


def test_the_arbitrate_action_needs_exactly_one(client, staff):
    customer = CustomerFactory()
    first = RegistrationFactory(customer=customer)
    later = RegistrationFactory(customer=customer, conflict_with=first)
    act(client, "arbitrate_selected", [first, later])
    assert Registration.objects.filter(status=S.SUBMITTED).count() == 2
    response = act(client, "arbitrate_selected", [first])
    assert response.status_code == 302 and response.url == decide(first, "arbitrate")


def test_a_refused_decision_is_shown_not_applied(client, staff):
    registration = RegistrationFactory(status=S.APPROVED)
    response = client.post(decide(registration, "reject"), {"reason": "late"})
    assert response.status_code == 200 and b"Only a submitted registration" in response.content


def test_extension_decisions_by_action(client, staff):
    end = timezone.localdate() + timedelta(days=5)
    fields = {"status": S.APPROVED, "approved_on": end - timedelta(days=90), "protection_ends_on": end}
    asked = {"extension": "requested", "extension_reason": "PO", "extension_requested_on": end - timedelta(days=6)}
    granted, refused = RegistrationFactory(**fields, **asked), RegistrationFactory(**fields, **asked)
    act(client, "grant_extensions", [granted])
    act(client, "refuse_extensions", [refused])
    granted.refresh_from_db(), refused.refresh_from_db()
    assert (granted.extension, granted.protection_ends_on) == ("granted", end + timedelta(days=60))
    assert (refused.extension, refused.protection_ends_on) == ("refused", end)


def test_partner_users_cannot_reach_the_queue(client):
    client.force_login(UserFactory())
    assert client.get(CHANGELIST).status_code == 302
