"""Optional TOTP two-factor authentication for partner users (django-allauth's mfa)."""

import time

import pytest
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from django.urls import reverse

from tests.factories import MembershipFactory
from tests.factories.partners import PASSWORD

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
