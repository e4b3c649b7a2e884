import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from partners.models import Invitation, Membership, Person, TierHistory
from partners.services import partner_create
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_a_partner_admin_invites_a_colleague_who_joins_with_the_chosen_role(client, django_capture_on_commit_callbacks):
    admin = MembershipFactory(role="admin")
    client.force_login(admin.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("team"), {"email": "New.Colleague@Example.com", "role": "finance"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.colleague@example.com"]
    link = re.search(r"http://testserver(/invitation/\S+/)", mail.outbox[0].body).group(1)
    invitation = Invitation.objects.get(email="new.colleague@example.com")
    assert f"valid until {date_format(timezone.localtime(invitation.expires_at), 'DATE_FORMAT')}" in mail.outbox[0].body

    client.logout()
    page = client.get(link)
    assert page.status_code == 200
    response = client.post(
        link,
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "password1": "analytical-engine-1843",
            "password2": "analytical-engine-1843",
        },
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user__email="new.colleague@example.com")
    assert (membership.partner, membership.role) == (admin.partner, "finance")
    assert Person.objects.filter(partner=admin.partner, user=membership.user).exists()
    assert client.post(link, {}).status_code == 400  # used once only


def test_invitation_form_says_what_is_wrong(client):
    admin = MembershipFactory(role="admin")
    client.force_login(admin.user)
    response = client.post(reverse("team"), {"email": "not-an-email", "role": "boss"})
    assert response.status_code == 400
    assert b"Enter a valid email address" in response.content
    assert b"Select a valid choice" in response.content
    assert not Invitation.objects.exists()


def test_a_member_of_another_partner_cannot_join_and_the_form_does_not_reveal_it(client):
    """The invitation looks like any other (no "cannot be invited"); accepting it is what is refused."""
    admin = MembershipFactory(role="admin")
    other = MembershipFactory(role="sales")
    client.force_login(admin.user)
    response = client.post(reverse("team"), {"email": other.user.email, "role": "sales"}, follow=True)
    assert response.status_code == 200
    assert b"cannot be invited" not in response.content
    assert f"Invitation sent to {other.user.email}".encode() in response.content
    invitation = Invitation.objects.get(partner=admin.partner, email=other.user.email)
    client.logout()
    accept = client.post(
        reverse("invitation_accept", args=[invitation.token]),
        {"first_name": "X", "last_name": "Y", "password1": "long-enough-pass-1", "password2": "long-enough-pass-1"},
    )
    assert accept.status_code == 400
    other.refresh_from_db()
    assert other.partner_id != admin.partner_id


def test_accept_form_rejects_weak_or_mismatched_passwords(client):
    invitation = Invitation.objects.create(partner=MembershipFactory().partner, email="x@example.com", role="sales")
    url = reverse("invitation_accept", args=[invitation.token])
    response = client.post(url, {"first_name": "X", "last_name": "Y", "password1": "12345678", "password2": "12345678"})
    assert response.status_code == 400
    # Every validator that refuses it says so: length (10), a common password, all digits.
    assert b"too short. It must contain at least 10 characters." in response.content
    assert b"too common." in response.content
    assert b"entirely numeric." in response.content
    response = client.post(
        url, {"first_name": "X", "last_name": "Y", "password1": "long-enough-pass-1", "password2": "long-enough-pass-2"}
    )
    assert b"The two passwords differ" in response.content
    assert not Membership.objects.filter(user__email="x@example.com").exists()


def test_a_partner_keeps_at_least_one_admin(client):
    admin = MembershipFactory(role="admin")
    client.force_login(admin.user)
    client.post(reverse("membership_role", args=[admin.pk]), {"role": "sales"})
    admin.refresh_from_db()
    assert admin.role == "admin"


def test_removing_a_colleague_deactivates_the_login(client):
    admin = MembershipFactory(role="admin")
    colleague = MembershipFactory(role="sales", partner=admin.partner)
    client.force_login(admin.user)
    response = client.post(reverse("membership_remove", args=[colleague.pk]), follow=True)
    assert colleague.user.get_full_name() in response.content.decode()  # says who lost access
    colleague.user.refresh_from_db()
    assert not colleague.user.is_active
    assert not Membership.objects.filter(pk=colleague.pk).exists()


@pytest.mark.parametrize(
    ("dell", "emc", "tier"),
    [
        ("premier_plus", "", "titanium"),
        ("", "platinum", "titanium"),
        ("premier", "silver", "platinum"),
        ("", "gold", "platinum"),
        ("preferred", "", "gold"),
        ("registered", "silver", "gold"),
        ("registered", "authorized", "authorized"),
        ("", "", "authorized"),
    ],
)
def test_a_new_partner_is_status_matched_from_its_legacy_tiers(dell, emc, tier, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        partner = partner_create(
            code="NEW1",
            name="New",
            country="FR",
            legacy_dell_tier=dell,
            legacy_emc_tier=emc,
            admin_email="boss@new.example.com",
        )
    change = TierHistory.objects.get(partner=partner)
    # Created by staff: it joins the program today, and its status match is effective today (DESIGN §3).
    assert (change.to_tier.code, change.reason, change.effective_on) == (tier, "status_match", timezone.localdate())
    assert partner.tier.code == tier
    assert Invitation.objects.get(partner=partner).role == "admin"
    assert mail.outbox[0].to == ["boss@new.example.com"]


def test_the_invitation_form_suggests_the_least_powerful_role(client):
    client.force_login(MembershipFactory(role="admin").user)
    assert client.get(reverse("team")).context["form"]["role"].value() == "sales"


def test_a_removed_colleague_invited_again_can_sign_in_again(client):
    admin = MembershipFactory(role="admin")
    colleague = MembershipFactory(role="sales", partner=admin.partner)
    client.force_login(admin.user)
    client.post(reverse("membership_remove", args=[colleague.pk]))
    invitation = Invitation.objects.create(partner=admin.partner, email=colleague.user.email, role="finance")
    client.logout()
    url = reverse("invitation_accept", args=[invitation.token])
    data = {
        "first_name": "Back",
        "last_name": "Again",
        "password1": "returning-user-2017",
        "password2": "returning-user-2017",
    }
    assert client.post(url, data).status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
    colleague.user.refresh_from_db()
    assert colleague.user.is_active and colleague.user.membership.role == "finance"


def test_the_invitation_page_speaks_the_inviters_language(client):
    admin = MembershipFactory(role="admin", user__language="fr")
    invitation = Invitation.objects.create(partner=admin.partner, email="new@example.com", role="sales",
                                           invited_by=admin.user)  # fmt: skip
    page = client.get(reverse("invitation_accept", args=[invitation.token]))
    assert page["Content-Language"] == "fr"
    assert "Créer mon compte" in page.content.decode()


def test_removing_a_colleague_is_confirmed_first(client):
    admin = MembershipFactory(role="admin")
    colleague = MembershipFactory(role="sales", partner=admin.partner)
    client.force_login(admin.user)
    page = client.get(reverse("membership_remove", args=[colleague.pk]))
    assert page.status_code == 200 and colleague.user.email in page.content.decode()
    assert Membership.objects.filter(pk=colleague.pk).exists()  # looking is not removing
    other = MembershipFactory(role="sales")
    assert client.get(reverse("membership_remove", args=[other.pk])).status_code == 404


def test_an_admin_withdraws_an_invitation_of_their_partner_only(client):
    from tests.factories import InvitationFactory

    admin = MembershipFactory(role="admin")
    mine = InvitationFactory(partner=admin.partner)
    theirs = InvitationFactory()
    client.force_login(admin.user)
    assert client.post(reverse("invitation_revoke", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("invitation_revoke", args=[mine.pk])).status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None and not mine.is_usable
    assert theirs.revoked_at is None
