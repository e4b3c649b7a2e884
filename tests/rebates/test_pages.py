"""Partner statement pages: admin and finance only, scoped to the partner, downloads, and the accrual."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.fiscal import Quarter
from rebates import services
from rebates.selectors import rebate_accrual
from tests.factories import MembershipFactory, UserFactory
from tests.factories import rebates as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def statement():
    p = f.partner("P00001", tier="gold")
    f.order(partner=p, customer=f.customer(), booked_on=date(2017, 2, 10), lines=[("hci", "1000.00")], number="SO-1")
    services.quarter_close(quarter=Quarter.parse("FY2018-Q1"), as_of=date(2017, 5, 6))
    return p.statements.get()


def signed_in(client, partner, role):
    client.force_login(MembershipFactory(partner=partner, role=role).user)
    return client


@pytest.mark.parametrize("role", ["admin", "finance"])
def test_admin_and_finance_read_and_download_their_statements(client, statement, role):
    client = signed_in(client, statement.partner, role)
    assert statement.number.encode() in client.get(reverse("rebates:statement_list")).content
    detail = client.get(reverse("rebates:statement_detail", kwargs={"number": statement.number}))
    assert detail.status_code == 200 and b"SO-1" in detail.content
    assert detail.context["summary"].total == D("20.00")
    csv = client.get(reverse("rebates:statement_csv", kwargs={"number": statement.number}))
    assert b"RS-FY2018-Q1-P00001,P00001,SO-1,1,hci,2017-02-10,1000.00,base,2,20.00" in csv.content
    pdf = client.get(reverse("rebates:statement_pdf", kwargs={"number": statement.number}))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_detail_filters_lines(client, statement):
    client = signed_in(client, statement.partner, "finance")
    url = reverse("rebates:statement_detail", kwargs={"number": statement.number})
    assert len(client.get(url, {"component": "base"}).context["table"].rows) == 1
    assert len(client.get(url, {"component": "blended"}).context["table"].rows) == 0


def test_sales_users_get_403(client, statement):
    client = signed_in(client, statement.partner, "sales")
    assert client.get(reverse("rebates:statement_list")).status_code == 403
    assert client.get(reverse("rebates:statement_detail", kwargs={"number": statement.number})).status_code == 403


def test_another_partner_gets_404_on_every_statement_url(client, statement):
    client = signed_in(client, f.partner("P00002"), "admin")
    for name in ["statement_detail", "statement_csv", "statement_pdf"]:
        assert client.get(reverse(f"rebates:{name}", kwargs={"number": statement.number})).status_code == 404
    assert statement.number.encode() not in client.get(reverse("rebates:statement_list")).content


def test_statement_list_query_count_does_not_grow_with_the_statements(client):
    few, many = f.partner("PQ3", tier="gold"), f.partner("PQ6", tier="platinum")
    quarter = Quarter.parse("FY2018-Q1")
    for index in range(6):  # `few` has a statement in the first 3 quarters, `many` in all 6
        for partner in [few, many] if index < 3 else [many]:
            lines = [("hci", "1000.00"), ("server", "10.00")]
            f.order(partner=partner, customer=f.customer(), booked_on=quarter.start, lines=lines)
        services.quarter_close(quarter=quarter, as_of=quarter.next().start + timedelta(days=5))
        quarter = quarter.next()
    counts = {}
    for partner, expected in [(few, 3), (many, 6)]:
        page_client = signed_in(client, partner, "admin")
        with CaptureQueriesContext(connection) as captured:
            response = page_client.get(reverse("rebates:statement_list"))
        assert response.status_code == 200
        numbers = list(partner.statements.values_list("number", flat=True))
        assert len(numbers) == expected and all(number.encode() in response.content for number in numbers)
        counts[expected] = len(captured)
    assert counts[3] == counts[6], counts


def test_accrual_of_the_open_quarter_uses_the_close_rules_and_freezes_nothing(statement):
    p = statement.partner
    f.order(partner=p, customer=f.customer(), booked_on=date(2017, 5, 10), lines=[("server", "1000.00")])
    f.order(partner=p, customer=f.customer(), booked_on=date(2017, 6, 10), lines=[("hci", "1000.00")])
    accrual = rebate_accrual(partner=p, as_of=date(2017, 5, 31))
    assert str(accrual.quarter) == "FY2018-Q2"
    assert accrual.total == D("100.00")  # base 20 + new business 80; the June line is not booked yet
    assert {row["component"]: row["amount"] for row in accrual.by_component} == {
        "base": D("20.00"),
        "new_business": D("80.00"),
    }
    assert p.statements.count() == 1


def test_seed_demo_statements_is_idempotent():
    from demo.rebates import seed_demo_statements
    from rebates.models import Statement

    p = f.partner("P00009")
    for day in [date(2017, 2, 10), date(2017, 5, 10)]:
        f.order(partner=p, customer=f.customer(), booked_on=day, lines=[("hci", "1000.00")])
    first = seed_demo_statements(as_of=date(2017, 8, 10))
    assert first == {"quarters_closed": 2, "statements_paid": 1}
    assert seed_demo_statements(as_of=date(2017, 8, 10)) == {"quarters_closed": 0, "statements_paid": 0}
    assert list(Statement.objects.order_by("quarter").values_list("status", flat=True)) == ["paid", "issued"]


def test_staff_admin_lists_totals_program_totals_and_marks_paid(client, statement, django_user_model):
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)  # with TOTP, as staff must
    client.force_login(staff)
    listing = client.get(reverse("admin:rebates_statement_changelist"), {"quarter": "FY2018-Q1"})
    assert listing.status_code == 200 and listing.context["statement_totals"]["total"] == D("20.00")
    totals = client.get(reverse("admin:rebates_program_totals"))
    assert totals.status_code == 200 and b"FY2018-Q1" in totals.content
    response = client.post(
        reverse("admin:rebates_statement_changelist"),
        {
            "action": "mark_paid",
            "_selected_action": [statement.pk],
            "apply": "1",
            "payment_reference": "WIRE-42",
            "paid_on": "2017-06-01",
        },
    )
    assert response.status_code == 302
    statement.refresh_from_db()
    assert (statement.status, statement.payment_reference, statement.paid_on) == ("paid", "WIRE-42", date(2017, 6, 1))


def test_staff_read_amounts_as_amounts_and_components_by_their_names(client, statement):
    from django.utils.formats import number_format
    from django.utils.translation import override

    from partners.models import TierRequirement

    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    totals = client.get(reverse("admin:rebates_program_totals")).content.decode()
    assert "<td>Base</td>" in totals and "<td>base</td>" not in totals  # the component's label, not its code
    requirement = TierRequirement.objects.order_by("-min_revenue").first()
    page = client.get(reverse("admin:partners_tierrequirement_changelist")).content.decode()
    assert f"{requirement.min_revenue:,.2f}" in page and f">{requirement.min_revenue}<" not in page  # 40,000,000.00
    staff.language = "fr"
    staff.save(update_fields=["language"])
    french = client.get(reverse("admin:partners_tierrequirement_changelist")).content.decode()
    with override("fr"):
        grouped = number_format(requirement.min_revenue, decimal_pos=2, force_grouping=True)
    assert grouped != f"{requirement.min_revenue:,.2f}" and grouped in french  # 40 000 000,00


def test_marking_a_statement_paid_emails_its_admin_and_finance_once_in_their_language(statement):
    from django.core.exceptions import ValidationError

    from portal.emails import outbox_render
    from portal.models import OutboxEmail

    admin = MembershipFactory(partner=statement.partner, role="admin", user__language="fr").user
    finance = MembershipFactory(partner=statement.partner, role="finance", user__language="en").user
    MembershipFactory(partner=statement.partner, role="sales")  # sales read no statements
    services.statement_mark_paid(statement=statement, payment_reference="WIRE-77", paid_on=date(2017, 6, 1))
    outbox_render()  # rendered as the send task renders it (not sent)
    paid = {email.to[0]: email for email in OutboxEmail.objects.filter(key__startswith="statement_paid:")}
    assert set(paid) == {admin.email, finance.email}
    assert "a été payé" in paid[admin.email].subject and "1 juin 2017" in paid[admin.email].body
    assert "has been paid" in paid[finance.email].subject
    assert "WIRE-77" in paid[finance.email].body and "1 June 2017" in paid[finance.email].body
    with pytest.raises(ValidationError):  # paid once: no second payment, no second email
        services.statement_mark_paid(statement=statement, payment_reference="WIRE-78", paid_on=date(2017, 6, 2))
    assert OutboxEmail.objects.filter(key__startswith="statement_paid:").count() == 2


def test_statement_detail_query_count_does_not_grow_with_the_statement(client):
    """A 3-line and a 120-line statement take the same queries: one page of lines, one grouped query for every
    total, the line count from the statement (a filter counts the filtered lines: one more); a page of lines
    rendered before is read from the cache (one query fewer)."""
    small, large = f.partner("P00011", tier="gold"), f.partner("P00012", tier="gold")
    f.order(partner=small, customer=f.customer(), booked_on=date(2017, 2, 10), lines=[("hci", "1000.00")] * 3)
    for index in range(40):
        f.order(partner=large, customer=f.customer(), booked_on=date(2017, 2, 1) + timedelta(days=index % 80),
                lines=[("server", "100.00"), ("storage", "200.00")])  # fmt: skip
    services.quarter_close(quarter=Quarter.parse("FY2018-Q1"), as_of=date(2017, 5, 6))
    counts = {}
    for partner in (small, large):
        statement = partner.statements.get()
        client = signed_in(client, partner, "finance")
        url = reverse("rebates:statement_detail", kwargs={"number": statement.number})
        client.get(reverse("rebates:statement_list"))  # the session is warm
        with CaptureQueriesContext(connection) as first:
            response = client.get(url)
        summary = response.context["summary"]
        assert sum(row["amount"] for row in summary.by_component) == statement.total == summary.total
        assert sum(row["amount"] for row in summary.by_product_line) == statement.total
        assert response.context["table"].paginator.count == statement.line_count == statement.lines.count()
        with CaptureQueriesContext(connection) as cached:
            client.get(url)
        with CaptureQueriesContext(connection) as filtered:
            client.get(url, {"component": "base"})
        counts[partner.code] = (len(first), len(cached), len(filtered))
    assert counts["P00011"] == counts["P00012"], counts
    first, cached, filtered = counts["P00012"]
    assert cached == first - 1  # the page of lines is not read again
    assert filtered == first + 1  # the filtered page counts its lines
    # a query the page does not link to is rendered and not kept: made-up query strings cannot fill the cache
    for query in ({"utm": "x"}, {"page": "01"}, {"component": "no-such-component"}):
        with CaptureQueriesContext(connection) as again_first:
            client.get(url, query)
        with CaptureQueriesContext(connection) as again:
            client.get(url, query)
        assert len(again) == len(again_first), query


def _lines_table(response) -> str:
    content = response.content.decode()
    start = content.index('<table class="rebate-lines')
    return content[start : content.index("</table>", start)]


def test_a_page_of_lines_is_rendered_once_and_served_the_same_per_page_filter_language_and_tier_names(client):
    """The lines of an issued statement never change: each page of them, under each filter and in each language,
    is rendered once and then served as it was rendered; a tier renamed by staff shows at once."""
    from partners.models import Tier

    partner = f.partner("P00041", tier="gold")
    for index in range(30):
        f.order(partner=partner, customer=f.customer(), booked_on=date(2017, 2, 1) + timedelta(days=index),
                lines=[("server", f"{100 + index}.00"), ("storage", "200.00")])  # fmt: skip
    services.quarter_close(quarter=Quarter.parse("FY2018-Q1"), as_of=date(2017, 5, 6))
    statement = partner.statements.get()
    client = signed_in(client, partner, "finance")
    url = reverse("rebates:statement_detail", kwargs={"number": statement.number})
    first = _lines_table(client.get(url))
    assert _lines_table(client.get(url)) == first
    second_page = _lines_table(client.get(url, {"page": 2}))
    assert second_page != first and "SO-T" in second_page
    servers = _lines_table(client.get(url, {"product_line": "server"}))
    assert servers != first and "Storage" not in servers
    french_reader = MembershipFactory(partner=partner, role="finance", user=UserFactory(language="fr")).user
    client.force_login(french_reader)
    french = _lines_table(client.get(url))
    assert "Commande" in french and 'data-label="Montant net"' in french and "Commande" not in first
    client.force_login(MembershipFactory(partner=partner, role="finance").user)
    gold = Tier.objects.get(code="gold")
    gold.name = "Gold Renamed"
    gold.save()
    assert "Gold Renamed" in _lines_table(client.get(url))


def test_an_issued_statements_summary_is_stored_with_its_pdf_and_read_back_the_same(client):
    """The grouped totals of an issued statement are stored when its PDF is rendered at issue (its lines never
    change after the close) and read back as the same summary, without the grouped query; reading never writes,
    and a statement still closing stores nothing."""
    from rebates import documents
    from rebates.models import Statement
    from rebates.selectors import statement_summary

    partner = f.partner("P00021", tier="gold")
    for index in range(6):
        f.order(partner=partner, customer=f.customer(), booked_on=date(2017, 2, 1) + timedelta(days=index),
                lines=[("server", "100.10"), ("storage", "200.05"), ("services", "33.33")])  # fmt: skip
    services.quarter_close(quarter=Quarter.parse("FY2018-Q1"), as_of=date(2017, 5, 6))
    statement = partner.statements.get()
    assert statement.summary is None  # not computed by the close itself
    computed = statement_summary(statement)
    statement.refresh_from_db()
    assert statement.summary is None  # a read groups the lines and writes nothing
    Statement.in_close.filter(pk=statement.pk).update(status=Statement.Status.CLOSING)
    statement.refresh_from_db()
    documents.statement_summary_store(statement)
    statement.refresh_from_db()
    assert statement.summary is None and statement_summary(statement) == computed
    Statement.in_close.filter(pk=statement.pk).update(status=Statement.Status.ISSUED)
    statement.refresh_from_db()
    documents.statement_document(statement, language="en")
    stored = Statement.objects.get(pk=statement.pk)
    assert len(stored.summary) >= 3 and {group["product_line"] for group in stored.summary} >= {"server", "storage"}
    with CaptureQueriesContext(connection) as captured:
        read_back = statement_summary(stored)
    assert len(captured) == 0
    assert read_back == computed
    assert sum(row["amount"] for row in read_back.by_component) == stored.total
    assert all(isinstance(row["amount"], D) for row in read_back.by_component + read_back.by_product_line)
    client = signed_in(client, partner, "finance")
    page = client.get(reverse("rebates:statement_detail", kwargs={"number": statement.number}))
    assert page.context["summary"] == computed
