"""Quarter close: once, in order, atomic, with late lines as adjustments, an immutable ledger and one email."""

import io
import threading
from datetime import date, timedelta
from decimal import Decimal as D
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction

from portal.fiscal import Quarter
from portal.models import OutboxEmail
from rebates import services
from rebates.models import QuarterClose, RebateLine, Statement
from tests.factories import MembershipFactory
from tests.factories import rebates as f

Q1, Q2 = Quarter.parse("FY2018-Q1"), Quarter.parse("FY2018-Q2")


def ledger():
    return sorted(RebateLine.objects.values_list("statement__number", "order_line_id", "component", "amount"))


def program_with_lines(code="P00001"):
    p = f.partner(code, tier="gold", attested_on=date(2016, 6, 1))
    customer = f.customer()
    f.order(partner=p, customer=customer, booked_on=date(2017, 2, 10), lines=[("server", "10000.00")], number="SO-1")
    f.order(partner=p, customer=customer, booked_on=date(2017, 5, 2), lines=[("hci", "100.00")], number="SO-2")
    return p, customer


@pytest.mark.django_db
def test_close_issues_one_statement_per_partner_with_totals_equal_to_the_lines():
    p, _customer = program_with_lines()
    f.partner("P00002")  # no line: no statement
    result = services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    statement = Statement.objects.get()
    assert statement.number == "RS-FY2018-Q1-P00001" and statement.status == "issued"
    assert statement.total == sum(line.amount for line in statement.lines.all()) == D("1250.00")
    assert (result["statements"], result["total"]) == (1, "1250.00")
    assert QuarterClose.objects.get().quarter == "FY2018-Q1"


@pytest.mark.django_db
def test_closing_twice_issues_nothing_more():
    program_with_lines()
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    before = ledger()
    again = services.quarter_close(quarter=Q1, as_of=date(2017, 5, 7))
    forced = services.quarter_close(quarter=Q1, as_of=date(2017, 5, 7), force=True)
    assert ledger() == before and Statement.objects.count() == 1
    assert again["created"] is False and forced["created"] is False


@pytest.mark.django_db
def test_quarters_close_in_order_and_only_once_over():
    program_with_lines()
    with pytest.raises(services.QuarterCloseError, match="FY2018-Q1 is not closed"):
        services.quarter_close(quarter=Q2, as_of=date(2017, 8, 5))
    with pytest.raises(services.QuarterCloseError, match="cannot be closed as of"):
        services.quarter_close(quarter=Q1, as_of=date(2017, 4, 30))
    with pytest.raises(CommandError, match="not closed"):
        call_command("close_quarter", "FY2018-Q2", "--as-of", "2017-08-05")
    assert not Statement.objects.exists()


@pytest.mark.django_db
def test_a_close_killed_half_way_issues_nothing_and_a_rerun_ends_identical_to_a_clean_run():
    program_with_lines()
    f.order(partner=f.partner("P00003"), customer=f.customer(), booked_on=date(2017, 3, 1), lines=[("hci", "50.00")])
    with mock.patch.object(QuarterClose.objects, "create", side_effect=DatabaseError("killed")):
        with pytest.raises(DatabaseError):
            services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    # Its chunks are kept, their statements still closing: seen by nobody, and not written again by the re-run.
    assert not Statement.objects.exists() and Statement.in_close.filter(status="closing").count() == 2
    kept = sorted(RebateLine.objects.values_list("pk", flat=True))
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    assert sorted(RebateLine.objects.values_list("pk", flat=True)) == kept
    assert not Statement.in_close.filter(status="closing").exists()
    rerun = ledger()
    assert [number for number, *_ in rerun].count("RS-FY2018-Q1-P00003") == 1
    assert Statement.objects.count() == 2


@pytest.mark.django_db
def test_late_lines_become_prior_period_adjustments_on_the_next_statement_and_issued_lines_never_change():
    p, customer = program_with_lines()
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    q1_ledger = ledger()
    late = f.order(partner=p, customer=customer, booked_on=date(2017, 4, 20), lines=[("storage", "1000.00")])
    services.quarter_close(quarter=Q2, as_of=date(2017, 8, 5))
    q2 = Statement.objects.get(quarter="FY2018-Q2")
    adjustments = {
        (line.order_line.order_id, line.component): line.amount for line in q2.lines.filter(is_adjustment=True)
    }
    # storage bought after servers in the same quarter: new business and blended, at the April tier, uplifted
    assert adjustments == {
        (late.pk, "base"): D("20.00"),
        (late.pk, "new_business"): D("80.00"),
        (late.pk, "blended"): D("20.00"),
        (late.pk, "exclusivity_uplift"): D("30.00"),
    }
    assert [row for row in ledger() if row[0].startswith("RS-FY2018-Q1")] == q1_ledger
    assert q2.lines.filter(is_adjustment=False).count() == 2  # SO-2: base + uplift


@pytest.mark.django_db
def test_export_statement_csv_format_and_errors():
    program_with_lines()
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    out = io.StringIO()
    call_command("export_statement", "RS-FY2018-Q1-P00001", stdout=out)
    assert out.getvalue().splitlines() == [
        "statement_number,partner_code,order_number,line_number,product_line,booked_on,net_amount,component,rate,amount",
        "RS-FY2018-Q1-P00001,P00001,SO-1,1,server,2017-02-10,10000.00,base,2,200.00",
        "RS-FY2018-Q1-P00001,P00001,SO-1,1,server,2017-02-10,10000.00,new_business,8,800.00",
        "RS-FY2018-Q1-P00001,P00001,SO-1,1,server,2017-02-10,10000.00,exclusivity_uplift,25,250.00",
    ]
    assert (
        out.getvalue()
        == (lambda o: (call_command("export_statement", "--quarter", "FY2018-Q1", stdout=o), o)[1])(
            io.StringIO()
        ).getvalue()
    )
    with pytest.raises(CommandError, match="Unknown statement"):
        call_command("export_statement", "RS-FY2018-Q1-NOPE")
    with pytest.raises(CommandError):
        call_command("export_statement")


@pytest.mark.django_db
def test_export_statement_pdf(tmp_path):
    program_with_lines()
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    target = tmp_path / "statement.pdf"
    call_command("export_statement", "RS-FY2018-Q1-P00001", "--format", "pdf", "--output", str(target))
    assert target.read_bytes().startswith(b"%PDF")


@pytest.mark.django_db
def test_statement_emailed_once_with_its_pdf_to_admin_and_finance(django_capture_on_commit_callbacks):
    p, _customer = program_with_lines()
    admin = MembershipFactory(partner=p, role="admin").user
    finance = MembershipFactory(partner=p, role="finance").user
    MembershipFactory(partner=p, role="sales")
    with django_capture_on_commit_callbacks(execute=True):
        services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    with django_capture_on_commit_callbacks(execute=True):
        services.statements_email_quarter(quarter="FY2018-Q1")  # a retry, or the daily sweep
    assert sorted(email.to[0] for email in mail.outbox) == sorted([admin.email, finance.email])
    assert OutboxEmail.objects.count() == 2
    message = mail.outbox[0]
    assert "RS-FY2018-Q1-P00001" in message.subject
    (name, content, content_type) = message.attachments[0]
    assert name == "RS-FY2018-Q1-P00001.pdf" and content.startswith(b"%PDF") and content_type == "application/pdf"


@pytest.mark.django_db
def test_a_statement_cannot_be_marked_paid_in_the_future():
    from django.utils import timezone

    program_with_lines()
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    statement = Statement.objects.get()
    with pytest.raises(ValidationError, match="future"):
        services.statement_mark_paid(
            statement=statement, payment_reference="PAY", paid_on=timezone.localdate() + timedelta(days=1)
        )
    assert Statement.objects.get().status == "issued"


@pytest.mark.django_db
def test_mark_paid_needs_a_reference_and_happens_once():
    program_with_lines()
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    statement = Statement.objects.get()
    with pytest.raises(ValidationError):
        services.statement_mark_paid(statement=statement, payment_reference=" ", paid_on=date(2017, 6, 1))
    paid = services.statement_mark_paid(statement=statement, payment_reference="PAY-1", paid_on=date(2017, 6, 1))
    assert (paid.status, paid.payment_reference) == ("paid", "PAY-1")
    with pytest.raises(ValidationError, match="already paid"):
        services.statement_mark_paid(statement=statement, payment_reference="PAY-2", paid_on=date(2017, 6, 2))


@pytest.mark.django_db
def test_daily_task_closes_due_quarters_in_order_after_the_delay():
    from rebates.tasks import quarter_close_due

    program_with_lines()
    assert quarter_close_due("2017-05-04") == []  # 30 April + 5 days is not reached
    assert [r["quarter"] for r in quarter_close_due("2017-08-05")] == ["FY2018-Q1", "FY2018-Q2"]
    assert quarter_close_due("2017-08-06") == []


@pytest.mark.django_db
def test_issued_rebate_lines_cannot_be_changed_by_the_database(require_postgresql):
    program_with_lines()
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    line = RebateLine.objects.first()
    for statement in (
        lambda: RebateLine.objects.filter(pk=line.pk).update(amount=D("1.00")),
        lambda: RebateLine.objects.filter(pk=line.pk).delete(),
    ):
        with pytest.raises(DatabaseError, match="issued statement"), transaction.atomic():
            statement()
    services.statement_mark_paid(statement=Statement.objects.get(), payment_reference="PAY", paid_on=date(2017, 6, 1))
    assert Statement.objects.get().status == "paid"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_closes_at_once_issue_each_statement_once(require_postgresql):
    program_with_lines()
    barrier, errors = threading.Barrier(2), []

    def close():
        try:
            barrier.wait()
            services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=close) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Statement.objects.count() == 1 and RebateLine.objects.count() == 3
    assert connection.vendor == "postgresql"


@pytest.mark.django_db
def test_each_statement_total_and_line_count_are_those_of_its_own_lines():
    program_with_lines()
    other = f.partner("P00002", tier="gold")
    f.order(
        partner=other, customer=f.customer(), booked_on=date(2017, 3, 1), lines=[("server", "500.00")], number="SO-3"
    )
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    statements = list(Statement.objects.order_by("number"))
    assert len(statements) == 2
    for statement in statements:
        lines = list(statement.lines.all())
        assert (statement.total, statement.line_count) == (sum(line.amount for line in lines), len(lines))
    assert statements[0].total != statements[1].total
