"""Emails read as plain text (no HTML entities in names), and allauth's account emails go through the outbox in
the user's language with the portal's wording (sign-up is closed: no invitation to sign up)."""

import pytest
from django.core import mail
from django.urls import reverse

from partners.services import invitation_create
from portal.emails import email_enqueue, outbox_render, render_text
from portal.models import OutboxEmail
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db

NAME = 'L\'Atelier & Fils "Réseaux" SARL'
ENTITIES = ("&#x27;", "&#39;", "&amp;", "&quot;", "&lt;", "&gt;")


def test_a_name_with_quotes_and_ampersands_reads_as_written_in_the_subject_and_the_text(
    django_capture_on_commit_callbacks,
):
    partner = PartnerFactory(name=NAME)
    with django_capture_on_commit_callbacks(execute=True):
        invitation_create(partner=partner, email="new@example.com", role="sales")
    outbox_render()  # rendered as the send task renders it (not sent)
    email = OutboxEmail.objects.get()
    assert NAME in email.subject and NAME in email.body
    assert not any(entity in email.subject + email.body for entity in ENTITIES)
    [sent] = mail.outbox
    assert NAME in sent.subject and NAME in sent.body


def test_every_text_template_renders_without_escaping_but_html_pages_still_escape(client):
    assert (
        render_text("partners/email/invitation_subject.txt", {"partner": {"name": "A&B <x>"}})
        .strip()
        .endswith("A&B <x> team on the Partner Portal")
    )
    admin = MembershipFactory(role="admin", partner=PartnerFactory(name=NAME))
    client.force_login(admin.user)
    page = client.get(reverse("team")).content.decode()
    assert "L&#x27;Atelier &amp; Fils &quot;Réseaux&quot; SARL" in page and NAME not in page


def test_a_french_name_in_a_french_email_keeps_its_apostrophe():
    email = email_enqueue(
        key="test:fr",
        to="x@example.com",
        language="fr",
        template="partners/email/invitation",
        context={"partner": {"name": NAME}, "invitation": {"get_role_display": "Ventes"}, "url": "http://x/?a=1&b=2"},
    )
    outbox_render()  # rendered as the send task renders it (not sent)
    email.refresh_from_db()
    assert NAME in email.subject and NAME in email.body and "http://x/?a=1&b=2" in email.body
    assert "invité" in email.body


def test_a_password_reset_email_goes_through_the_outbox_in_the_users_language(
    client, django_capture_on_commit_callbacks
):
    user = MembershipFactory().user
    user.language = "fr"
    user.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_reset_password"), {"email": user.email})
    assert response.status_code == 302
    email = OutboxEmail.objects.get(to=[user.email])
    assert email.key.startswith("account:password_reset_key:")
    assert email.subject == "[Portail partenaires] Choisissez un nouveau mot de passe pour le portail partenaires"
    assert "http://testserver/accounts/password/reset/key/" in email.body
    email.refresh_from_db()
    assert email.status == OutboxEmail.Status.SENT
    [sent] = mail.outbox
    assert sent.subject == email.subject  # the prefix is translated with the subject, when it is queued


def test_a_reset_for_an_unknown_address_invites_nobody_to_sign_up(client):
    response = client.post(reverse("account_reset_password"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    outbox_render()  # rendered as the send task renders it (not sent)
    email = OutboxEmail.objects.get(to=["nobody@example.com"])
    assert "no account uses this address" in email.body
    assert "sign up" not in email.body.lower() and "/signup" not in email.body
    assert "invitation" in email.body


def test_two_reset_requests_are_two_emails(client):
    user = MembershipFactory().user
    client.post(reverse("account_reset_password"), {"email": user.email})
    client.post(reverse("account_reset_password"), {"email": user.email})
    assert OutboxEmail.objects.filter(to=[user.email]).count() == 2


def test_an_unverified_address_gets_the_portals_confirmation_email_through_the_outbox(client):
    from tests.factories.partners import PASSWORD

    user = UserFactory(verified=False, language="fr")
    MembershipFactory(user=user)
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    outbox_render()  # rendered as the send task renders it (not sent)
    email = OutboxEmail.objects.get(to=[user.email])
    assert email.key.startswith("account:email_confirmation:")
    assert email.subject == "[Portail partenaires] Confirmez votre adresse e-mail pour le portail partenaires"
    assert "http://testserver/accounts/confirm-email/" in email.body
