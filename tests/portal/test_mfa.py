"""Optional TOTP two-factor authentication for partner users (django-allauth's mfa)."""

import time

import pytest
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from django.urls import reverse

from tests.factories import MembershipFactory, UserFactory
from tests.factories.partners import PASSWORD, totp_code

pytestmark = pytest.mark.django_db


def current_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def test_a_partner_user_turns_on_totp_and_then_needs_a_code_to_sign_in(client, settings):
    settings.MFA_TOTP_TOLERANCE = 1  # accept the neighbouring time step, so the test needs no waiting
    user = MembershipFactory(role="finance").user
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})  # sensitive: asks the password again
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    response = client.post(
        reverse("mfa_activate_totp"), {"code": "000000" if current_code(secret) != "000000" else "1"}
    )
    assert response.status_code == 200  # a wrong code is refused with a message
    response = client.post(reverse("mfa_activate_totp"), {"code": current_code(secret)})
    assert response.status_code == 302
    client.post(reverse("account_logout"))

    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("dashboard")).status_code == 302
    # allauth refuses a code used twice; the next time step's code is within the tolerance
    response = client.post(
        reverse("mfa_authenticate"), {"code": format_hotp_value(hotp_value(secret, int(time.time()) // 30 + 1))}
    )
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200


# --- channel staff must use TOTP ---------------------------------------------------------------------------


def test_a_staff_user_without_totp_is_sent_to_enrol_before_any_admin_page(client):
    staff = UserFactory(is_staff=True, is_superuser=True, totp=False)
    response = client.post(reverse("account_login"), {"login": staff.email, "password": PASSWORD})
    assert response.status_code == 302
    for url in (
        reverse("admin:index"),
        reverse("admin:partners_partner_changelist"),
        reverse("admin:deals_registration_changelist"),
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == reverse("mfa_activate_totp"), url
    chain = [url for url, _status in client.get(reverse("home"), follow=True).redirect_chain]
    assert chain[:2] == [reverse("admin:index"), reverse("mfa_activate_totp")]  # then allauth asks the password again


def test_a_staff_user_who_enrols_totp_then_opens_the_admin_and_needs_the_code_next_time(client, settings):
    settings.MFA_TOTP_TOLERANCE = 1
    staff = UserFactory(is_staff=True, totp=False)
    client.post(reverse("account_login"), {"login": staff.email, "password": PASSWORD})
    response = client.get(reverse("admin:index"))
    assert response["Location"] == reverse("mfa_activate_totp")
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})  # enrolling is sensitive
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"two-factor authentication" in page.content
    secret = client.session[SECRET_SESSION_KEY]
    assert client.post(reverse("mfa_activate_totp"), {"code": current_code(secret)}).status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200
    client.post(reverse("account_logout"))

    response = client.post(reverse("account_login"), {"login": staff.email, "password": PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.get(reverse("admin:index")).status_code == 302  # the password alone opens nothing
    client.post(reverse("mfa_authenticate"), {"code": totp_code(secret, step=1)})
    assert client.get(reverse("admin:index")).status_code == 200


def test_staff_totp_is_required_with_a_password_alone_too(client):
    """A staff user with TOTP who typed only the password has no session and no admin."""
    staff = UserFactory(is_staff=True)
    client.post(reverse("account_login"), {"login": staff.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_partner_users_stay_opt_in(client):
    user = MembershipFactory(role="sales").user
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] != reverse("mfa_authenticate")
    assert client.get(reverse("dashboard")).status_code == 200
