"""Personal API tokens (the portal page, every role) and system tokens (the admin): shown once, stored as a
SHA-256 only, expiring, revocable, with their last use; a token acts with its user's partner and current role."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from api.models import ApiToken
from api.services import api_token_create
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

from .conftest import bearer

pytestmark = pytest.mark.django_db
PAGE = reverse("api_tokens")
ME = reverse("api:me")


@pytest.fixture
def member(client):
    membership = MembershipFactory(partner=PartnerFactory(), role="finance")
    client.force_login(membership.user)
    return membership


def created_secret(response) -> str:
    return re.search(rb'<code id="new-token">(prm_[^<]+)</code>', response.content).group(1).decode()


def test_a_token_created_on_the_page_is_shown_once_and_stored_as_a_digest(client, member):
    response = client.post(PAGE, {"name": "Our CRM", "valid_days": "90"})
    assert response.status_code == 200
    secret = created_secret(response)
    token = ApiToken.objects.get()
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest() and secret not in str(token.__dict__)
    assert token.partner == member.partner and token.user == member.user and token.prefix == secret[:10]
    assert timedelta(days=89) < token.expires_at - timezone.now() <= timedelta(days=90)
    listed = client.get(PAGE)
    assert b"Our CRM" in listed.content and secret.encode() not in listed.content
    assert token.last_used_at is None
    assert client.get(ME, **bearer(secret)).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert b"never" not in client.get(PAGE).content


def test_the_page_is_in_french(client, member):
    client.cookies["portal_language"] = "fr"
    response = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="fr")
    assert "Jetons d’API".encode() in response.content and "Créer un jeton".encode() in response.content


def test_a_user_revokes_its_own_token_and_no_one_elses(client, member):
    mine = api_token_create(user=member.user, name="mine")
    colleague = api_token_create(user=MembershipFactory(partner=member.partner, role="admin").user, name="theirs")
    assert client.post(PAGE, {"revoke": str(colleague.token.pk)}).status_code == 404
    assert client.post(PAGE, {"revoke": "nope"}).status_code == 404
    assert b"theirs" not in client.get(PAGE).content  # personal: not even the partner's admin's tokens
    assert client.post(PAGE, {"revoke": str(mine.token.pk)}).status_code == 302
    assert client.get(ME, **bearer(mine.secret)).status_code == 401
    assert client.get(ME, **bearer(colleague.secret)).status_code == 200


def test_a_bad_form_creates_nothing(client, member):
    assert client.post(PAGE, {"name": "", "valid_days": "1000"}).status_code == 400
    assert not ApiToken.objects.exists()


def test_a_token_follows_its_users_role_and_partner(client, member):
    secret = api_token_create(user=member.user, name="x").secret
    statements = reverse("api:statements")
    assert client.get(statements, **bearer(secret)).status_code == 200
    member.role = "sales"
    member.save()
    assert client.get(statements, **bearer(secret)).status_code == 403  # lower role now: never more
    member.partner = PartnerFactory()
    member.save()
    assert client.get(ME, **bearer(secret)).status_code == 403  # moved to another partner: the token stays behind


def test_staff_create_a_system_token_in_the_admin_and_it_reaches_no_partner_endpoint(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.post(
        reverse("admin:api_apitoken_add"), {"user": staff.pk, "name": "Order system", "valid_days": "30"}, follow=True
    )
    assert response.status_code == 200
    token = ApiToken.objects.get()
    assert token.is_system and token.user == staff
    secret = re.search(r"(prm_[A-Za-z0-9_-]+)", response.content.decode()).group(1)
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    client.logout()
    response = client.get(ME, **bearer(secret))
    assert response.status_code == 403 and response.json()["message"] == "This operation is for partner tokens."


def test_a_partner_user_cannot_get_a_system_token_or_a_staff_user_a_personal_one():
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        api_token_create(user=MembershipFactory().user, name="x", system=True)
    with pytest.raises(PermissionDenied):
        api_token_create(user=UserFactory(is_staff=True), name="x")
