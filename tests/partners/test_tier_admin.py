"""The tier ladder in the admin: staff edit a tier's numbers, never its code, rank or overlay flag."""

from decimal import Decimal

import pytest
from django.urls import reverse

from partners.models import Tier
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_a_tier_change_keeps_code_rank_and_overlay_and_saves_the_numbers(client, staff):
    gold = Tier.objects.get(code="gold")
    url = reverse("admin:partners_tier_change", args=[gold.pk])
    form = {
        "code": "platinum",
        "name": "Gold",
        "rank": "9",
        "is_overlay": "on",
        "routing_weight": "3",
        "auto_approval_limit": "60000.00",
        "protection_days": "100",
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content
    gold.refresh_from_db()
    assert (gold.code, gold.rank, gold.is_overlay) == ("gold", 2, False)
    assert (gold.routing_weight, gold.auto_approval_limit, gold.protection_days) == (3, Decimal("60000.00"), 100)


def test_tiers_cannot_be_added_or_deleted(client, staff):
    gold = Tier.objects.get(code="gold")
    assert client.get(reverse("admin:partners_tier_add")).status_code == 403
    assert client.get(reverse("admin:partners_tier_delete", args=[gold.pk])).status_code == 403
