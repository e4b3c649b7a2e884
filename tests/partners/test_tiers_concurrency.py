"""Two tier evaluations at once (the nightly job and a staff re-evaluation) write one change, not two."""

import threading
from datetime import date

import pytest
from django.db import connection, connections

from partners.models import TierHistory
from partners.tiers import engine
from portal.models import JobRun
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


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_chunks_of_two_days_running_at_once_write_the_upgrade_once(require_postgresql, redis_server, broker_at):
    """The chunks of a replay of one day and of the nightly run of the next, on two workers at once: each chunk
    holds its partners' rows, so the later day evaluates after the earlier one committed, and sees its upgrade.
    (Without the row locks both evaluate the same snapshot and both write an upgrade.)"""
    from portal.chunks import chunk_run
    from tests.portal.test_worker_faults import other_connection, wait_until

    broker_at(redis_server.url)  # the chunks are queued where no worker listens: this test runs them
    partner = make_partner()
    gold_training(partner)
    days = [date(2017, 3, 1), date(2017, 3, 2)]
    for day in days:
        engine.tier_recompute_all(as_of=day, dispatch=True)
    chunks = {
        day: JobRun.objects.get(parent__name=engine.RECOMPUTE_JOB, parent__period=day.isoformat()).pk for day in days
    }
    errors = []

    def run(day):
        try:
            chunk_run(chunks[day], finish=False)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    def waiting() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return cursor.fetchone()[0]

    threads = [threading.Thread(target=run, args=[day]) for day in days]
    with other_connection() as blocker:
        blocker.execute("SELECT id FROM partners_partner WHERE id = %s FOR UPDATE", [partner.pk])
        threads[0].start()
        wait_until(lambda: waiting() == 1, what="the first day's chunk to wait on the partner")
        threads[1].start()
        wait_until(lambda: waiting() == 2, what="the second day's chunk to wait too")
        blocker.rollback()
    for thread in threads:
        thread.join()
    assert errors == []
    upgrades = TierHistory.objects.filter(partner=partner, reason="upgrade")
    assert list(upgrades.values_list("effective_on", flat=True)) == [date(2017, 3, 1)]
