"""A rejected registration is corrected and resubmitted (issue #12): the same number and history, and the same
submission as a new one — customer matching, first-in-time at the resubmission (it keeps no priority), the
partner's own duplicate, auto-approval. Nothing but a rejected registration (or a draft) is edited again."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from deals.matching import CustomerIdentity
from deals.models import Registration
from deals.registrations.services import registration_reject, registration_submit
from partners.models import Tier
from tests.factories import MembershipFactory, PartnerFactory, UserFactory
from tests.factories.deals_pages import CustomerFactory
from tests.factories.registrations import TODAY, RegistrationFactory, identity_of, submit

pytestmark = pytest.mark.django_db
S = Registration.Status


def resubmit(registration, *, identity=None, lines=None, today=TODAY, user=None, **kwargs):
    """Submit ``registration`` again through ``registration_submit`` as its partner's sales user."""
    user = user or MembershipFactory(partner=registration.partner, role="sales").user
    return registration_submit(
        partner=registration.partner,
        user=user,
        identity=identity or identity_of(registration.customer),
        opportunity_name=kwargs.pop("opportunity_name", "Datacenter refresh, corrected"),
        expected_close_on=kwargs.pop("expected_close_on", today + timedelta(days=60)),
        lines={key: Decimal(value) for key, value in (lines or {"server": "10000.00"}).items()},
        today=today,
        registration=registration,
        **kwargs,
    )


def rejected(partner=None, **kwargs):
    registration = submit(partner or PartnerFactory(), **kwargs).registration
    return registration_reject(registration=registration, actor=UserFactory(is_staff=True), reason="Wrong amounts")


def test_a_resubmission_keeps_the_number_and_history_and_is_submitted_again():
    registration = rejected(lines={"server": "999"})
    number, first_submitted_at = registration.number, registration.submitted_at
    result = resubmit(registration, lines={"storage": "2500.00"})
    registration.refresh_from_db()
    assert result.created and result.registration.pk == registration.pk
    assert registration.number == number and registration.status == S.SUBMITTED
    assert registration.opportunity_name == "Datacenter refresh, corrected"
    assert {line.product_line: line.estimated_amount for line in registration.lines.all()} == {
        "storage": Decimal("2500.00")
    }
    assert registration.submitted_at > first_submitted_at  # its time priority is the resubmission
    assert registration.decision_note == "" and registration.decided_at is None
    history = [(e.from_status, e.to_status, e.kind) for e in registration.events.order_by("created_at", "pk")]
    assert history == [
        ("draft", "submitted", ""),
        ("submitted", "rejected", ""),
        ("rejected", "submitted", "resubmitted"),
    ]
    last = registration.events.order_by("created_at", "pk").last()
    assert last.params == {"first_submitted_on": timezone.localdate(first_submitted_at).isoformat()}
    assert Registration.objects.count() == 1


def test_the_resubmitted_event_is_worded_in_the_readers_language():
    registration = rejected()
    resubmit(registration)
    event = registration.events.order_by("created_at", "pk").last()
    with translation.override("en"):
        assert "Corrected and resubmitted" in event.text
    with translation.override("fr"):
        assert "Corrigée et soumise à nouveau" in event.text and "Corrected" not in event.text


def test_a_resubmission_loses_its_time_priority_to_a_registration_made_in_the_meantime():
    """Rejected first, then another partner registers the same customer: the resubmission comes second."""
    customer = CustomerFactory()
    registration = rejected(customer=customer)
    meanwhile = submit(PartnerFactory(), customer=customer).registration
    assert meanwhile.conflict_with is None  # a rejected registration holds nothing
    result = resubmit(registration)
    assert result.conflicted and result.registration.conflict_with == meanwhile
    assert result.outcome()[0] == "already_registered"
    assert result.registration.events.order_by("created_at", "pk").last().kind == "resubmitted_conflict"
    meanwhile.refresh_from_db()
    assert meanwhile.conflict_with is None


def test_a_resubmission_is_auto_approved_under_the_tier_limit_with_protection_from_the_resubmission():
    partner = PartnerFactory(tier=Tier.objects.get(code="gold"))
    registration = rejected(partner, lines={"server": "60000.00"})  # over Gold's limit: staff decided (rejected)
    later = TODAY + timedelta(days=5)
    resubmit(registration, lines={"server": "40000.00"}, today=later)
    registration.refresh_from_db()
    assert registration.status == S.APPROVED and registration.approved_on == later
    assert registration.decision_kind == "auto_approved"


def test_a_resubmission_matches_the_corrected_customer():
    registration = rejected()
    right = CustomerFactory(name="Right Company SA", country="FR", vat="FR99888777666")
    resubmit(registration, identity=CustomerIdentity(name="RIGHT COMPANY", country="FR", vat="fr99888777666"))
    registration.refresh_from_db()
    assert registration.customer == right


def test_a_resubmission_is_refused_while_the_partner_already_holds_the_customer():
    customer = CustomerFactory()
    registration = rejected(customer=customer)
    submit(registration.partner, customer=customer)
    with pytest.raises(ValidationError) as refused:
        resubmit(registration)
    assert "already registered this customer" in str(refused.value)
    registration.refresh_from_db()
    assert registration.status == S.REJECTED


def test_a_resubmission_still_follows_the_submission_rules():
    registration = rejected()
    with pytest.raises(ValidationError) as refused:
        resubmit(registration, expected_close_on=TODAY)
    assert "expected_close_on" in refused.value.message_dict
    registration.refresh_from_db()
    assert registration.status == S.REJECTED


@pytest.mark.parametrize("status", [S.SUBMITTED, S.APPROVED, S.WITHDRAWN, S.WON, S.LOST, S.EXPIRED])
def test_only_a_rejected_registration_is_resubmitted(status):
    registration = RegistrationFactory(status=status)
    with pytest.raises(ValidationError):
        resubmit(registration)
    registration.refresh_from_db()
    assert registration.status == status and registration.events.count() == 0


def test_another_partner_cannot_resubmit_a_registration():
    registration = rejected()
    with pytest.raises(ValidationError):
        registration_submit(
            partner=PartnerFactory(),
            user=UserFactory(),
            identity=identity_of(registration.customer),
            opportunity_name="x",
            expected_close_on=TODAY + timedelta(days=30),
            lines={"server": Decimal("100")},
            today=TODAY,
            registration=registration,
        )


# --- the pages ------------------------------------------------------------------------------------------------


@pytest.fixture
def member(client):
    membership = MembershipFactory(role="sales", partner=PartnerFactory(name="Alpha Reseller SAS", code="ALPHA"))
    client.force_login(membership.user)
    return membership


def page(number, action="detail"):
    return reverse(f"deals:registration_{action}", kwargs={"number": number})


def form_data(**overrides):
    data = {
        "token": "3f0b5b8e-6d6f-4a53-9a62-1f0f2d2c9b11",
        "customer_name": "Dupont Industries SA",
        "customer_country": "FR",
        "customer_vat": "FR11222333444",
        "customer_domain": "dupont.example",
        "opportunity_name": "Datacenter refresh, corrected",
        "expected_close_on": (timezone.localdate() + timedelta(days=60)).isoformat(),
        "amount_server": "8000.00",
    }
    data.update(overrides)
    return data


def test_a_rejected_registration_offers_correct_and_resubmit_with_the_form_prefilled(client, member):
    customer = CustomerFactory(name="Dupont Industries SA", country="FR", vat="FR11222333444")
    registration = RegistrationFactory(
        partner=member.partner, customer=customer, status=S.REJECTED, decision_note="Amounts too low"
    )
    detail = client.get(page(registration.number)).content.decode()
    assert "Correct and resubmit" in detail and page(registration.number, "edit") in detail
    form = client.get(page(registration.number, "edit"))
    assert form.status_code == 200
    initial = form.context["form"].initial
    assert initial["customer_name"] == "Dupont Industries SA" and initial["amount_server"] == Decimal("1000.00")
    content = form.content.decode()
    assert "Amounts too low" in content and "Resubmit the registration" in content
    assert 'name="save_draft"' not in content  # a rejected registration is corrected, not put back to draft


def test_resubmitting_through_the_page_keeps_the_number_and_shows_the_outcome(client, member):
    customer = CustomerFactory(name="Dupont Industries SA", country="FR", vat="FR11222333444")
    registration = RegistrationFactory(partner=member.partner, customer=customer, status=S.REJECTED)
    response = client.post(page(registration.number, "edit"), form_data())
    assert response.status_code == 302 and response["Location"] == page(registration.number)
    registration.refresh_from_db()
    assert registration.status == S.SUBMITTED and registration.opportunity_name == "Datacenter refresh, corrected"
    assert [line.estimated_amount for line in registration.lines.all()] == [Decimal("8000.00")]
    shown = client.get(page(registration.number)).content.decode()
    assert "Corrected and resubmitted" in shown and "Correct and resubmit" not in shown
    # A double submit of the same form finds the resubmission, it does not fail or resubmit twice.
    again = client.post(page(registration.number, "edit"), form_data())
    assert again.status_code == 302 and registration.events.count() == 1


@pytest.mark.parametrize("status", [S.SUBMITTED, S.APPROVED, S.WITHDRAWN, S.LOST, S.EXPIRED])
def test_a_registration_that_is_not_rejected_shows_no_form_but_says_why(client, member, status):
    registration = RegistrationFactory(partner=member.partner, status=status)
    assert "Correct and resubmit" not in client.get(page(registration.number)).content.decode()
    response = client.get(page(registration.number, "edit"), follow=True)
    assert response.redirect_chain == [(page(registration.number), 302)]
    assert "Only a draft or a rejected registration can be edited" in response.content.decode()
    posted = client.post(page(registration.number, "edit"), form_data())
    assert posted.status_code == 200 and "can be submitted again" in posted.content.decode()
    registration.refresh_from_db()
    assert registration.status == status


def test_another_partners_rejected_registration_is_a_404(client, member):
    registration = RegistrationFactory(status=S.REJECTED)
    assert client.get(page(registration.number, "edit")).status_code == 404
    assert client.post(page(registration.number, "edit"), form_data()).status_code == 404
