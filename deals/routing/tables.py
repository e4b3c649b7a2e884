"""The partner's routed-order lists as django-tables2 tables: offers awaiting an answer, and the history.

The rows are the offers of ``routed_offers_for_partner`` with ``lines`` and ``total`` attached (the view's
``_with_order_figures``); the order of the rows is the selector's (soonest deadline first; latest first).
"""

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from portal.money import money_text

from ..tables import NUMBER_ATTRS
from ..templatetags.deal_tags import order_link

STATUS_PILLS = {"accepted": "pill-ok", "declined": "pill-bad"}


def _customer(record) -> str:
    customer = record.case.order.customer
    return f"{customer.name} ({customer.country})"


def _short_date(value) -> str:
    return date_format(value, "SHORT_DATE_FORMAT") if value else "—"


class _RoutedTable(tables.Table):
    order = tables.Column(verbose_name=_("Order"), accessor="case__order__number", orderable=False)
    customer = tables.Column(verbose_name=_("Customer"), accessor="case__order__customer__name", orderable=False)
    booked_on = tables.Column(verbose_name=_("Booked on"), accessor="case__order__booked_on", orderable=False)
    total = tables.Column(verbose_name=_("Total"), attrs=NUMBER_ATTRS, orderable=False)

    def render_customer(self, record):
        return _customer(record)

    def render_booked_on(self, value):
        return _short_date(value)

    def render_total(self, value):
        return money_text(value)


class RoutedPendingTable(_RoutedTable):
    lines = tables.Column(verbose_name=_("Lines"), empty_values=(), orderable=False)
    respond_by = tables.Column(verbose_name=_("Answer by"), orderable=False)
    actions = tables.Column(verbose_name=_("Actions"), empty_values=(), orderable=False)

    class Meta:
        sequence = ["order", "customer", "booked_on", "lines", "total", "respond_by", "actions"]
        empty_text = _("No routed order is waiting for your answer.")

    def render_order(self, value, record):
        return format_html('{}<div class="muted">{}</div>', value, record.case.get_reason_display())

    def render_lines(self, record):
        items = format_html_join(
            "",
            "<li>{} — {} × {}: {}</li>",
            (
                (
                    line.get_product_line_display(),
                    line.description or line.sku,
                    line.quantity,
                    money_text(line.net_amount),
                )
                for line in record.lines
            ),
        )
        return format_html("<ul>{}</ul>", items)

    def render_respond_by(self, value):
        today = timezone.localdate()
        if value < today:
            pill = format_html('<span class="pill pill-bad">{}</span> ', _("overdue"))
        elif value == today:
            pill = format_html('<span class="pill pill-warn">{}</span> ', _("today"))
        else:
            pill = ""
        return format_html("{}{}", pill, _short_date(value))

    def render_actions(self, record):
        return format_html(
            '<a class="btn btn-small" href="{}">{}</a> <a class="btn btn-small btn-secondary" href="{}">{}</a>',
            reverse("deals:routed_accept", kwargs={"pk": record.pk}),
            _("Accept"),
            reverse("deals:routed_decline", kwargs={"pk": record.pk}),
            _("Decline"),
        )


class RoutedHistoryTable(_RoutedTable):
    offered_on = tables.Column(verbose_name=_("Offered on"), orderable=False)
    status = tables.Column(verbose_name=_("Answer"), orderable=False)
    decided_at = tables.Column(verbose_name=_("Answered on"), empty_values=(), orderable=False)
    decline_reason = tables.Column(verbose_name=_("Decline reason"), empty_values=(), orderable=False)

    class Meta:
        sequence = ["order", "customer", "booked_on", "total", "offered_on", "status", "decided_at", "decline_reason"]
        empty_text = _("No routed order answered yet.")

    def render_order(self, value, record):
        if record.status == "accepted":
            return order_link(value)
        return value

    def render_offered_on(self, value):
        return _short_date(value)

    def render_status(self, record):
        pill = STATUS_PILLS.get(record.status, "pill-warn")
        return format_html('<span class="pill {}">{}</span>', pill, record.get_status_display())

    def render_decided_at(self, value):
        return _short_date(value)

    def render_decline_reason(self, value):
        return value or "—"
