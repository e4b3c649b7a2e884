"""Filters of the partner's order list."""

import django_filters
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from portal.catalog import ProductLine
from portal.widgets import DateInput

from .models import Order, OrderLine


class OrderFilter(django_filters.FilterSet):
    booked_from = django_filters.DateFilter(
        field_name="booked_on", lookup_expr="gte", label=_("Booked from"), widget=DateInput
    )
    booked_to = django_filters.DateFilter(
        field_name="booked_on", lookup_expr="lte", label=_("Booked to"), widget=DateInput
    )
    product_line = django_filters.ChoiceFilter(
        label=_("Product line"), choices=ProductLine.choices, method="filter_product_line", empty_label=_("All")
    )
    customer = django_filters.CharFilter(field_name="customer__name", lookup_expr="icontains", label=_("Customer"))
    number = django_filters.CharFilter(field_name="number", lookup_expr="icontains", label=_("Order number"))

    class Meta:
        model = Order
        fields = ["booked_from", "booked_to", "product_line", "customer", "number"]

    def filter_product_line(self, queryset, name, value):
        # EXISTS, not a join: a join on the lines would multiply the order's total and line count.
        return queryset.filter(Exists(OrderLine.objects.filter(order=OuterRef("pk"), product_line=value)))
