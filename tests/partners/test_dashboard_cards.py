"""The role cards of the dashboard (issue 12): what each role acts on, with a link to the page that acts on it,
and never another partner's figures."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from partners.models import Certification, CertificationRecord
from rebates.models import Statement
from tests.factories import CertificationRecordFactory, MembershipFactory, PersonFactory
from tests.factories.registrations import RegistrationFactory

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


def dashboard(client, membership):
    client.force_login(membership.user)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    return response, response.content.decode()


def statement(partner, quarter, issued_on, status="issued", total="1234.50", paid_on=None):
    return Statement.objects.create(
        number=f"RS-{quarter}-{partner.code}", partner=partner, quarter=quarter, status=status,
        issued_on=issued_on, total=Decimal(total), paid_on=paid_on, payment_reference="PAY-1" if paid_on else "",
    )  # fmt: skip


def certification(partner, expires_in=None, status=CertificationRecord.Status.VERIFIED):
    return CertificationRecordFactory(
        person=PersonFactory(partner=partner), certification=Certification.objects.get(code="TECH-SERVER"),
        earned_on=today() - timedelta(days=700), expires_on=today() + timedelta(days=expires_in or 400), status=status,
    )  # fmt: skip


def test_sales_see_protections_ending_extension_windows_and_routed_offers_not_rebates(client):
    member = MembershipFactory(role="sales")
    # In the extension window, none asked: counts; one ending in 45 days: outside both.
    RegistrationFactory(partner=member.partner, status="approved", approved_on=today() - timedelta(days=70),
                        protection_ends_on=today() + timedelta(days=20))  # fmt: skip
    RegistrationFactory(partner=member.partner, status="approved", approved_on=today() - timedelta(days=45),
                        protection_ends_on=today() + timedelta(days=45))  # fmt: skip
    other = MembershipFactory(role="sales")
    RegistrationFactory(partner=other.partner, status="approved", approved_on=today() - timedelta(days=70),
                        protection_ends_on=today() + timedelta(days=10))  # fmt: skip
    response, page = dashboard(client, member)
    actions = response.context["actions"]
    assert (actions["expiring"]["count"], actions["extension_open"]) == (1, 1)
    assert "Extension windows open" in page
    assert reverse("deals:registration_list") + "?expiring_soon=true" in page
    assert "latest_statement" not in response.context and "certifications" not in response.context
    assert "Partner</div>" not in page and "Your role" not in page  # the old code and role cards are gone


def test_finance_see_the_latest_statement_with_its_download_and_payment_status(client):
    member = MembershipFactory(role="finance")
    statement(member.partner, "FY2026-Q3", today() - timedelta(days=200), status="paid",
              paid_on=today() - timedelta(days=150))  # fmt: skip
    latest = statement(member.partner, "FY2026-Q4", today() - timedelta(days=100))
    other = MembershipFactory(role="finance")
    statement(other.partner, "FY2027-Q1", today() - timedelta(days=5), total="999999.99")
    response, page = dashboard(client, member)
    assert response.context["latest_statement"] == latest
    assert reverse("rebates:statement_pdf", args=[latest.number]) in page
    assert "Awaiting payment" in page and "1,234.50\u00a0USD" in page
    assert "999,999.99" not in page and other.partner.code not in page
    assert "actions" not in response.context


def test_a_paid_statement_says_when_it_was_paid(client):
    member = MembershipFactory(role="finance")
    statement(member.partner, "FY2026-Q4", today() - timedelta(days=100), status="paid",
              paid_on=today() - timedelta(days=60))  # fmt: skip
    _response, page = dashboard(client, member)
    assert "Paid" in page and "Awaiting payment" not in page


def test_admins_see_certifications_expiring_within_60_days_and_pending_ones_and_every_roles_cards(client):
    member = MembershipFactory(role="admin")
    certification(member.partner, expires_in=30)
    certification(member.partner, expires_in=59)
    certification(member.partner, expires_in=61)  # not yet
    certification(member.partner, status=CertificationRecord.Status.PENDING)
    other = MembershipFactory(role="admin")
    certification(other.partner, expires_in=10)
    certification(other.partner, status=CertificationRecord.Status.PENDING)
    response, page = dashboard(client, member)
    cards = response.context["certifications"]
    assert (cards["expiring"], cards["pending"]) == (2, 1)
    assert cards["first_expiry"] == today() + timedelta(days=30)
    assert reverse("people") in page
    # An admin holds every role of its partner: the sales and finance cards too.
    assert {"actions", "accrual", "latest_statement", "outlook"} <= set(response.context.keys())


@pytest.mark.parametrize("role", ["admin", "sales", "finance"])
def test_every_role_sees_the_tier_outlook_linking_to_my_tier(client, role):
    response, page = dashboard(client, MembershipFactory(role=role))
    assert 'id="tier-outlook"' in page and reverse("my_tier") in page and "At this pace you" in page
