"""Real processes, real faults: a whole worker killed with SIGKILL mid-task; the broker's redelivery (a visibility
timeout of minutes) or beat's re-dispatch of the job claim finishes the work, and the result equals a clean run."""

import time
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest
from django.db import connection

from partners.models import Certification, TierHistory
from partners.services import partner_status_match
from portal.chunks import job_chunks_redispatch
from portal.jobs import job_claims_redispatch
from portal.models import JobRun, OutboxEmail
from portal.outbox import task_enqueue, tasks_dispatch_pending
from rebates import services
from rebates.models import QuarterClose, RebateLine, Statement, StatementDocument
from tests.factories import (
    CertificationRecordFactory,
    MembershipFactory,
    OrderFactory,
    OrderLineFactory,
    PartnerFactory,
    PersonFactory,
)
from tests.factories import rebates as f

pytestmark = pytest.mark.services
Q1 = services.Quarter.parse("FY2018-Q1")
# The second worker restores messages unacknowledged for 5 s, checking every 2 s (production: minutes).
QUICK_REDELIVERY = {"CELERY_VISIBILITY_TIMEOUT": "5", "CELERY_UNACKED_RESTORE_INTERVAL": "1"}


@contextmanager
def other_connection():
    """A second PostgreSQL session of the test, to hold a lock the worker will wait for."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"],
        dbname=db["NAME"], autocommit=False,
    ) as session:  # fmt: skip
        yield session


def wait_until(condition, timeout=90, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def waiting_on_a_lock() -> bool:
    """Is some session of the test database (the worker's) waiting for a lock the test holds?"""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def statement_emails():
    return OutboxEmail.objects.filter(key__startswith="statement:")


def test_a_worker_killed_mid_statements_email_is_redelivered_and_each_statement_is_emailed_once(
    redis_server, broker_at, worker_factory, smtp_server, settings
):
    broker_at(redis_server.url)
    partners = [f.partner(f"P{n:05d}", tier="gold") for n in range(1, 5)]
    recipients = {}
    for partner in partners:
        f.order(partner=partner, customer=f.customer(), booked_on=date(2017, 2, 10), lines=[("server", "10000.00")])
        recipients[partner.pk] = MembershipFactory(partner=partner, role="admin").user
    mail_env = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(settings.EMAIL_PORT)}
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))  # commits; statements_email goes to the broker
    last = Statement.objects.order_by("pk").last()
    with other_connection() as blocker:
        # The worker emails statements in pk order; it will wait on the last one's email key, held here.
        blocker.execute(
            'INSERT INTO portal_outboxemail (key, "to", subject, body, html_body, attachment_name, '
            "attachment_content_type, status, attempts, last_error, created_at) "
            "VALUES (%s, '[]', 'held', '', '', '', '', 'pending', 0, '', now())",
            [f"statement:{last.pk}:user:{recipients[last.partner_id].pk}"],
        )
        first = worker_factory(broker=redis_server.url, env=mail_env)
        wait_until(lambda: statement_emails().count() == len(partners) - 1, what="the first statements' emails")
        wait_until(waiting_on_a_lock, what="the worker to wait on the held key, mid-task")
        first.kill()
        killed_at = time.monotonic()
        blocker.rollback()
    assert statement_emails().count() == len(partners) - 1  # the last statement's email was lost with the worker

    worker_factory(broker=redis_server.url, env={**mail_env, **QUICK_REDELIVERY})
    wait_until(lambda: statement_emails().count() == len(partners), what="the redelivered statements_email")
    redelivered_after = time.monotonic() - killed_at
    print(f"statements_email redelivered {redelivered_after:.1f} s after the kill")
    wait_until(lambda: not statement_emails().exclude(status="sent").exists(), what="the emails to be sent")

    # Completeness: every issued statement has exactly one email per recipient, and each went out once.
    expected = sorted(f"statement:{s.pk}:user:{recipients[s.partner_id].pk}" for s in Statement.objects.all())
    assert sorted(statement_emails().values_list("key", flat=True)) == expected
    assert statement_emails().filter(attempts=1).count() == len(partners)
    sent_to = sorted(message["To"] for message in smtp_server if "RS-FY2018-Q1" in message["Subject"])
    assert sent_to == sorted(user.email for user in recipients.values())
    assert services.statements_email_missing() == 0
    assert redelivered_after < 60, redelivered_after  # seconds here; minutes with the production settings


def gold_on_2017_03_01():
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


def test_a_worker_killed_mid_tier_recompute_leaves_a_claim_that_beat_dispatches_again_for_the_same_day(
    redis_server, broker_at, worker_factory
):
    broker_at(redis_server.url)
    partners = [gold_on_2017_03_01() for _n in range(3)]
    with other_connection() as blocker:
        # The evaluation takes this advisory lock (portal.jobs.exclusive) after claiming the day: hold it.
        blocker.execute("SELECT pg_advisory_xact_lock(hashtext('tiers.evaluate'))")
        first = worker_factory(broker=redis_server.url)  # production visibility timeout: no quick redelivery
        task_enqueue("partners.tasks.tier_recompute_nightly", kwargs={"as_of": "2017-03-01"})
        tasks_dispatch_pending(older_than=timedelta(0))
        wait_until(waiting_on_a_lock, what="the evaluation to wait on the held lock, its day claimed")
        first.kill()
        blocker.rollback()
    run = JobRun.objects.get(name="tiers.recompute")
    assert run.finished_at is None and not TierHistory.objects.filter(reason="upgrade").exists()

    worker_factory(broker=redis_server.url)
    JobRun.objects.filter(pk=run.pk).update(created_at=run.created_at - timedelta(minutes=5))  # as beat sees it later
    assert job_claims_redispatch() == 1  # what beat does every 5 minutes
    assert tasks_dispatch_pending(older_than=timedelta(0)) <= 1  # sent after commit already, or now
    wait_until(lambda: JobRun.objects.filter(pk=run.pk, finished_at__isnull=False).exists(), what="the re-run")

    run.refresh_from_db()
    assert (run.runs, run.redispatches, run.result["changes"]) == (1, 1, len(partners))
    upgrades = TierHistory.objects.filter(reason="upgrade")
    assert sorted(upgrades.values_list("partner_id", "to_tier__code", "effective_on")) == sorted(
        (partner.pk, "gold", date(2017, 3, 1)) for partner in partners
    )  # as a clean run on 2017-03-01: each partner upgraded once, on that day
    assert job_claims_redispatch() == 0


def test_a_worker_killed_mid_quarter_close_is_redelivered_and_the_statements_equal_a_clean_run(
    redis_server, broker_at, worker_factory
):
    broker_at(redis_server.url)
    admins = {}
    for n in range(1, 4):  # Gold and attested: base 200 + new business 800 + uplift 250 on a 10,000 server line
        partner = f.partner(f"P{n:05d}", tier="gold", attested_on=date(2016, 6, 1))
        f.order(partner=partner, customer=f.customer(), booked_on=date(2017, 2, 10), lines=[("server", "10000.00")])
        admins[partner.pk] = MembershipFactory(partner=partner, role="admin").user
    with other_connection() as blocker:
        # The close writes its chunks' lines and statements, then its finish records the quarter as closed: hold
        # that last row.
        blocker.execute(
            "INSERT INTO rebates_quarterclose (quarter, closed_on, closed_at, statements, rebate_lines, total) "
            "VALUES ('FY2018-Q1', '2017-05-06', now(), 0, 0, 0)"
        )
        first = worker_factory(broker=redis_server.url)
        task_enqueue("rebates.tasks.quarter_close_due", kwargs={"as_of": "2017-05-06"})
        tasks_dispatch_pending(older_than=timedelta(0))
        wait_until(waiting_on_a_lock, what="the close to wait on the held row, its lines written")
        first.kill()
        killed_at = time.monotonic()
        blocker.rollback()
    # The killed close issued nothing: its finished chunk's statements are still closing, seen by nobody.
    assert not Statement.objects.exists() and Statement.in_close.filter(status="closing").count() == 3
    assert JobRun.objects.get(name="rebates.close_quarter").finished_at is None

    worker_factory(broker=redis_server.url, env=QUICK_REDELIVERY)
    wait_until(lambda: QuarterClose.objects.exists(), what="the redelivered close")
    redelivered_after = time.monotonic() - killed_at
    wait_until(lambda: statement_emails().filter(status="sent").count() == len(admins), what="the statement emails")

    close = QuarterClose.objects.get()
    assert (close.statements, close.rebate_lines, close.total) == (3, 9, Decimal("3750.00"))
    assert JobRun.objects.get(name="rebates.close_quarter").runs == 1
    for statement in Statement.objects.all():  # completeness: each line exactly its components, once
        components = sorted(statement.lines.values_list("component", "amount"))
        assert components == [
            ("base", Decimal("200.00")),
            ("exclusivity_uplift", Decimal("250.00")),
            ("new_business", Decimal("800.00")),
        ]
        assert statement.total == Decimal("1250.00") and statement.line_count == 3
    expected = sorted(f"statement:{s.pk}:user:{admins[s.partner_id].pk}" for s in Statement.objects.all())
    assert sorted(statement_emails().values_list("key", flat=True)) == expected
    assert redelivered_after < 60, redelivered_after


def close_snapshot():
    """A close's result by statement number: the statements and every rebate line, pks aside."""
    statements = sorted(
        Statement.objects.values_list("number", "partner_id", "status", "issued_on", "total", "line_count")
    )
    lines = sorted(
        RebateLine.objects.values_list(
            "statement__number", "order_line_id", "component", "tier_id", "net_amount", "rate", "amount",
            "is_adjustment",
        )
    )  # fmt: skip
    close = QuarterClose.objects.values_list("quarter", "closed_on", "statements", "rebate_lines", "total").get()
    return statements, lines, close


def backend_waiting_on_a_lock() -> str | None:
    """The application name (the worker) of the session waiting for a lock the test holds, if any."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT application_name FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        row = cursor.fetchone()
    return row[0] if row else None


def test_a_close_spread_over_two_workers_with_one_killed_mid_chunk_ends_identical_to_one_process(
    redis_server, broker_at, worker_factory, settings
):
    broker_at(redis_server.url)
    settings.REBATES_CLOSE_CHUNK_PARTNERS = 2
    partners = []
    for n in range(1, 9):  # gold or titanium, some attested, some with a credit: every component family
        attested = date(2016, 6, 1) if n % 3 == 0 else None
        partner = f.partner(f"P{n:05d}", tier="gold" if n % 2 else "titanium", attested_on=attested)
        customer = f.customer()
        lines = [("server", "10000.00"), ("services", "2500.50")]
        order = f.order(partner=partner, customer=customer, booked_on=date(2017, 2, 10), lines=lines)
        if n % 4 == 0:
            credit = [("server", "-1250.25")]
            f.order(partner=partner, customer=customer, booked_on=date(2017, 3, 20), lines=credit, credits=order)
        f.order(partner=partner, customer=f.customer(), booked_on=date(2017, 4, 28), lines=[("hci", "777.77")])
        partners.append(partner)
    held = partners[2]  # in the second chunk (P00003, P00004)
    with other_connection() as blocker:
        # The chunk inserts its partners' statements first: hold one's number, so the chunk waits mid-way.
        blocker.execute(
            "INSERT INTO rebates_statement (number, partner_id, quarter, status, issued_on, total, line_count, "
            "payment_reference, created_at) VALUES (%s, %s, 'FY2018-Q1', 'closing', '2017-05-06', 0, 0, '', now())",
            [f"RS-FY2018-Q1-{held.code}", held.pk],
        )
        workers = {
            name: worker_factory(broker=redis_server.url, env={"PGAPPNAME": name}) for name in ("worker-a", "worker-b")
        }
        assert services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6), dispatch=True)["dispatched"] == 4
        wait_until(backend_waiting_on_a_lock, what="a worker to wait on the held statement, mid-chunk")
        killed = backend_waiting_on_a_lock()
        workers.pop(killed).kill()
        blocker.rollback()
    survivor = next(iter(workers.values()))
    parent = JobRun.objects.get(name=services.CLOSE_JOB, period="FY2018-Q1")
    chunks = JobRun.objects.filter(parent=parent)
    wait_until(lambda: chunks.filter(finished_at__isnull=False).count() == 3, what="the survivor to do the rest")
    assert not Statement.objects.exists()  # nothing issued while a chunk is missing
    assert parent.finished_at is None and chunks.get(finished_at=None).redispatches == 0

    # What beat does every 5 minutes: no chunk is running and none finished lately, so the lost one goes again.
    wait_until(lambda: job_chunks_redispatch(older_than=timedelta(seconds=1)) == 1, what="the lost chunk's re-dispatch")
    wait_until(lambda: JobRun.objects.filter(pk=parent.pk, finished_at__isnull=False).exists(), what="the finish")
    assert sorted(chunks.values_list("runs", flat=True)) == [1, 1, 1, 1]
    assert "portal.tasks.job_chunk_run" in survivor.log.read_text()
    spread = close_snapshot()
    assert spread[2][2:] == (8, len(spread[1]), sum((s[4] for s in spread[0]), Decimal("0.00")))
    assert {status for *_n, status, _d, _t, _c in spread[0]} == {"issued"}
    survivor.stop()

    # The same close by one process, in one chunk, on the same data (the ledger's immutability trigger set aside).
    StatementDocument.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE rebates_rebateline DISABLE TRIGGER USER")
        RebateLine.objects.all().delete()
        cursor.execute("ALTER TABLE rebates_rebateline ENABLE TRIGGER USER")
    Statement.in_close.all().delete()
    QuarterClose.objects.all().delete()
    JobRun.objects.filter(name__startswith=services.CLOSE_JOB).delete()
    settings.REBATES_CLOSE_CHUNK_PARTNERS = 1000
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    assert JobRun.objects.filter(parent__name=services.CLOSE_JOB).count() == 1
    assert close_snapshot() == spread
