"""Failed sign-ins are limited per account and per real client IP, behind the production proxy layout."""

import os
import subprocess
import sys

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.factories import MembershipFactory
from tests.factories.partners import PASSWORD
from tests.portal.test_settings import ROOT

pytestmark = pytest.mark.django_db

LOCKED = b"Too many failed login attempts"
PROXY = "127.0.0.1"  # gunicorn's peer: the HTTPS proxy on the same machine


@pytest.fixture(autouse=True)
def _behind_one_proxy(settings):
    """The README's production layout: every request reaches gunicorn from the proxy, the client IP in XFF."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    cache.clear()
    yield
    cache.clear()


def sign_in(client, email, password, *, client_ip):
    return client.post(
        reverse("account_login"),
        {"login": email, "password": password},
        REMOTE_ADDR=PROXY,
        # a client may send its own (forged) X-Forwarded-For: the proxy appends the address it saw
        HTTP_X_FORWARDED_FOR=f"10.9.9.9, {client_ip}",
    )


def test_five_wrong_passwords_from_one_client_do_not_lock_out_a_colleague_behind_the_same_proxy(client):
    victim_of_typos, colleague = MembershipFactory().user, MembershipFactory().user
    for _ in range(5):
        assert LOCKED not in sign_in(client, victim_of_typos.email, "wrong-password", client_ip="203.0.113.5").content
    assert LOCKED in sign_in(client, victim_of_typos.email, PASSWORD, client_ip="203.0.113.5").content

    response = sign_in(client, colleague.email, PASSWORD, client_ip="198.51.100.7")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(colleague.pk)


def test_one_client_ip_trying_many_accounts_is_locked_out_and_another_client_is_not(client):
    accounts = [MembershipFactory().user for _ in range(5)]
    for account in accounts:  # 4 failures per account stay under the per-account limit: 20 for this IP
        for _ in range(4):
            assert LOCKED not in sign_in(client, account.email, "wrong-password", client_ip="203.0.113.5").content
    fresh = MembershipFactory().user
    refused = sign_in(client, fresh.email, PASSWORD, client_ip="203.0.113.5")
    assert LOCKED in refused.content
    assert "_auth_user_id" not in client.session

    response = sign_in(client, fresh.email, PASSWORD, client_ip="198.51.100.7")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(fresh.pk)


def test_the_locked_out_user_is_told_how_long_to_wait(client):
    user = MembershipFactory().user
    for _ in range(5):
        sign_in(client, user.email, "wrong-password", client_ip="203.0.113.5")
    response = sign_in(client, user.email, "wrong-password", client_ip="203.0.113.5")
    assert b"Try again in 5 minutes." in response.content


def test_the_french_message_says_how_long_to_wait_too(client):
    user = MembershipFactory().user
    for _ in range(5):
        sign_in(client, user.email, "wrong-password", client_ip="203.0.113.5")
    client.cookies["portal_language"] = "fr"
    response = sign_in(client, user.email, "wrong-password", client_ip="203.0.113.5")
    assert "Réessayez dans 5 minutes.".encode() in response.content


def test_sign_ins_are_not_capped_for_the_whole_program_behind_the_proxy(client):
    """30 sign-ins a minute is a limit per client, not for every partner user together."""
    users = [MembershipFactory().user for _ in range(31)]
    for number, user in enumerate(users):
        client.logout()
        response = sign_in(client, user.email, PASSWORD, client_ip=f"192.0.2.{number + 1}")
        assert response.status_code == 302, number


def test_production_trusts_one_proxy_by_default_and_the_setting_is_configurable():
    code = (
        "from django.conf import settings as s;print(s.ALLAUTH_TRUSTED_PROXY_COUNT, s.ALLAUTH_TRUSTED_CLIENT_IP_HEADER)"
    )
    base = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PORTAL_TRUSTED"))},
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": "s" * 64,
        "DJANGO_ALLOWED_HOSTS": "portal.example.com",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    run = [sys.executable, "-c", "import django; django.setup();" + code]
    default = subprocess.run(run, cwd=ROOT, env=base, capture_output=True, text=True, timeout=60)
    assert default.stdout.split() == ["1", "None"], default.stderr
    configured = subprocess.run(
        run,
        cwd=ROOT,
        env={**base, "PORTAL_TRUSTED_PROXY_COUNT": "2", "PORTAL_TRUSTED_CLIENT_IP_HEADER": "X-Real-IP"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert configured.stdout.split() == ["2", "X-Real-IP"], configured.stderr


def test_more_than_30_sign_ins_a_minute_from_one_client_get_the_portals_429_page(client):
    user = MembershipFactory().user
    for _ in range(30):
        client.logout()
        assert sign_in(client, user.email, PASSWORD, client_ip="203.0.113.9").status_code == 302
    client.logout()
    response = sign_in(client, user.email, PASSWORD, client_ip="203.0.113.9")
    assert response.status_code == 429
    assert b"Wait a minute, then try again." in response.content
    assert sign_in(client, user.email, PASSWORD, client_ip="203.0.113.10").status_code == 302
