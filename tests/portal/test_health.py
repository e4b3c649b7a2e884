"""Health endpoints: liveness without the database, readiness on the database and a real broker, and the jobs
check that turns red when beat's sweeper stops running or a recorded task waits undispatched."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.health import SWEEPER_HEARTBEAT
from portal.models import Heartbeat, TaskOutbox
from portal.tasks import task_outbox_dispatch
from tests.conftest import _free_port

pytestmark = pytest.mark.django_db


def test_liveness_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(reverse("health_live"))
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert "no-cache" in response["Cache-Control"]


def test_readiness_in_process_mode_needs_only_the_database(client):
    response = client.get(reverse("health_ready"))
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": {"ok": True}, "broker": {"ok": True, "mode": "in-process"}}


def test_readiness_is_503_while_the_broker_is_unreachable_and_200_once_it_answers(client, broker_at, redis_server):
    broker_at(f"redis://127.0.0.1:{_free_port()}/0")  # nothing listens there
    down = client.get(reverse("health_ready"))
    assert down.status_code == 503
    assert down.json()["checks"]["broker"]["ok"] is False and down.json()["checks"]["database"] == {"ok": True}
    broker_at(redis_server.url)
    up = client.get(reverse("health_ready"))
    assert up.status_code == 200 and up.json()["checks"]["broker"] == {"ok": True}


def test_the_jobs_check_follows_the_sweeper_heartbeat(client, broker_at, redis_server):
    broker_at(redis_server.url)  # tasks go to a broker: beat and workers must be alive
    never = client.get(reverse("health_jobs"))
    assert never.status_code == 503 and never.json()["checks"]["beat"] == {"ok": False, "last_seen_seconds_ago": None}

    task_outbox_dispatch()  # what beat runs every minute, on a worker
    fresh = client.get(reverse("health_jobs"))
    assert fresh.status_code == 200 and fresh.json()["checks"]["beat"]["last_seen_seconds_ago"] < 60

    Heartbeat.objects.filter(name=SWEEPER_HEARTBEAT).update(seen_at=timezone.now() - timedelta(minutes=4))
    stale = client.get(reverse("health_jobs"))
    assert stale.status_code == 503 and stale.json()["checks"]["beat"]["last_seen_seconds_ago"] >= 240


def test_the_jobs_check_is_503_when_a_recorded_task_waits_undispatched_for_minutes(client):
    task_outbox_dispatch()
    row = TaskOutbox.objects.create(name="portal.tasks.task_outbox_dispatch", key="health-test")
    assert client.get(reverse("health_jobs")).status_code == 200  # just recorded: the sweeper has time
    TaskOutbox.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(minutes=11))
    waiting = client.get(reverse("health_jobs"))
    assert waiting.status_code == 503
    outbox = waiting.json()["checks"]["task_outbox"]
    assert outbox["ok"] is False and 660 <= outbox["oldest_undispatched_seconds"] < 700


def test_the_checks_show_no_partner_data(client):
    from tests.factories import PartnerFactory

    PartnerFactory(code="SECRET-P1", name="Hidden Reseller SAS")
    for name in ("health_live", "health_ready", "health_jobs"):
        body = client.get(reverse(name)).content.decode()
        assert "SECRET-P1" not in body and "Hidden Reseller" not in body
