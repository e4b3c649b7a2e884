import pytest

from portal.jobs import job_run_once
from portal.models import JobRun

pytestmark = pytest.mark.django_db


def test_a_job_runs_once_per_period():
    calls = []
    first = job_run_once("demo", "2017-02-01", lambda: calls.append(1) or {"n": len(calls)})
    second = job_run_once("demo", "2017-02-01", lambda: calls.append(1) or {"n": len(calls)})
    assert first == {"n": 1}
    assert second is None
    assert len(calls) == 1
    assert JobRun.objects.get(name="demo", period="2017-02-01").runs == 1


def test_another_period_runs_again_and_force_reruns():
    calls = []
    job_run_once("demo", "2017-02-01", lambda: calls.append(1))
    job_run_once("demo", "2017-02-02", lambda: calls.append(1))
    job_run_once("demo", "2017-02-02", lambda: calls.append(1), force=True)
    assert len(calls) == 3
    assert JobRun.objects.get(name="demo", period="2017-02-02").runs == 2


def test_a_job_that_dies_half_way_leaves_nothing_and_can_be_rerun():
    from portal.models import Program

    def dies():
        Program.objects.update(name="half-done")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        job_run_once("demo", "q", dies)
    assert Program.current().name != "half-done"
    assert JobRun.objects.get(name="demo", period="q").finished_at is None
    assert job_run_once("demo", "q", lambda: {"ok": True}) == {"ok": True}
