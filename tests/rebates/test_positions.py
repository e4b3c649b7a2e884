"""Each rebate line's place in its statement (``RebateLine.position``), written by the close on both of its paths:
the statement order of ``statement_lines`` numbered 1, 2, …, which the statement page reads as an index range."""

from datetime import date

import pytest
from django.urls import reverse

from portal.fiscal import Quarter
from rebates import selectors, services
from rebates.models import RebateLine, Statement
from tests.factories import MembershipFactory
from tests.factories import rebates as f

pytestmark = pytest.mark.django_db
Q1, Q2 = Quarter.parse("FY2018-Q1"), Quarter.parse("FY2018-Q2")


@pytest.fixture
def statements(settings):
    """Two partners, Q2 closed: lines of the quarter in two components, orders of the same day told apart by
    number, a late line of Q1 (a prior-period adjustment) and a credit, so every key of the order counts."""
    settings.REBATES_CLOSE_CHUNK_PARTNERS = 1  # each partner's chunk numbers its own statement
    partners = [f.partner("P00001", tier="gold"), f.partner("P00002", tier="titanium", attested_on=date(2016, 6, 1))]
    for partner in partners:
        f.order(partner=partner, customer=f.customer(), booked_on=date(2017, 2, 10), lines=[("server", "900.00")])
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    for partner in partners:
        customer = f.customer()
        first = f.order(partner=partner, customer=customer, booked_on=date(2017, 5, 10), number=f"SO-{partner.code}-B",
                        lines=[("server", "1000.00"), ("services", "300.00")])  # fmt: skip
        f.order(partner=partner, customer=customer, booked_on=date(2017, 5, 10), number=f"SO-{partner.code}-A",
                lines=[("storage", "400.00")])  # fmt: skip
        f.order(partner=partner, customer=f.customer(), booked_on=date(2017, 4, 2), lines=[("hci", "700.00")])
        f.order(partner=partner, customer=customer, booked_on=date(2017, 6, 1), lines=[("server", "-100.00")],
                credits=first)  # fmt: skip
        f.order(partner=partner, customer=f.customer(), booked_on=date(2017, 3, 30), lines=[("server", "500.00")])
    services.quarter_close(quarter=Q2, as_of=date(2017, 8, 6))
    return list(Statement.objects.for_quarter(Q2).order_by("number"))


def test_the_close_numbers_each_statement_s_lines_in_statement_order(statements):
    for statement in statements:
        ordered = list(selectors.statement_lines(RebateLine.objects.filter(statement=statement)))
        assert [line.position for line in ordered] == list(range(1, len(ordered) + 1)), statement.number
        assert {line.is_adjustment for line in ordered} == {False, True}
        assert any(line.order_line.credited_order_id for line in ordered)
        assert len({line.component for line in ordered}) >= 2


def test_the_statement_page_reads_lines_by_position_and_sorts_an_older_statement(client, statements):
    statement = statements[1]
    client.force_login(MembershipFactory(partner=statement.partner, role="finance").user)
    url = reverse("rebates:statement_detail", kwargs={"number": statement.number})
    expected = [line.pk for line in selectors.statement_lines(RebateLine.objects.filter(statement=statement))]

    def shown():
        return [row.record.pk for row in client.get(url).context["table"].page.object_list]

    assert "position" in str(selectors.statement_page_lines(statement).query).split("ORDER BY")[-1]
    assert shown() == expected
    # A statement closed before lines had a position (emptied here as it was: the ledger trigger allows it only
    # while the statement is closing) is sorted on each view instead, to the same order.
    Statement.objects.filter(pk=statement.pk).update(status=Statement.Status.CLOSING)
    RebateLine.objects.filter(statement=statement).update(position=None)
    Statement.in_close.filter(pk=statement.pk).update(status=Statement.Status.ISSUED)
    assert "position" not in str(selectors.statement_page_lines(statement).query).split("ORDER BY")[-1]
    assert shown() == expected
