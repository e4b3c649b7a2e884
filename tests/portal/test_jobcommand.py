"""The dated job commands share one body (portal.jobcommand): --as-of parsed strictly, once per date, --force."""

import io

import pytest
from django.core.management import CommandError, call_command, load_command_class

from portal.jobcommand import DatedJobCommand
from portal.models import JobRun

pytestmark = pytest.mark.django_db
JOBS = {
    "recompute_tiers": "partners",
    "apply_channel_locks": "deals",
    "route_direct_orders": "deals",
    "expire_registrations": "deals",
}


@pytest.mark.parametrize("name", sorted(JOBS))
def test_each_dated_job_runs_once_per_date_and_force_reruns_it(name):
    assert isinstance(load_command_class(JOBS[name], name), DatedJobCommand)
    outputs = []
    for extra in ([], [], ["--force"]):
        out = io.StringIO()
        call_command(name, "--as-of", "2017-03-01", *extra, stdout=out)
        outputs.append(out.getvalue())
    assert "2017-03-01" in outputs[0] and "nothing done" not in outputs[0]
    assert outputs[1].endswith("2017-03-01; nothing done (use --force).\n")
    assert outputs[2] == outputs[0]  # the same result again
    assert JobRun.objects.get(parent=None).runs == 2  # chunked jobs: their run, not its chunks


@pytest.mark.parametrize("name", sorted(JOBS))
def test_a_bad_as_of_date_is_a_clear_error_and_claims_nothing(name):
    with pytest.raises(CommandError, match="--as-of: .*not a date in YYYY-MM-DD form"):
        call_command(name, "--as-of", "01/03/2017")
    assert not JobRun.objects.exists()
