"""Arbitration and rejection notes never tell a partner who else registered the opportunity (DESIGN §1, §4),
and the admin's side-by-side view labels the earliest registration "first in time"."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from deals.models import Registration
from deals.registrations.services import registration_arbitrate, registration_reject
from portal.emails import outbox_render
from portal.models import OutboxEmail
from tests.factories import MembershipFactory, PartnerFactory, UserFactory
from tests.factories.deals_pages import CustomerFactory
from tests.factories.registrations import TODAY, submit

pytestmark = pytest.mark.django_db
S = Registration.Status


@pytest.fixture
def staff():
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def conflict():
    """Two partners registered the same opportunity: ``first`` holds it, ``later`` awaits arbitration."""
    customer = CustomerFactory()
    first = submit(PartnerFactory(code="FR-ATL", name="L'Atelier Numérique SARL"), customer=customer).registration
    later = submit(PartnerFactory(code="DE-BEC", name="Bechtle Demo GmbH"), customer=customer).registration
    assert later.conflict_with_id == first.pk
    return first, later


def bodies_for(registration):
    outbox_render()  # rendered as the send task renders it (not sent)
    emails = OutboxEmail.objects.filter(key__startswith=f"registration:{registration.pk}:registration_arbitrated")
    return " ".join(email.subject + " " + email.body for email in emails)


def test_the_winner_and_the_others_read_separate_notes(conflict, staff):
    first, later = conflict
    registration_arbitrate(
        winner=later,
        actor=staff,
        winner_note="The customer confirmed your quote.",
        others_note="The customer chose another offer.",
        today=TODAY,
    )
    winner_mail, loser_mail = bodies_for(later), bodies_for(first)
    assert "The customer confirmed your quote." in winner_mail
    assert "The customer chose another offer." not in winner_mail
    assert "The customer chose another offer." in loser_mail
    assert "The customer confirmed your quote." not in loser_mail
    assert "Bechtle" not in loser_mail and "Atelier" not in winner_mail
    first.refresh_from_db()
    with translation.override("en"):
        assert first.decision_text == (
            "Another registration was chosen for this opportunity. The customer chose another offer."
        )


def test_the_others_get_a_fixed_explanation_in_their_own_language_without_a_note(conflict, staff):
    first, later = conflict
    first.submitted_by.language = "fr"
    first.submitted_by.save(update_fields=["language"])
    registration_arbitrate(winner=later, actor=staff, today=TODAY)
    loser_mail = bodies_for(first)
    assert "L'équipe du programme n'a pas retenu votre enregistrement" in loser_mail.replace("\n", " ")
    assert "Note from channel staff" not in loser_mail and "Note de l" not in loser_mail


@pytest.mark.parametrize(
    "note",
    [
        "Bechtle Demo registered first.",  # the name without its legal form
        "bechtle demo gmbh was earlier",  # any case
        "See DE-BEC's registration.",  # the partner code
    ],
)
def test_a_note_to_the_others_naming_the_winner_is_refused_and_nothing_changes(conflict, staff, note):
    first, later = conflict
    with pytest.raises(ValidationError) as refused:
        registration_arbitrate(winner=later, actor=staff, others_note=note, today=TODAY)
    assert "others_note" in refused.value.message_dict
    assert "Bechtle Demo GmbH" in refused.value.message_dict["others_note"][0]
    first.refresh_from_db(), later.refresh_from_db()
    assert (first.status, later.status) == (S.SUBMITTED, S.SUBMITTED)
    assert not OutboxEmail.objects.filter(key__contains="arbitrated").exists()


def test_a_note_to_the_winner_naming_a_loser_is_refused(conflict, staff):
    first, later = conflict
    with pytest.raises(ValidationError) as refused:
        registration_arbitrate(winner=later, actor=staff, winner_note="L’Atelier Numérique lost this one", today=TODAY)
    assert "winner_note" in refused.value.message_dict


def test_a_partner_may_be_named_to_itself_and_ordinary_words_pass(conflict, staff):
    first, later = conflict
    registration_arbitrate(
        winner=later, actor=staff, winner_note="Bechtle Demo: the customer's purchasing confirmed.", today=TODAY
    )
    later.refresh_from_db()
    assert later.status == S.APPROVED


def test_a_rejection_reason_naming_another_partner_is_refused(conflict, staff):
    first, later = conflict
    with pytest.raises(ValidationError) as refused:
        registration_reject(registration=later, actor=staff, reason="L'Atelier Numérique registered it first.")
    assert "reason" in refused.value.message_dict
    later.refresh_from_db()
    assert later.status == S.SUBMITTED
    registration_reject(registration=later, actor=staff, reason="Another partner registered it first.")
    later.refresh_from_db()
    assert later.status == S.REJECTED


# --- the admin ---------------------------------------------------------------------------------------------


def decide(registration, operation):
    return reverse("admin:deals_registration_decide", args=[registration.pk, operation])


def test_the_arbitration_form_has_two_notes_and_shows_a_refused_name_under_its_field(client, conflict, staff):
    first, later = conflict
    client.force_login(staff)
    page = client.get(decide(later, "arbitrate"))
    assert set(page.context["form"].fields) == {"winner_note", "others_note"}
    refused = client.post(decide(later, "arbitrate"), {"others_note": "Bechtle Demo registered first"})
    assert refused.status_code == 200
    assert refused.context["form"].errors["others_note"]
    first.refresh_from_db()
    assert first.status == S.SUBMITTED
    done = client.post(decide(later, "arbitrate"), {"winner_note": "Confirmed.", "others_note": "Sorry."})
    assert done.status_code == 302
    first.refresh_from_db(), later.refresh_from_db()
    assert (first.status, later.status) == (S.REJECTED, S.APPROVED)


def test_the_reject_form_refuses_a_reason_naming_another_partner(client, conflict, staff):
    first, later = conflict
    client.force_login(staff)
    refused = client.post(decide(later, "reject"), {"reason": "FR-ATL was first"})
    assert refused.status_code == 200 and refused.context["form"].errors["reason"]


def header_labels(client, registration):
    response = client.get(reverse("admin:deals_registration_change", args=[registration.pk]))
    assert response.status_code == 200
    first_in_time = response.context["first_in_time"]
    headers = response.content.decode().split("<thead>")[1].split("</thead>")[0]
    return first_in_time, headers


def test_the_side_by_side_view_labels_the_earlier_registration_first_in_time(client, conflict, staff):
    first, later = conflict
    client.force_login(staff)
    labelled, headers = header_labels(client, first)  # viewing the earlier one: the competitor came later
    assert labelled.pk == first.pk
    assert "This registration (first in time)" in headers
    assert "Competing (first in time)" not in headers

    labelled, headers = header_labels(client, later)  # viewing the later one: the competitor was first
    assert labelled.pk == first.pk
    assert "This registration (first in time)" not in headers
    assert "Competing (first in time)" in headers


def test_an_admin_of_the_losing_partner_gets_no_other_partners_name_either(conflict, staff):
    first, later = conflict
    MembershipFactory(partner=first.partner, role="admin")
    registration_arbitrate(winner=later, actor=staff, others_note="Decided with the customer.", today=TODAY)
    emails = OutboxEmail.objects.filter(key__startswith=f"registration:{first.pk}:")
    assert emails.count() == 2
    assert all("Bechtle" not in email.body and "DE-BEC" not in email.body for email in emails)


def test_an_approval_note_naming_another_partner_is_refused_too(staff):
    PartnerFactory(name="Computacenter Démo SE")
    registration = submit(PartnerFactory()).registration
    from deals.registrations.services import registration_approve

    with pytest.raises(ValidationError) as refused:
        registration_approve(
            registration=registration, actor=staff, note="Computacenter Demo passed on it", today=TODAY
        )
    assert "note" in refused.value.message_dict
    registration_approve(registration=registration, actor=staff, note="Good luck with it", today=TODAY)
    registration.refresh_from_db()
    assert registration.status == S.APPROVED


def test_the_fixed_explanation_on_the_losers_page_is_in_its_readers_language(conflict, staff):
    """Stored as a kind, the explanation is worded at display: French for a French page, English for English."""
    first, later = conflict
    registration_arbitrate(winner=later, actor=staff, others_note="Merci.", today=TODAY)
    first.refresh_from_db()
    assert (first.decision_kind, first.decision_note) == ("arbitration_lost", "Merci.")
    with translation.override("fr"):
        assert first.decision_text == "Un autre enregistrement a été retenu pour cette opportunité. Merci."
    with translation.override("en"):
        assert first.decision_text == "Another registration was chosen for this opportunity. Merci."


def test_a_partner_name_with_a_legal_form_before_company_words_is_still_recognised_by_its_first_words():
    """Customer names now keep legal forms that are not their last words (DESIGN §4), so "Bechtle GmbH & Co KG"
    normalises to "bechtle gmbh co kg"; a note naming "Bechtle" still names that partner."""
    from deals.registrations.services import partners_named_in

    PartnerFactory(code="DE-BKG", name="Bechtle GmbH & Co KG")
    assert partners_named_in("Bechtle registered first.", readers=[]) == ["Bechtle GmbH & Co KG"]
