import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import MembershipFactory, UserFactory
from tests.factories.partners import PASSWORD, totp_code

pytestmark = pytest.mark.django_db


def login(client, email, password=PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_a_partner_user_signs_in_with_email_and_password_and_lands_on_the_dashboard(client):
    user = MembershipFactory(role="sales").user
    response = login(client, user.email)
    assert response.status_code == 302
    page = client.get(response["Location"], follow=True)
    assert page.redirect_chain[-1][0] == reverse("dashboard")
    assert page.status_code == 200
    assert user.membership.partner.name.encode() in page.content


def test_a_wrong_password_is_refused_with_a_message(client):
    user = MembershipFactory().user
    response = login(client, user.email, "not-the-password")
    assert response.status_code == 200
    assert b"not correct" in response.content
    assert "_auth_user_id" not in client.session


def test_an_unverified_email_cannot_sign_in(client):
    user = UserFactory(verified=False)
    MembershipFactory(user=user)
    response = login(client, user.email)
    assert "_auth_user_id" not in client.session
    assert response.status_code == 302 and "confirm-email" in response["Location"]


def test_there_is_no_public_sign_up(client):
    response = client.post(
        reverse("account_signup"), {"email": "new@example.com", "password1": "x" * 12, "password2": "x" * 12}
    )
    assert response.status_code == 200
    assert [template.name for template in response.templates][0] == "account/signup_closed.html"
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(email="new@example.com").exists()


def test_repeated_failed_logins_are_rate_limited(client, settings):
    from django.core.cache import cache

    cache.clear()
    user = MembershipFactory().user
    responses = [login(client, user.email, "wrong-password") for _ in range(6)]
    assert b"Too many failed login attempts" not in responses[0].content
    assert b"Too many failed login attempts" in responses[-1].content
    # even the right password is refused while the limit holds
    assert b"Too many failed login attempts" in login(client, user.email).content
    assert "_auth_user_id" not in client.session
    cache.clear()


def test_channel_staff_land_in_the_admin_after_signing_in(client):
    staff = UserFactory(is_staff=True)  # staff have TOTP (the factory enrols them, as the admin requires)
    response = login(client, staff.email)
    assert response["Location"] == reverse("mfa_authenticate")
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    page = client.get(response["Location"], follow=True)
    assert page.redirect_chain[-1][0] == reverse("admin:index")


def test_the_admin_login_goes_through_the_rate_limited_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    follow = client.get(response["Location"])
    assert follow.status_code == 302
    assert follow["Location"].startswith(reverse("account_login"))


def test_a_partner_user_cannot_open_the_admin(client):
    user = MembershipFactory().user
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_password_reset_email_goes_out_over_smtp_and_its_link_works(client, smtp_server):
    user = MembershipFactory().user
    response = client.post(reverse("account_reset_password"), {"email": user.email})
    assert response.status_code == 302
    assert len(smtp_server) == 1
    message = smtp_server[0]
    assert message["To"] == user.email
    body = (
        message.get_payload(decode=True).decode()
        if not message.is_multipart()
        else message.get_payload(0).get_payload(decode=True).decode()
    )
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", body).group(1)
    page = client.get(link, follow=True)
    assert page.status_code == 200
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else link
    done = client.post(form_url, {"password1": "brand-new-secret-42", "password2": "brand-new-secret-42"})
    assert done.status_code == 302
    client.logout()
    assert login(client, user.email, "brand-new-secret-42").status_code == 302
    assert "_auth_user_id" in client.session
    assert len(mail.outbox) == 0  # the locmem backend was not used: SMTP carried it


def test_language_switch_saves_the_users_language(client):
    user = MembershipFactory().user
    client.force_login(user)
    response = client.post(reverse("language_switch"), {"language": "fr", "next": "/dashboard/"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.language == "fr"
    page = client.get("/dashboard/")
    assert page["Content-Language"] == "fr"


def test_language_switch_refuses_foreign_redirects(client):
    response = client.post(reverse("language_switch"), {"language": "fr", "next": "https://evil.example.net/"})
    assert response["Location"] == "/"
