"""The whole-population read of "the tier of a partner on a date" (one windowed query) answers what the one rule,
``calculations.tier_on`` over each partner's timeline, answers: on random histories with several changes on the
same day, for every partner, on every day around the changes."""

from datetime import date, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partners.models import Tier, TierHistory
from partners.selectors import partners_tier_on, tier_ids_on, tier_ids_on_day
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db
START = date(2017, 2, 1)
changes = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 6), st.sampled_from(["gold", "platinum", "titanium", "authorized"])),
    max_size=10,
)


@pytest.fixture
def partners():
    return [PartnerFactory(), PartnerFactory(), PartnerFactory()]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=changes, day=st.integers(-1, 7))
def test_the_windowed_read_equals_the_timeline_rule(partners, changes, day):
    tiers = {tier.code: tier for tier in Tier.objects.all()}
    with transaction.atomic():
        TierHistory.objects.filter(partner__in=partners).delete()
        for index, offset, code in changes:
            TierHistory.objects.create(
                partner=partners[index],
                to_tier=tiers[code],
                effective_on=START + timedelta(days=offset),
                reason="upgrade",
            )
        on = START + timedelta(days=day)
        ids = [partner.pk for partner in partners]
        authorized = tiers["authorized"].pk

        expected = {pid: tier_id for (pid, _day), tier_id in tier_ids_on([(pid, on) for pid in ids]).items()}
        everyone = tier_ids_on_day(on, authorized_id=authorized)

        assert tier_ids_on_day(on, partner_ids=ids, authorized_id=authorized) == expected
        assert {pid: everyone.get(pid, authorized) for pid in ids} == expected
        assert {pid: tier.pk for pid, tier in partners_tier_on(ids, on).items()} == expected
        transaction.set_rollback(True)
