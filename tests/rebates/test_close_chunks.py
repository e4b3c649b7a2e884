"""The quarter close in partner chunks: its statements are seen by nobody until the last chunk is done, it reads
the order lines there when it was planned, and the nightly close on workers goes on to the next quarter due."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.urls import reverse

from api.services import api_token_create
from deals.models import Customer, OrderLine
from portal.chunks import chunk_name, chunk_run, chunks_finish
from portal.fiscal import Quarter
from portal.models import JobRun, TaskOutbox
from rebates import services
from rebates.models import QuarterClose, RebateLine, Statement
from tests.factories import MembershipFactory
from tests.factories import rebates as f

pytestmark = pytest.mark.django_db
Q1, Q2 = Quarter.parse("FY2018-Q1"), Quarter.parse("FY2018-Q2")


@pytest.fixture
def three_partners(settings):
    settings.REBATES_CLOSE_CHUNK_PARTNERS = 1
    partners = [f.partner(f"P0000{n}", tier="gold") for n in (1, 2, 3)]
    for partner in partners:
        f.order(partner=partner, customer=f.customer(), booked_on=date(2017, 2, 10), lines=[("server", "10000.00")])
    return partners


def chunks():
    return JobRun.objects.filter(name=chunk_name(services.CLOSE_JOB)).order_by("period")


def test_statements_of_a_close_in_progress_are_seen_by_nobody_until_its_last_chunk(client, three_partners):
    first = three_partners[0]
    result = services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6), dispatch=True)
    assert result == {"quarter": "FY2018-Q1", "created": False, "closing": True, "dispatched": 3, "chunks": 3}
    chunk_run(chunks()[0].pk)  # one worker did the first partner's chunk
    closing = Statement.in_close.get(partner=first)
    assert closing.status == "closing" and closing.lines.count() == 2 and closing.total == D("1000.00")
    assert not Statement.objects.exists() and not first.statements.exists()
    user = MembershipFactory(partner=first, role="finance").user
    client.force_login(user)
    assert closing.number.encode() not in client.get(reverse("rebates:statement_list")).content
    assert client.get(reverse("rebates:statement_detail", kwargs={"number": closing.number})).status_code == 404
    api = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=user, name='t').secret}"}
    assert client.get(reverse("api:statements"), **api).json()["results"] == []
    assert client.get(reverse("api:statement", kwargs={"number": closing.number}), **api).status_code == 404
    from rebates.charts import rebates_by_quarter
    from rebates.selectors import program_totals

    quarters = [Q1]
    assert rebates_by_quarter(lines=RebateLine.objects.filter(statement__partner=first), quarters=quarters) == {}
    assert program_totals() == []  # staff's program totals agree with the (not yet recorded) close

    for chunk in chunks()[1:]:
        chunk_run(chunk.pk)
    services_finish = TaskOutbox.objects.get(name="portal.tasks.job_chunks_finish")
    assert chunks_finish(services_finish.args[0])["statements"] == 3
    assert sorted(Statement.objects.values_list("status", flat=True)) == ["issued"] * 3
    assert closing.number.encode() in client.get(reverse("rebates:statement_list")).content
    assert TaskOutbox.objects.filter(key="statements_email:FY2018-Q1").exists()  # the emails: once, at the end


def test_order_lines_imported_during_the_close_wait_for_the_next_quarter(three_partners):
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6), dispatch=True)
    chunk_run(chunks()[0].pk)
    # while the other chunks wait for a worker, an import brings a Q1 line of the third partner
    late = f.order(partner=three_partners[2], customer=f.customer(), booked_on=date(2017, 4, 1), lines=[("hci", "100")])
    for chunk in chunks():
        chunk_run(chunk.pk, finish=False)
    close = chunks_finish(JobRun.objects.get(name=services.CLOSE_JOB, period="FY2018-Q1").pk)
    assert (close["statements"], close["rebate_lines"]) == (3, 6)  # as if closed when planned
    assert not RebateLine.objects.filter(order_line__order=late).exists()
    services.quarter_close(quarter=Q2, as_of=date(2017, 8, 5))
    adjustment = RebateLine.objects.filter(order_line__order=late)
    assert {line.statement.quarter for line in adjustment} == {"FY2018-Q2"} and all(
        line.is_adjustment for line in adjustment
    )


@pytest.fixture
def on_workers():
    """As on workers: the nightly task queues chunks instead of running them here (nothing is sent: no commit)."""
    from portal.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        app.conf.task_always_eager = eager


def test_the_nightly_close_on_workers_closes_one_quarter_then_queues_the_next(three_partners, on_workers):
    from rebates.tasks import quarter_close_due

    quarter_close_due(as_of="2017-08-05")  # Q1 and Q2 are due
    assert JobRun.objects.filter(name=services.CLOSE_JOB).count() == 1  # Q2 waits for Q1
    for chunk in chunks():
        chunk_run(chunk.pk)
    chunks_finish(JobRun.objects.get(name=services.CLOSE_JOB).pk)
    assert list(QuarterClose.objects.values_list("quarter", flat=True)) == ["FY2018-Q1"]
    follow = TaskOutbox.objects.get(key="quarter_close_due:FY2018-Q1")
    assert (follow.name, follow.kwargs) == (services.CLOSE_DUE_TASK, {"as_of": "2017-08-05"})
    quarter_close_due(**follow.kwargs)
    assert JobRun.objects.filter(name=services.CLOSE_JOB, period="FY2018-Q2").exists()


def test_lines_imported_during_the_close_change_no_other_lines_facts(three_partners):
    """The close reads the lines there when it was planned for the facts too: an earlier order of the customer,
    imported while the close runs, does not take new business away from a partner whose chunk runs later."""
    third = three_partners[2]
    customer = OrderLine.objects.filter(partner=third).values_list("order__customer", flat=True).first()
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6), dispatch=True)
    chunk_run(chunks()[0].pk)
    other = f.partner("P00009", tier="gold")
    f.order(partner=other, customer=Customer.objects.get(pk=customer), booked_on=date(2016, 12, 1),
            lines=[("server", "10.00")])  # fmt: skip
    for chunk in chunks():
        chunk_run(chunk.pk, finish=False)
    chunks_finish(JobRun.objects.get(name=services.CLOSE_JOB, period="FY2018-Q1").pk)
    statement = Statement.objects.get(partner=third)
    assert sorted(statement.lines.values_list("component", flat=True)) == ["base", "new_business"]
    assert not Statement.objects.filter(partner=other).exists()  # its line came after the close was planned


def test_a_large_close_refreshes_the_planner_statistics(require_postgresql, three_partners, monkeypatch):
    """The close's finish analyses the statements and rebate lines (PostgreSQL): the export and the pages that
    follow at once plan on the quarter's real size, not on a table autovacuum has not looked at yet."""
    from django.db import connection

    import portal.statistics

    monkeypatch.setattr(portal.statistics, "ANALYZE_AFTER_ROWS", 2)
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE relname IN ('rebates_statement', 'rebates_rebateline')"
        )
        assert dict(cursor.fetchall()) == {"rebates_statement": 3, "rebates_rebateline": 6}
