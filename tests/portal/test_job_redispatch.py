"""Job claims left unfinished (their worker died mid-job) are dispatched again by beat, on the date the job was
for, a bounded number of times; running claims and finished ones are left alone."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from partners.models import Certification, TierHistory
from partners.services import partner_status_match
from partners.tasks import tier_recompute_nightly
from portal.jobs import MAX_REDISPATCHES, job_claims_redispatch
from portal.models import JobRun, TaskOutbox
from tests.factories import CertificationRecordFactory, OrderFactory, OrderLineFactory, PartnerFactory, PersonFactory

pytestmark = pytest.mark.django_db
TASK = "partners.tasks.tier_recompute_nightly"


def gold_on_2017_03_01():
    """A partner exactly on the Gold training path of EMEA-1 in March 2017 (and nowhere near it today)."""
    partner = PartnerFactory(country="FR")
    partner_status_match(partner=partner)
    for product_line, amount in (("server", "690000.00"), ("services", "60000.00")):
        order = OrderFactory(partner=partner, booked_on=date(2017, 1, 15))
        OrderLineFactory(order=order, product_line=product_line, net_amount=Decimal(amount))
    for _n in range(4):
        CertificationRecordFactory(
            person=PersonFactory(partner=partner),
            certification=Certification.objects.get(code="TECH-SERVER"),
            earned_on=date(2016, 6, 1),
        )
    return partner


def dead_claim(period="2017-03-01", age=timedelta(minutes=10), **fields):
    """What a worker killed mid-job leaves: the claim row, its work rolled back."""
    run = JobRun.objects.create(
        name="tiers.recompute", period=period, task_name=TASK, task_kwargs={"as_of": period}, **fields
    )
    JobRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - age)
    return run


def test_a_claim_made_by_the_task_remembers_the_task_and_the_date_it_resolved(as_of_today):
    tier_recompute_nightly()  # as beat calls it: no date, meaning today
    run = JobRun.objects.get(name="tiers.recompute")
    assert run.period == as_of_today.isoformat() and run.finished_at is not None
    assert (run.task_name, run.task_kwargs) == (TASK, {"as_of": as_of_today.isoformat()})


def test_an_unfinished_claim_is_dispatched_again_for_its_own_date_and_then_left(django_capture_on_commit_callbacks):
    partner = gold_on_2017_03_01()
    run = dead_claim()
    with django_capture_on_commit_callbacks(execute=True):
        assert job_claims_redispatch() == 1
    run.refresh_from_db()
    assert (run.runs, run.redispatches) == (1, 1) and run.finished_at is not None
    upgrade = TierHistory.objects.get(partner=partner, reason="upgrade")
    assert (upgrade.to_tier.code, upgrade.effective_on) == ("gold", date(2017, 3, 1))  # not today's evaluation
    assert TaskOutbox.objects.get().key == f"jobrun:{run.pk}:1"
    with django_capture_on_commit_callbacks(execute=True):
        assert job_claims_redispatch() == 0  # finished now


def test_young_finished_and_untasked_claims_are_not_dispatched():
    dead_claim(period="2017-03-02", age=timedelta(seconds=5))  # may be between its creation and its lock
    dead_claim(period="2017-03-03", finished_at=timezone.now())
    JobRun.objects.create(name="tiers.recompute", period="2017-03-04")  # a command's claim: its operator re-runs
    JobRun.objects.filter(period="2017-03-04").update(created_at=timezone.now() - timedelta(hours=1))
    assert job_claims_redispatch() == 0
    assert not TaskOutbox.objects.exists()


def test_a_job_that_keeps_failing_is_redispatched_a_bounded_number_of_times():
    run = dead_claim()
    for _sweep in range(MAX_REDISPATCHES + 2):
        job_claims_redispatch()  # the dispatch (after commit) never runs here: the job keeps "dying"
    run.refresh_from_db()
    assert run.redispatches == MAX_REDISPATCHES
    assert TaskOutbox.objects.count() == MAX_REDISPATCHES
