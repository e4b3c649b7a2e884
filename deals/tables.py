"""The order list and order lines as django-tables2 tables, and the CSV export of the order list."""

from collections.abc import Iterable, Iterator

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from portal.catalog import ProductLine
from portal.csvexport import csv_amount, csv_text
from portal.money import money_text
from portal.tables import FastTable, ShortDateColumn

from .converters import order_url
from .models import Order, OrderLine

NUMBER_ATTRS = {"th": {"class": "num"}, "td": {"class": "num"}, "tf": {"class": "num"}}
# Order numbers and SKUs are identifiers: one line, never broken at their hyphens.
IDENTIFIER_ATTRS = {"th": {"class": "identifier"}, "td": {"class": "identifier"}}


def product_line_labels(joined: str | None) -> list[str]:
    """Labels of the comma-separated product line values of ``DistinctProductLines``, in catalog order."""
    values = set((joined or "").split(","))
    return [str(line.label) for line in ProductLine if line.value in values]


class OrderTable(FastTable):
    number = tables.Column(
        verbose_name=_("Order"), linkify=lambda record: order_url(record.number), attrs=IDENTIFIER_ATTRS
    )
    booked_on = ShortDateColumn(verbose_name=_("Booked on"))
    customer = tables.Column(verbose_name=_("Customer"), accessor="customer__name", order_by=("customer__name",))
    channel = tables.Column(verbose_name=_("Channel"))
    product_lines = tables.Column(verbose_name=_("Product lines"), orderable=False)
    line_count = tables.Column(verbose_name=_("Lines"), attrs=NUMBER_ATTRS)
    total = tables.Column(verbose_name=_("Total"), attrs=NUMBER_ATTRS)

    class Meta:
        model = Order
        fields = ["number", "booked_on", "customer", "channel", "product_lines", "line_count", "total"]
        order_by = ("-booked_on", "number")
        empty_text = _("No orders match these filters.")

    def render_product_lines(self, value):
        return ", ".join(product_line_labels(value))

    def render_total(self, value):
        return money_text(value)


class OrderLineTable(tables.Table):
    line_number = tables.Column(verbose_name=_("Line"), attrs=NUMBER_ATTRS)
    product_line = tables.Column(verbose_name=_("Product line"))
    sku = tables.Column(verbose_name=_("SKU"), attrs=IDENTIFIER_ATTRS)
    description = tables.Column(verbose_name=_("Description"))
    quantity = tables.Column(verbose_name=_("Quantity"), attrs=NUMBER_ATTRS)
    net_amount = tables.Column(verbose_name=_("Net amount"), attrs=NUMBER_ATTRS)
    service_delivery = tables.Column(verbose_name=_("Service delivery"))
    registration = tables.Column(verbose_name=_("Registration"), empty_values=())
    credited_order = tables.Column(verbose_name=_("Credits order"))
    compliance_exception = tables.Column(verbose_name=_("Compliance"), empty_values=())

    class Meta:
        model = OrderLine
        fields = [
            "line_number",
            "product_line",
            "sku",
            "description",
            "quantity",
            "net_amount",
            "service_delivery",
            "registration",
            "credited_order",
            "compliance_exception",
        ]
        orderable = False

    def render_compliance_exception(self, value):
        if not value:
            return "—"
        return format_html(
            '<span class="pill pill-bad" title="{}">{}</span>',
            _("Delivered by the partner without an active services-delivery certification: no services bonus."),
            _("Compliance exception"),
        )

    def render_net_amount(self, value):
        return money_text(value)

    def render_registration(self, record):
        # The linked registration once the deal is won; before that, the number given in the import.
        return record.registration.number if record.registration_id else record.registration_number or "—"

    def render_credited_order(self, value):
        url = order_url(value.number)
        return format_html('<a href="{}">{}</a>', url, value.number) if url else value.number


# --- CSV export -----------------------------------------------------------------------------------------------

ORDER_EXPORT_HEADER = [
    "order_number",
    "booked_on",
    "channel",
    "customer_name",
    "customer_country",
    "product_lines",
    "lines",
    "total",
]


def order_export_rows(orders: Iterable[Order]) -> Iterator[list[str]]:
    """The header, then one row per order of ``order_list_for_partner``: text cells neutralised, numbers as is."""
    yield ORDER_EXPORT_HEADER
    for order in orders:
        values = set((order.product_lines or "").split(","))
        yield [
            csv_text(order.number),
            order.booked_on.isoformat(),
            csv_text(order.channel),
            csv_text(order.customer.name),
            csv_text(order.customer.country),
            csv_text(" ".join(line.value for line in ProductLine if line.value in values)),
            str(order.line_count),
            csv_amount(order.total),
        ]
