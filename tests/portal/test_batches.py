"""Per-item isolation of nightly jobs (``portal.batches``): a failing item is rolled back alone, with the caller's
memory, recorded with its error, shown to staff on the job run, and resolved by the run that processes it."""

import pytest
from django.db import OperationalError, transaction
from django.urls import reverse

from portal.batches import failures_pending, run_isolated
from portal.jobs import job_run_once
from portal.models import JobItemFailure, JobRun, Program
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def run(items, *, bad, counter):
    def process(batch):
        for item in batch:
            counter["done"] += 1  # memory changed before the failure must be put back with the savepoint
            if item in bad:
                raise ValueError(f"bad item {item}")
        Program.objects.update(name=f"{Program.current().name}+{'/'.join(map(str, batch))}")
        return len(batch)

    def checkpoint():
        saved = dict(counter)
        return lambda: counter.update(saved)

    with transaction.atomic():
        return run_isolated(
            job="demo",
            period="p1",
            batches=[items[:3], items[3:]],
            process=process,
            key=lambda item: f"item {item}",
            checkpoint=checkpoint,
        )


def test_the_good_items_of_a_failed_batch_go_through_one_by_one_and_memory_follows_the_rollback():
    Program.current()
    counter = {"done": 0}

    outcome = run([1, 2, 3, 4, 5], bad={2}, counter=counter)

    assert outcome.failed == ["item 2"]
    assert sum(outcome.results) == 4
    assert counter["done"] == 4  # the failed batch's work and the failed item's were undone
    assert Program.current().name.endswith("+1+3+4/5")
    recorded = JobItemFailure.objects.get(job="demo")
    assert (recorded.item, recorded.period, recorded.attempts) == ("item 2", "p1", 1)
    assert recorded.error == "ValueError: bad item 2"


def test_a_failure_seen_again_is_counted_and_the_run_that_processes_it_resolves_it():
    Program.current()
    run([1, 2], bad={2}, counter={"done": 0})
    run([2], bad={2}, counter={"done": 0})
    assert JobItemFailure.objects.get(job="demo").attempts == 2
    assert failures_pending("demo")

    run([2], bad=set(), counter={"done": 0})

    assert JobItemFailure.objects.get(job="demo").resolved_at is not None
    assert not failures_pending("demo")


def test_a_database_outage_is_not_an_items_fault_and_stops_the_job():
    def process(batch):
        raise OperationalError("server closed the connection")

    with pytest.raises(OperationalError), transaction.atomic():
        run_isolated(job="demo", period="p1", batches=[[1]], process=process, key=str)
    assert not JobItemFailure.objects.exists()


def test_staff_see_the_failures_in_the_admin_and_on_the_job_run(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    def work():
        with transaction.atomic():
            outcome = run_isolated(
                job="demo", period="p1", batches=[[1, 2]], process=lambda b: 1 / (2 - b[-1]), key=str
            )
        return {"failed_items": len(outcome.failed)}

    job_run_once("demo", "p1", work)

    listing = client.get(reverse("admin:portal_jobitemfailure_changelist"))
    run_page = client.get(reverse("admin:portal_jobrun_change", args=[JobRun.objects.get(name="demo").pk]))

    assert listing.status_code == 200 and "ZeroDivisionError" in listing.content.decode()
    assert run_page.status_code == 200 and "ZeroDivisionError: division by zero" in run_page.content.decode()
