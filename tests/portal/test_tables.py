"""``portal.tables``: the partner tables render exactly what django-tables2 renders, with less work per cell."""

from datetime import UTC, date, datetime

import django_tables2 as tables
import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone, translation
from django_tables2.rows import BoundRows

from deals.models import Order
from deals.registrations.tables import RegistrationTable
from deals.tables import OrderTable
from portal.fiscal import Quarter
from portal.tables import KnownCountPaginator, ShortDateColumn
from rebates import services
from rebates.models import RebateLine
from rebates.selectors import statement_lines
from rebates.tables import RebateLineTable
from tests.factories import rebates as f
from tests.factories.registrations import RegistrationFactory

pytestmark = pytest.mark.django_db


def both_renderings(table_class, queryset):
    """The table's HTML through ``FastTable``'s rows and body written in Python, and through django-tables2's own
    ``BoundRows`` and template."""
    request = RequestFactory().get("/")
    fast_table = table_class(queryset)
    fast = fast_table.as_html(request)
    assert fast_table.tbody_html()  # the rows were written in Python, not by the template
    plain_table = table_class(queryset)
    plain_table.render_rows_in_python = False  # the body through django-tables2's template
    plain_table.rows = BoundRows(data=plain_table.data, table=plain_table, pinned_data=plain_table.pinned_data)
    return fast, plain_table.as_html(request)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_fast_rows_render_what_django_tables2_renders(language):
    partner = f.partner(tier="gold")
    f.order(partner=partner, customer=f.customer(), booked_on=date(2017, 2, 10),
            lines=[("server", "1000.00"), ("services", "200.00"), ("storage", "300.00")])  # fmt: skip
    services.quarter_close(quarter=Quarter.parse("FY2018-Q1"), as_of=date(2017, 5, 6))
    RegistrationFactory(partner=partner, lines={"server": "1", "storage": "2"})
    with translation.override(language):
        for table_class, queryset in [
            (RebateLineTable, statement_lines(RebateLine.objects.all())),
            (OrderTable, Order.objects.select_related("customer")),
            (RegistrationTable, partner.registrations.select_related("customer")),
        ]:
            fast, plain = both_renderings(table_class, queryset)
            assert fast == plain
            if table_class is RebateLineTable:  # the choice labels in the reader's language
                assert ("Serveur" if language == "fr" else "Server") in fast


def test_a_short_date_column_formats_as_the_date_filter_in_the_current_time_zone():
    template = Template('{{ value|date:"SHORT_DATE_FORMAT" }}')
    late = datetime(2017, 3, 1, 23, 30, tzinfo=UTC)  # 2 March in Paris
    column = ShortDateColumn()
    for language in ("en", "fr"):
        with translation.override(language), timezone.override("Europe/Paris"):
            for value in (date(2017, 3, 1), late):
                assert column.render(value) == template.render(Context({"value": value}))
    with timezone.override("Europe/Paris"):
        assert column.render(late) == template.render(Context({"value": late})) and "2" in column.render(late)


def test_a_known_count_paginator_pages_without_counting():
    paginator = KnownCountPaginator(list(range(120)), 50, known_count=120)
    assert paginator.count == 120 and paginator.num_pages == 3 and list(paginator.page(3)) == list(range(100, 120))
    assert KnownCountPaginator(list(range(7)), 5).count == 7


def test_cell_attributes_computed_from_the_row_are_computed_for_each_row():
    class NumberedOrders(OrderTable):
        number = tables.Column(attrs={"td": {"data-id": lambda record: record.pk}})

    partner = f.partner(tier="gold")
    for day in (10, 11):
        f.order(partner=partner, customer=f.customer(), booked_on=date(2017, 2, day), lines=[("server", "10.00")])
    orders = list(Order.objects.select_related("customer").order_by("pk"))
    fast, plain = both_renderings(NumberedOrders, Order.objects.select_related("customer").order_by("pk"))
    assert fast == plain
    assert all(f'data-id="{order.pk}"' in fast for order in orders)
