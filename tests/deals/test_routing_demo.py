"""The routing demo: after ``seed_demo``, ``seed_demo_routing`` adds direct orders for every routing reason, and
running it again changes nothing."""

import pytest
from django.core.management import call_command

from deals.models import ChannelLock, RoutingCase, RoutingOffer
from demo.routing import seed_demo_routing


@pytest.mark.django_db
def test_demo_orders_exercise_every_reason_and_seeding_twice_changes_nothing():
    call_command("seed_demo", "--quiet-logins")

    seed_demo_routing()
    state = (
        sorted(RoutingOffer.objects.values_list("case__order__number", "partner__code", "status")),
        ChannelLock.objects.count(),
    )
    seed_demo_routing()

    cases = dict(RoutingCase.objects.filter(order__number__startswith="DEMO-RT").values_list("order__number", "reason"))
    assert cases == {
        "DEMO-RT0001": "locked",
        "DEMO-RT0002": "registration",
        "DEMO-RT0003": "under_ceiling",
        "DEMO-RT0004": "under_ceiling",
        "DEMO-RT0005": "not_routed",
    }
    assert RoutingOffer.objects.get(case__order__number="DEMO-RT0002").partner.code == "DEMO-DE1"
    assert (
        sorted(RoutingOffer.objects.values_list("case__order__number", "partner__code", "status")),
        ChannelLock.objects.count(),
    ) == state
