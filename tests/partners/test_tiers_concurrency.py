"""Two tier evaluations at once (the nightly job and a staff re-evaluation) write one change, not two."""

import threading
from datetime import date

import pytest
from django.db import connections

from partners.models import TierHistory
from partners.tiers import engine
from tests.partners.test_tiers import gold_training, make_partner


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_evaluations_at_once_write_the_upgrade_once(require_postgresql):
    partner = make_partner()
    gold_training(partner)
    barrier, errors = threading.Barrier(2), []

    def evaluate():
        try:
            barrier.wait()
            engine.tier_evaluate(as_of=date(2017, 3, 1))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    upgrades = TierHistory.objects.filter(partner=partner, reason="upgrade")
    assert list(upgrades.values_list("to_tier__code", flat=True)) == ["gold"]
