"""Statements and rebate lines as django-tables2 tables."""

import django_tables2 as tables
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from portal.money import money_text
from portal.tables import FastTable, ShortDateColumn, stacked_cell

from .models import RebateLine, Statement
from .selectors import rate_text

NUMBER_ATTRS = {"th": {"class": "num"}, "td": {"class": "num"}, "tf": {"class": "num"}}


def money(value) -> str:
    return number_format(value, decimal_pos=2, force_grouping=True) if value is not None else "—"


class StatementTable(FastTable):
    number = tables.Column(
        verbose_name=_("Statement"), linkify=("rebates:statement_detail", {"number": tables.A("number")})
    )
    quarter = tables.Column(verbose_name=_("Quarter"))
    issued_on = ShortDateColumn(verbose_name=_("Issued on"))
    status = tables.Column(verbose_name=_("Status"))
    line_count = tables.Column(verbose_name=_("Rebate lines"), attrs=NUMBER_ATTRS)
    total = tables.Column(verbose_name=_("Total"), attrs=NUMBER_ATTRS)
    paid_on = ShortDateColumn(verbose_name=_("Paid on"))

    class Meta:
        model = Statement
        fields = ["number", "quarter", "issued_on", "status", "line_count", "total", "paid_on"]
        order_by = ("-quarter",)
        empty_text = _("No statement has been issued yet.")

    def render_total(self, value):
        return money_text(value)


class RebateLineTable(FastTable):
    # On a phone the rows stack into labelled lines (``stack-table``); the ``col-low`` columns give way.
    order = tables.Column(
        verbose_name=_("Order"),
        accessor="order_line__order__number",
        orderable=False,
        attrs=stacked_cell(_("Order"), "identifier"),
    )
    line_number = tables.Column(
        verbose_name=_("Line"),
        accessor="order_line__line_number",
        attrs=stacked_cell(_("Line"), "num col-low"),
        orderable=False,
    )
    product_line = tables.Column(
        verbose_name=_("Product line"),
        accessor="order_line__product_line",
        orderable=False,
        attrs=stacked_cell(_("Product line")),
    )
    booked_on = ShortDateColumn(
        verbose_name=_("Booked on"),
        accessor="order_line__booked_on",
        orderable=False,
        attrs=stacked_cell(_("Booked on"), "col-low"),
    )
    net_amount = tables.Column(
        verbose_name=_("Net amount"), attrs=stacked_cell(_("Net amount"), "num"), orderable=False
    )
    tier = tables.Column(verbose_name=_("Tier"), orderable=False, attrs=stacked_cell(_("Tier"), "col-low"))
    component = tables.Column(
        verbose_name=_("Component"), orderable=False, attrs=stacked_cell(_("Component"), "component")
    )
    rate = tables.Column(verbose_name=_("Rate (%)"), attrs=stacked_cell(_("Rate (%)"), "num col-low"), orderable=False)
    amount = tables.Column(verbose_name=_("Amount"), attrs=stacked_cell(_("Amount"), "num amount"), orderable=False)
    is_adjustment = tables.BooleanColumn(
        verbose_name=_("Adjustment"), orderable=False, attrs=stacked_cell(_("Adjustment"), "col-low")
    )

    class Meta:
        model = RebateLine
        fields = [
            "order",
            "line_number",
            "product_line",
            "booked_on",
            "net_amount",
            "tier",
            "component",
            "rate",
            "amount",
            "is_adjustment",
        ]
        empty_text = _("No rebate line matches these filters.")
        attrs = {"class": "rebate-lines stack-table"}

    def render_net_amount(self, value):
        return money_text(value)

    def render_amount(self, value):
        return money_text(value)

    def render_rate(self, value):
        return rate_text(value)
