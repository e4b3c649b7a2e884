from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db.models import Max, Min
from django.utils import timezone

pytestmark = pytest.mark.django_db

COUNTED = ["portal.User", "partners.Partner", "partners.Membership", "partners.Person", "partners.CertificationRecord",
           "partners.TierHistory", "partners.TitaniumBlackAward", "deals.Customer", "deals.Order", "deals.OrderLine",
           "deals.Registration", "deals.RegistrationEvent", "deals.ChannelLock", "deals.RoutingCase",
           "deals.RoutingOffer", "rebates.Statement", "rebates.RebateLine", "rebates.StatementDocument",
           "portal.OutboxEmail", "portal.JobRun"]  # fmt: skip


def counts():
    return {label: apps.get_model(label).objects.count() for label in COUNTED}


def test_seed_demo_builds_a_program_running_up_to_today_and_a_second_run_changes_nothing(
    capsys, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the delivery after commit, as in ``make run``
        call_command("seed_demo")
    first = counts()
    assert first["partners.Partner"] == 4
    assert "partner-demo-2017" in capsys.readouterr().out
    today = timezone.localdate()
    living_program_checks(today)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", "--quiet-logins")
    assert counts() == first


def living_program_checks(today):
    from deals.models import Order, Registration, RoutingOffer
    from deals.registrations.selectors import registration_queue
    from partners.models import Partner, TierHistory
    from rebates.models import Statement, StatementDocument

    # Three program years of orders, up to this month.
    first_order, last_order = (
        Order.objects.filter(number__startswith="DEMO-SO")
        .aggregate(first=Min("booked_on"), last=Max("booked_on"))
        .values()
    )
    assert (today - first_order).days > 2 * 365 and (today - last_order).days < 31

    tiers = {partner.code: partner for partner in Partner.objects.select_related("tier", "computed_tier")}
    # A partner at risk, with its reasons; one Titanium Black; upgrades in the middle of a program year.
    at_risk = [partner for partner in tiers.values() if partner.at_risk]
    assert at_risk and all(
        partner.at_risk_reason and partner.computed_tier.rank < partner.tier.rank for partner in at_risk
    )
    assert any(partner.tier.code == "titanium_black" for partner in tiers.values())
    upgrades = TierHistory.objects.filter(reason=TierHistory.Reason.UPGRADE)
    assert upgrades.exclude(effective_on__month=2, effective_on__day=1).exists()
    assert all(history.effective_on < today for history in upgrades)

    # Registrations of every age: one waiting past the 48 h target, one in its extension window, decided ones.
    assert Registration.objects.filter(registration_queue("overdue")).exists()
    recent = Registration.objects.filter(
        registration_queue("pending"), submitted_at__gte=timezone.now() - timedelta(hours=24)
    )
    assert recent.exists()
    window = Registration.objects.filter(
        status=Registration.Status.APPROVED,
        protection_ends_on__gt=today,
        protection_ends_on__lte=today + timedelta(days=30),
    )
    assert window.exists()
    assert {"expired", "lost", "won", "rejected", "withdrawn"} <= set(
        Registration.objects.values_list("status", flat=True)
    )

    # A routed offer due tomorrow, one timed out.
    assert RoutingOffer.objects.filter(status="offered", respond_by=today + timedelta(days=1)).exists()
    assert RoutingOffer.objects.filter(status="expired").exists()

    # Statements closed on their own dates, paid about a month later; the latest still issued, its PDFs stored.
    statements = Statement.objects.order_by("issued_on")
    assert statements.values("issued_on").distinct().count() >= 8
    paid = statements.filter(status=Statement.Status.PAID)
    assert paid.exists() and all(s.paid_on == s.issued_on + timedelta(days=30) < today for s in paid)
    latest = statements.last().issued_on
    assert latest < today and not statements.filter(issued_on=latest, status=Statement.Status.PAID).exists()
    assert set(StatementDocument.objects.values_list("statement__issued_on", flat=True)) == {latest}


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
