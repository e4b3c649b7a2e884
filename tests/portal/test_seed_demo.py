import pytest
from django.apps import apps
from django.core.management import call_command

pytestmark = pytest.mark.django_db

COUNTED = ["portal.User", "partners.Partner", "partners.Membership", "partners.Person", "partners.CertificationRecord",
           "partners.TierHistory", "deals.Customer", "deals.Order", "deals.OrderLine"]  # fmt: skip


def counts():
    return {label: apps.get_model(label).objects.count() for label in COUNTED}


def test_seed_demo_adds_demo_activity_and_a_second_run_changes_nothing(capsys):
    call_command("seed_demo")
    first = counts()
    assert first["partners.Partner"] == 4
    assert first["deals.OrderLine"] > 300
    assert "partner-demo-2017" in capsys.readouterr().out
    call_command("seed_demo", "--quiet-logins")
    assert counts() == first


def test_seed_demo_enrols_the_demo_staff_login_in_totp_with_the_printed_secret(capsys):
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    from demo.partners import DEMO_STAFF_TOTP_SECRET, STAFF_EMAIL

    call_command("seed_demo")
    assert DEMO_STAFF_TOTP_SECRET in capsys.readouterr().out
    authenticator = Authenticator.objects.get(user__email=STAFF_EMAIL, type=Authenticator.Type.TOTP)
    call_command("seed_demo", "--totp-code")
    code = capsys.readouterr().out.strip()
    assert TOTP(authenticator).validate_code(code)


def test_seed_demo_refuses_in_production_with_a_clear_message_and_creates_nothing(tmp_path):
    from tests.portal.test_settings import run_manage

    result = run_manage(
        "seed_demo",
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY="k7#p2!vR9zQ@wL4mX8^tB1nC6&yH3jF0sD5gA2eU7iO9rT4qW1zX8cV6bN3mK0lJ",
        DJANGO_ALLOWED_HOSTS="portal.example.com",
        SQLITE_PATH=str(tmp_path / "never-created.sqlite3"),
        DATABASE_URL="",
    )
    assert result.returncode != 0
    assert "seed_demo refuses to run in production" in result.stderr
    assert "partner-demo-2017" not in result.stdout
    assert not (tmp_path / "never-created.sqlite3").exists()


def test_seed_demo_refuses_in_production_in_process_too(settings):
    from django.core.management.base import CommandError

    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="refuses to run in production"):
        call_command("seed_demo")
    assert apps.get_model("portal.User").objects.count() == 0
