"""A job in chunks (``portal.chunks``): planned once, each chunk recorded and run once, the finish once after the
last chunk; a chunk that fails rolls back alone and a re-run does the rest; stalled chunks are queued again."""

from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone

from portal.chunks import (
    CHUNK_TASK,
    FINISH_TASK,
    ChunkedJob,
    chunk_name,
    chunk_ranges,
    chunk_run,
    chunked_run,
    chunks_finish,
    in_range,
    job_chunks_redispatch,
)
from portal.models import JobItemFailure, JobRun, TaskOutbox

pytestmark = pytest.mark.django_db

# The toy job records what each chunk did as a JobItemFailure row per item (any table would do).
FAIL_ON: set[int] = set()


def _plan(params):
    return [{"items": params["items"][i : i + 2]} for i in range(0, len(params["items"]), 2)]


def _chunk(params, chunk):
    for item in chunk["items"]:
        if item in FAIL_ON:
            raise DatabaseError(f"item {item}: the worker died")
        JobItemFailure.objects.create(
            job="toy", item=str(item), period=params["period"], error="", first_seen=timezone.now(),
            last_seen=timezone.now(),
        )  # fmt: skip
    return {"done": len(chunk["items"])}


def _finish(params, results):
    return {"done": sum(result["done"] for result in results), "chunks": len(results)}


TOY = ChunkedJob(name="toy", path="tests.portal.test_chunks.TOY", plan=_plan, chunk=_chunk, finish=_finish)


def done_items():
    return sorted(int(item) for item in JobItemFailure.objects.filter(job="toy").values_list("item", flat=True))


@pytest.fixture(autouse=True)
def _no_failures():
    FAIL_ON.clear()
    yield
    FAIL_ON.clear()


def test_ranges_cover_every_id_with_open_ends_and_respect_both_bounds():
    weights = [(3, 1), (5, 1), (8, 100), (9, 1), (12, 1), (20, 1)]
    assert chunk_ranges(weights, max_items=2, max_weight=1000) == [
        {"lo": None, "hi": 7},
        {"lo": 8, "hi": 11},
        {"lo": 12, "hi": None},
    ]
    # a heavy id starts a chunk of its own, and the next one after it
    assert chunk_ranges(weights, max_items=10, max_weight=50) == [
        {"lo": None, "hi": 7},
        {"lo": 8, "hi": 8},
        {"lo": 9, "hi": None},
    ]
    assert chunk_ranges([], max_items=5, max_weight=5) == [{"lo": None, "hi": None}]
    assert in_range(None, None) == {} and in_range(8, 11) == {"pk__gte": 8, "pk__lte": 11}


def test_in_process_every_chunk_runs_once_and_the_finish_once_after_them():
    params = {"items": [1, 2, 3, 4, 5], "period": "P1"}
    assert chunked_run(TOY, "P1", params, dispatch=False) == {"done": 5, "chunks": 3}
    parent = JobRun.objects.get(name="toy", period="P1")
    chunks = JobRun.objects.filter(parent=parent).order_by("period")
    assert [c.period for c in chunks] == ["P1#0000", "P1#0001", "P1#0002"]
    assert all(c.name == chunk_name("toy") and c.runs == 1 and c.finished_at for c in chunks)
    assert parent.runs == 1 and parent.finished_at >= max(c.finished_at for c in chunks)
    assert chunked_run(TOY, "P1", params, dispatch=False) is None  # once per period
    assert done_items() == [1, 2, 3, 4, 5]


def test_a_failing_chunk_rolls_back_alone_and_the_rerun_does_only_the_rest():
    params = {"items": [1, 2, 3, 4, 5], "period": "P2"}
    FAIL_ON.add(4)
    with pytest.raises(DatabaseError):
        chunked_run(TOY, "P2", params, dispatch=False)
    assert done_items() == [1, 2]  # chunk 0 committed; chunk 1 (items 3, 4) rolled back whole
    parent = JobRun.objects.get(name="toy", period="P2")
    assert parent.finished_at is None and chunks_finish(parent.pk) is None  # not every chunk is finished
    FAIL_ON.clear()
    assert chunked_run(TOY, "P2", params, dispatch=False) == {"done": 5, "chunks": 3}
    assert done_items() == [1, 2, 3, 4, 5]
    assert JobRun.objects.get(period="P2#0000").runs == 1  # not run again


def test_the_plan_is_fixed_when_made_and_a_forced_run_plans_again():
    chunked_run(TOY, "P3", {"items": [1, 2, 3], "period": "P3"}, dispatch=True)  # queued, not run (no commit)
    assert JobRun.objects.filter(name=chunk_name("toy")).count() == 2
    # a second start with other parameters uses the plan made first
    assert chunked_run(TOY, "P3", {"items": [7, 8, 9, 10, 11], "period": "P3"}, dispatch=False)["done"] == 3
    assert done_items() == [1, 2, 3]
    JobItemFailure.objects.all().delete()
    forced = chunked_run(TOY, "P3", {"items": [7], "period": "P3"}, dispatch=False, force=True)
    assert forced == {"done": 1, "chunks": 1} and done_items() == [7]


def test_dispatch_queues_each_chunk_once_and_the_last_chunk_queues_the_finish():
    params = {"items": [1, 2, 3], "period": "P4"}
    assert chunked_run(TOY, "P4", params, dispatch=True) == {"dispatched": 2, "chunks": 2}
    queued = TaskOutbox.objects.filter(name=CHUNK_TASK)
    assert queued.count() == 2
    first, last = (row.args[0] for row in queued.order_by("pk"))
    # started again (the next night, a manual re-run): queued anew, under new keys the outbox does not drop
    assert chunked_run(TOY, "P4", params, dispatch=True) == {"dispatched": 2, "chunks": 2}
    assert queued.count() == 4 and JobRun.objects.get(pk=first).redispatches == 1
    assert chunk_run(first) == {"done": 2} and not TaskOutbox.objects.filter(name=FINISH_TASK).exists()
    assert chunk_run(first) is None  # a redelivery: finished already
    assert chunk_run(last) == {"done": 1}
    finish = TaskOutbox.objects.get(name=FINISH_TASK)
    assert chunks_finish(finish.args[0]) == {"done": 3, "chunks": 2}
    assert chunks_finish(finish.args[0]) is None


def test_stalled_chunks_are_queued_again_and_a_lost_finish_too_but_not_a_job_making_progress():
    params = {"items": [1, 2, 3, 4, 5], "period": "P5"}
    chunked_run(TOY, "P5", params, dispatch=True)
    parent = JobRun.objects.get(name="toy", period="P5")
    ten_minutes_ago = timezone.now() - timedelta(minutes=10)
    JobRun.objects.filter(Q(pk=parent.pk) | Q(parent=parent)).update(created_at=ten_minutes_ago)
    first = JobRun.objects.get(period="P5#0000")
    chunk_run(first.pk)
    assert job_chunks_redispatch(older_than=timedelta(minutes=2)) == 0  # a chunk finished just now
    JobRun.objects.filter(pk=first.pk).update(finished_at=timezone.now() - timedelta(minutes=5))
    assert job_chunks_redispatch(older_than=timedelta(minutes=2)) == 2  # the two unfinished chunks
    keys = set(TaskOutbox.objects.filter(name=CHUNK_TASK).values_list("key", flat=True))
    assert {key for key in keys if key.endswith(":1")} == {
        f"jobchunk:{pk}:1" for pk in JobRun.objects.filter(parent=parent, finished_at=None).values_list("pk", flat=True)
    }
    for child in JobRun.objects.filter(parent=parent, finished_at=None):
        chunk_run(child.pk, finish=False)  # as if the finish they queue were lost
    assert job_chunks_redispatch(older_than=timedelta(minutes=2)) == 1
    assert TaskOutbox.objects.filter(name=FINISH_TASK, key__contains=":sweep:").count() == 1
    # that finish failed too: the next sweep queues it again, under a key of its own
    assert job_chunks_redispatch(older_than=timedelta(minutes=2)) == 1
    assert TaskOutbox.objects.filter(name=FINISH_TASK, key__contains=":sweep:").count() == 2
    chunks_finish(parent.pk)
    assert job_chunks_redispatch(older_than=timedelta(minutes=2)) == 0


def test_a_plan_made_just_now_is_not_swept_even_for_an_old_run():
    chunked_run(TOY, "P7", {"items": [1, 2], "period": "P7"}, dispatch=True)
    JobRun.objects.filter(name="toy", period="P7").update(created_at=timezone.now() - timedelta(hours=1))
    assert job_chunks_redispatch(older_than=timedelta(minutes=2)) == 0  # its chunks were planned just now


def test_staff_see_each_run_with_its_duration_and_chunks_finished(client):
    from django.urls import reverse

    from tests.factories import UserFactory

    chunked_run(TOY, "P6", {"items": [1, 2, 3], "period": "P6"}, dispatch=True)
    chunk_run(JobRun.objects.get(period="P6#0000").pk)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    listing = client.get(reverse("admin:portal_jobrun_changelist"), {"parent__isempty": "1"})
    page = listing.content.decode()
    assert listing.status_code == 200 and "1 / 2" in page and "P6#0000" not in page  # runs, not their chunks
    parent = JobRun.objects.get(name="toy", period="P6")
    assert "1 / 2" in client.get(reverse("admin:portal_jobrun_change", args=[parent.pk])).content.decode()
