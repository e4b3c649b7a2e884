"""The partner's registration list as a django-tables2 table, and its CSV export."""

from collections.abc import Iterable, Iterator

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from portal.catalog import ProductLine
from portal.csvexport import csv_amount, csv_text
from portal.money import money_text
from portal.tables import FastTable, ShortDateColumn, stacked_cell

from ..models import Registration
from ..tables import product_line_labels


class RegistrationTable(FastTable):
    # On a phone the rows stack into labelled lines (``stack-table``); the ``col-low`` columns give way.
    number = tables.Column(
        verbose_name=_("Registration"),
        linkify=("deals:registration_detail", {"number": tables.A("number")}),
        attrs=stacked_cell(_("Registration"), "identifier"),
    )
    customer = tables.Column(
        verbose_name=_("Customer"),
        accessor="customer__name",
        order_by=("customer__name",),
        attrs=stacked_cell(_("Customer"), "customer"),
    )
    opportunity_name = tables.Column(verbose_name=_("Opportunity"), attrs=stacked_cell(_("Opportunity"), "col-low"))
    product_lines = tables.Column(
        verbose_name=_("Product lines"), orderable=False, attrs=stacked_cell(_("Product lines"), "col-low")
    )
    estimated_total = tables.Column(verbose_name=_("Estimated total"), attrs=stacked_cell(_("Estimated total"), "num"))
    status = tables.Column(verbose_name=_("Status"), attrs=stacked_cell(_("Status"), "status"))
    submitted_at = ShortDateColumn(verbose_name=_("Submitted"), attrs=stacked_cell(_("Submitted"), "col-low"))
    expected_close_on = ShortDateColumn(
        verbose_name=_("Expected close"), attrs=stacked_cell(_("Expected close"), "col-low")
    )
    protection_ends_on = ShortDateColumn(
        verbose_name=_("Protected until"),
        accessor="protection_shown_until",
        order_by="protection_ends_on",
        attrs=stacked_cell(_("Protected until")),
    )

    class Meta:
        model = Registration
        fields = [
            "number",
            "customer",
            "opportunity_name",
            "product_lines",
            "estimated_total",
            "status",
            "submitted_at",
            "expected_close_on",
            "protection_ends_on",
        ]
        order_by = ("-submitted_at",)
        empty_text = _("No registrations match these filters.")
        attrs = {"class": "registrations stack-table"}

    def render_product_lines(self, value):
        return ", ".join(product_line_labels(value))

    def render_estimated_total(self, value):
        return money_text(value)

    def render_status(self, record, value):
        return format_html('<span class="pill pill-{}">{}</span>', record.status, value)


REGISTRATION_EXPORT_HEADER = [
    "registration_number",
    "status",
    "customer_name",
    "customer_country",
    "opportunity",
    "product_lines",
    "estimated_total",
    "submitted_on",
    "expected_close_on",
    "approved_on",
    "protection_ends_on",
    "won_on",
]


def registration_export_rows(registrations: Iterable[Registration]) -> Iterator[list[str]]:
    """The header, then one row per registration of ``registration_list_for_partner``; text cells neutralised
    against spreadsheet formulas, amounts and dates as is."""
    yield REGISTRATION_EXPORT_HEADER
    for registration in registrations:
        values = set((registration.product_lines or "").split(","))

        def day(value):
            return value.isoformat() if value else ""

        yield [
            csv_text(registration.number),
            csv_text(registration.status),
            csv_text(registration.customer.name),
            csv_text(registration.customer.country),
            csv_text(registration.opportunity_name),
            csv_text(" ".join(line.value for line in ProductLine if line.value in values)),
            csv_amount(registration.estimated_total),
            day(registration.submitted_at.date() if registration.submitted_at else None),
            day(registration.expected_close_on),
            day(registration.approved_on),
            day(registration.protection_ends_on),
            day(registration.won_on),
        ]
