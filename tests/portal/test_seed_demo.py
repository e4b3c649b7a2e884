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
