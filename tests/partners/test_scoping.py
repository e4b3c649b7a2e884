import pytest
from django.urls import reverse

from partners.models import Membership, Partner
from partners.scoping import scope_to_partner
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_scope_returns_only_the_users_partner_rows():
    a, b = MembershipFactory(), MembershipFactory()
    rows = scope_to_partner(Membership.objects.all(), a.user)
    assert list(rows) == [a]
    assert b not in scope_to_partner(Membership.objects.all(), a.user)


def test_a_user_without_partner_sees_nothing_and_staff_bypass_is_explicit():
    staff = UserFactory(is_staff=True)
    PartnerFactory.create_batch(2)
    assert scope_to_partner(Partner.objects.all(), staff, partner_field="pk").count() == 0
    assert scope_to_partner(Partner.objects.all(), staff, partner_field="pk", staff_bypass=True).count() == 2
    assert scope_to_partner(Partner.objects.all(), UserFactory(), partner_field="pk", staff_bypass=True).count() == 0


def test_partner_b_gets_404_on_partner_as_team_member(client):
    a_admin = MembershipFactory(role="admin")
    a_other = MembershipFactory(role="sales", partner=a_admin.partner)
    b_admin = MembershipFactory(role="admin")
    client.force_login(b_admin.user)
    response = client.post(reverse("membership_role", args=[a_other.pk]), {"role": "admin"})
    assert response.status_code == 404
    a_other.refresh_from_db()
    assert a_other.role == "sales"
    assert client.post(reverse("membership_remove", args=[a_other.pk])).status_code == 404


@pytest.mark.parametrize("role", ["sales", "finance"])
def test_only_partner_admins_manage_the_team(client, role):
    member = MembershipFactory(role=role)
    client.force_login(member.user)
    assert client.get(reverse("team")).status_code == 403


def test_staff_without_a_partner_cannot_open_partner_pages(client):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(reverse("dashboard")).status_code == 403


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize(("role", "sees_accrual"), [("admin", True), ("finance", True), ("sales", False)])
def test_the_dashboard_shows_the_rebate_accrual_to_admin_and_finance_only(client, role, sees_accrual):
    member = MembershipFactory(role=role)
    client.force_login(member.user)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert ("accrual" in response.context) is sees_accrual
    assert (b"Rebate accrual" in response.content) is sees_accrual


def test_the_sales_dashboard_lists_what_to_act_on_for_its_own_partner_only(client):
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories.registrations import RegistrationFactory

    member = MembershipFactory(role="sales")
    today = timezone.localdate()
    RegistrationFactory(
        partner=member.partner, status="approved", approved_on=today - timedelta(days=80),
        protection_ends_on=today + timedelta(days=10),
    )  # fmt: skip
    RegistrationFactory(status="approved", approved_on=today, protection_ends_on=today + timedelta(days=5))
    client.force_login(member.user)
    actions = client.get(reverse("dashboard")).context["actions"]
    assert actions["expiring"]["count"] == 1
    assert actions["offers"]["count"] == 0
