"""Filters of a statement's lines table."""

import django_filters
from django.utils.translation import gettext_lazy as _

from portal.catalog import ProductLine
from portal.widgets import AllYesNoSelect

from .models import Component, RebateLine


class RebateLineFilter(django_filters.FilterSet):
    product_line = django_filters.ChoiceFilter(
        field_name="order_line__product_line",
        label=_("Product line"),
        choices=ProductLine.choices,
        empty_label=_("All"),
    )
    component = django_filters.ChoiceFilter(label=_("Component"), choices=Component.choices, empty_label=_("All"))
    order = django_filters.CharFilter(field_name="order_line__order__number", lookup_expr="icontains", label=_("Order"))
    adjustment = django_filters.BooleanFilter(
        field_name="is_adjustment", label=_("Prior-period adjustment"), widget=AllYesNoSelect
    )

    class Meta:
        model = RebateLine
        fields = ["product_line", "component", "order", "adjustment"]
