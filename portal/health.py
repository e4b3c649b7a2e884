"""Health checks for the load balancer and for monitoring: liveness, readiness (database, broker) and jobs.

Readiness answers "can this web process serve?": the database answers and the broker accepts connections (or
tasks run in-process). The jobs check answers "is the background work moving?": the beat sweeper ran recently
(proof that beat, the broker and a worker all work), no recorded task waits undispatched, and how many job
claims and item failures wait for staff. Each check answers with counts and ages only, never partner data.
"""

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .celery import app
from .models import Heartbeat, JobItemFailure, JobRun, TaskOutbox

SWEEPER_HEARTBEAT = "task-outbox-dispatch"
# The sweeper runs every minute: three missed runs mean beat, the broker or every worker is down.
BEAT_STALE_AFTER = timedelta(minutes=3)
# A recorded task still undispatched after this long means the broker has been unreachable for minutes.
OUTBOX_STALE_AFTER = timedelta(minutes=10)


def heartbeat(name: str) -> None:
    """Record that periodic task ``name`` ran now."""
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})


def database_check() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True}


def broker_check() -> dict:
    if app.conf.task_always_eager:
        return {"ok": True, "mode": "in-process"}
    try:
        with app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True}


def readiness() -> dict:
    checks = {"database": database_check(), "broker": broker_check()}
    return {"ok": all(check["ok"] for check in checks.values()), "checks": checks}


def _age(moment) -> int | None:
    return None if moment is None else int((timezone.now() - moment).total_seconds())


def jobs_check() -> dict:
    """Beat freshness and the backlogs; ``ok`` is false when beat is stale or a task waits undispatched."""
    now = timezone.now()
    beat = Heartbeat.objects.filter(name=SWEEPER_HEARTBEAT).values_list("seen_at", flat=True).first()
    oldest_waiting = (
        TaskOutbox.objects.filter(dispatched_at=None).order_by("created_at").values_list("created_at", flat=True)
    ).first()
    in_process = app.conf.task_always_eager and not settings.PRODUCTION
    beat_ok = in_process or (beat is not None and now - beat <= BEAT_STALE_AFTER)
    outbox_ok = oldest_waiting is None or now - oldest_waiting <= OUTBOX_STALE_AFTER
    return {
        "ok": beat_ok and outbox_ok,
        "checks": {
            "beat": {"ok": beat_ok, "last_seen_seconds_ago": _age(beat)},
            "task_outbox": {"ok": outbox_ok, "oldest_undispatched_seconds": _age(oldest_waiting)},
        },
        "unfinished_job_runs": JobRun.objects.filter(finished_at=None).count(),
        "unresolved_item_failures": JobItemFailure.objects.filter(resolved_at=None).count(),
    }
