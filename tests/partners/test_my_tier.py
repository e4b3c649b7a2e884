"""The "My tier" page and its staff twin in the admin: what a partner sees of its tier, and only its own."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from partners import selectors
from partners.models import (
    Certification,
    DellOnlyAttestation,
    Partner,
    Tier,
    TierHistory,
    TierRequirement,
    TitaniumBlackAward,
    Zone,
)
from partners.tiers import awards, overview
from tests.factories import (
    CertificationRecordFactory,
    MembershipFactory,
    OrderFactory,
    OrderLineFactory,
    PartnerFactory,
    PersonFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


def member(role="admin", legacy_dell="", **partner_kwargs):
    partner = PartnerFactory(legacy_dell_tier=legacy_dell, **partner_kwargs)
    return MembershipFactory(partner=partner, role=role)


def book(partner, amount, product_line="server", days_ago=10):
    order = OrderFactory(partner=partner, booked_on=today() - timedelta(days=days_ago))
    OrderLineFactory(order=order, product_line=product_line, net_amount=Decimal(amount))


def certify(partner, people):
    for _n in range(people):
        CertificationRecordFactory(
            person=PersonFactory(partner=partner),
            certification=Certification.objects.get(code="TECH-STORAGE"),
            earned_on=today() - timedelta(days=30),
        )


@pytest.mark.parametrize("role", ["admin", "sales", "finance"])
def test_every_partner_role_sees_my_tier_in_the_nav_and_opens_it(client, role):
    membership = member(role=role)
    client.force_login(membership.user)
    response = client.get(reverse("dashboard"))
    assert reverse("my_tier") in response.content.decode()
    assert client.get(reverse("my_tier")).status_code == 200


def test_the_page_shows_figures_with_and_without_the_multiplier_and_what_the_next_tier_misses(client):
    membership = member()
    partner = membership.partner
    book(partner, "600000.00")
    book(partner, "48000.00", product_line="services")
    certify(partner, 3)
    DellOnlyAttestation.objects.create(partner=partner, starts_on=today() - timedelta(days=100))
    client.force_login(membership.user)
    page = client.get(reverse("my_tier")).content.decode()
    assert "648,000.00" in page  # without 1.25X
    assert "810,000.00" in page  # with 1.25X
    assert "What Gold needs" in page
    assert 'data-path="training"' in page and 'data-path="revenue"' in page
    assert "1 missing" in page  # the training path needs 4 people, 3 are certified
    assert "4,190,000.00 missing" in page  # the revenue path: 5,000,000 − 810,000
    assert 'class="met"' in page


def test_an_at_risk_partner_sees_why_and_when_the_review_applies_it(client):
    membership = member(legacy_dell="premier")  # platinum by status match, no figures
    client.force_login(membership.user)
    page = client.get(reverse("my_tier")).content.decode()
    assert "At risk" in page
    assert "Keeping Platinum" in page
    assert "the annual review on" in page
    assert "What Titanium needs" in page


def test_titanium_black_validity_and_history_are_shown(client):
    membership = member(legacy_dell="premier_plus")
    partner = membership.partner
    awards.titanium_black_award(partner=partner, sponsor="VP EMEA", reason="strategic", awarded_on=today())
    client.force_login(membership.user)
    page = client.get(reverse("my_tier")).content.decode()
    assert "VP EMEA" in page
    assert "Titanium Black award" in page  # the history row
    assert "status match" in page
    assert "Titanium is the highest tier reached by figures" in page


def test_a_partner_sees_only_its_own_figures(client):
    a, b = member(), member()
    book(a.partner, "123457.89")
    book(b.partner, "987654.32")
    client.force_login(b.user)
    page = client.get(reverse("my_tier")).content.decode()
    assert "987,654.32" in page
    assert "123,457.89" not in page and a.partner.name not in page


def test_staff_without_a_partner_cannot_open_the_partner_page(client):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(reverse("my_tier")).status_code == 403


def test_the_page_is_a_bounded_number_of_queries(client):
    membership = member(legacy_dell="preferred")
    partner = membership.partner
    client.force_login(membership.user)
    client.get(reverse("my_tier"))  # warm the session and caches

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("my_tier")).status_code == 200
        return len(captured)

    small = count()
    for n in range(12):
        book(partner, "1000.00", days_ago=n + 1)
    certify(partner, 6)
    staff = UserFactory(is_staff=True)
    for n, code in enumerate(["platinum", "gold", "titanium", "platinum"]):
        awards.tier_override(
            partner=partner, tier=code, reason="test", effective_on=today() - timedelta(days=50 - n), changed_by=staff
        )
    assert count() == small
    # 16, the count of certifications pending verification, and the outlook: the months' revenue (one GROUP BY),
    # the figures and attestation on the review date (three), the program and the forecast's tier.
    assert small <= 24, small


# --- the admin ----------------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_staff_see_the_same_explanation_in_the_admin(staff_client):
    partner = member(legacy_dell="premier").partner
    change_page = staff_client.get(reverse("admin:partners_partner_change", args=[partner.pk])).content.decode()
    url = reverse("admin:partners_partner_tier", args=[partner.pk])
    assert url in change_page
    page = staff_client.get(url).content.decode()
    assert "Keeping Platinum" in page and "What Titanium needs" in page
    assert staff_client.get(url + "?as_of=2017-03-01").status_code == 200


def test_staff_award_and_revoke_titanium_black_and_override_from_the_admin(staff_client):
    partner = member(legacy_dell="premier_plus").partner
    award_url = reverse("admin:partners_partner_tier_operation", args=[partner.pk, "award"])
    response = staff_client.post(award_url, {"sponsor": "VP", "reason": "strategic", "awarded_on": "2017-03-01"})
    assert response.status_code == 302
    assert TitaniumBlackAward.objects.filter(partner=partner, sponsor="VP").exists()
    revoke_url = reverse("admin:partners_partner_tier_operation", args=[partner.pk, "revoke"])
    assert staff_client.post(revoke_url, {"revoked_on": "2017-04-01", "reason": "audit"}).status_code == 302
    assert selectors.partner_tier_on(partner, today()).code == "titanium"
    override_url = reverse("admin:partners_partner_tier_operation", args=[partner.pk, "override"])
    gold = Tier.objects.get(code="gold")
    refused = staff_client.post(override_url, {"tier": gold.pk, "effective_on": "2017-05-01", "reason": ""})
    assert refused.status_code == 200
    staff_client.post(override_url, {"tier": gold.pk, "effective_on": "2017-05-01", "reason": "breach"})
    assert TierHistory.objects.filter(partner=partner, reason="manual_override", note="breach").exists()


def test_an_award_the_rules_refuse_is_shown_as_an_error(staff_client):
    partner = member().partner  # authorized
    url = reverse("admin:partners_partner_tier_operation", args=[partner.pk, "award"])
    response = staff_client.post(url, {"sponsor": "VP", "reason": "r", "awarded_on": "2017-03-01"})
    assert response.status_code == 200
    assert "Titanium partners only" in response.content.decode()
    assert not TitaniumBlackAward.objects.exists()


def test_staff_download_the_tier_export(staff_client):
    partner = member(legacy_dell="preferred", code="EXP1").partner
    response = staff_client.get(reverse("admin:partners_partner_tier_export") + "?as_of=2017-03-01")
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == ",".join(overview.EXPORT_HEADER)
    assert lines[1] == "EXP1,gold,authorized,true,0.00,0.00,0,0"
    action = staff_client.post(
        reverse("admin:partners_partner_changelist"),
        {"action": "download_tier_export", "_selected_action": [partner.pk]},
    )
    assert action.content.decode().splitlines()[1].startswith("EXP1,gold,")


def test_staff_evaluate_selected_partners_from_the_admin(staff_client):
    partner = member().partner
    staff_client.post(
        reverse("admin:partners_partner_changelist"),
        {"action": "evaluate_tiers_today", "_selected_action": [partner.pk]},
    )
    assert Partner.objects.get(pk=partner.pk).evaluated_on == today()


@pytest.mark.parametrize(
    "values, error",
    [
        ({"min_revenue": "-1"}, "cannot be negative"),
        (
            {"min_revenue": "0", "min_services_revenue": "0", "min_certified_people": "0", "min_competencies": "0"},
            "every partner",
        ),
    ],
)
def test_tier_requirements_are_validated_in_the_admin(staff_client, values, error):
    data = {
        "zone": Zone.objects.get(code="EMEA-1").pk,
        "tier": Tier.objects.get(code="gold").pk,
        "path": "special",
        "min_revenue": "1000",
        "min_services_revenue": "0",
        "min_certified_people": "1",
        "min_competencies": "0",
        **values,
    }
    response = staff_client.post(reverse("admin:partners_tierrequirement_add"), data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not TierRequirement.objects.filter(path="special").exists()
