"""Reads for the partner's order pages and export. Callers pass a queryset already scoped to one partner
(``PartnerViewMixin.scope``), so scoping stays in one place."""

from decimal import Decimal

from django.db.models import Aggregate, CharField, Count, QuerySet, Sum

from .models import Order, OrderLine


class DistinctProductLines(Aggregate):
    """The distinct product lines of an order's lines, comma-separated, in no particular order.

    ``GROUP_CONCAT`` on SQLite, ``STRING_AGG`` on PostgreSQL: one query for a page, whatever the lines.
    """

    function = "GROUP_CONCAT"
    template = "%(function)s(DISTINCT %(expressions)s)"
    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            function="STRING_AGG",
            template="%(function)s(DISTINCT %(expressions)s, ',')",
            **extra_context,
        )


def order_list_for_partner(*, orders: QuerySet[Order]) -> QuerySet[Order]:
    """One row per order of ``orders`` (already scoped), with its customer, total, line count and product lines."""
    return (
        orders.select_related("customer")
        .annotate(
            total=Sum("lines__net_amount"),
            line_count=Count("lines"),
            product_lines=DistinctProductLines("lines__product_line"),
        )
        .order_by("-booked_on", "number")
    )


def order_detail_for_partner(*, orders: QuerySet[Order], number: str) -> Order | None:
    """The order ``number`` among ``orders`` (already scoped), or ``None``; its lines and the credits naming it
    are attached as ``order_lines`` and ``credits`` lists (three queries in all)."""
    order = orders.select_related("customer", "partner").filter(number=number).first()
    if order is None:
        return None
    order.order_lines = list(
        OrderLine.objects.filter(order=order).select_related("registration", "credited_order").order_by("line_number")
    )
    # Credits are booked for the same partner and customer (DESIGN §7); filtering on the partner again keeps
    # another partner's line out even if data were wrong.
    order.credits = list(
        OrderLine.objects.filter(credited_order=order, order__partner_id=order.partner_id)
        .select_related("order")
        .order_by("booked_on", "order__number", "line_number")
    )
    order.total = sum((line.net_amount for line in order.order_lines), start=Decimal("0.00"))
    return order
