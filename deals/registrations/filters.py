"""Filters of the partner's registration list."""

import django_filters
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from portal.catalog import ProductLine
from portal.widgets import AllYesNoSelect

from ..models import Registration, RegistrationLine
from .selectors import EXPIRING_SOON_DAYS, registrations_expiring_soon


class RegistrationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=[c for c in Registration.Status.choices if c[0] != "draft"], empty_label=_("All")
    )
    product_line = django_filters.ChoiceFilter(
        label=_("Product line"), choices=ProductLine.choices, method="filter_product_line", empty_label=_("All")
    )
    expiring_soon = django_filters.BooleanFilter(
        # Interpolated when shown, so in the reader's language (a lazy string %-formatted at import is not).
        label=lazy(lambda: _("Protection ends within %(days)s days") % {"days": EXPIRING_SOON_DAYS}, str)(),
        method="filter_expiring_soon",
        widget=AllYesNoSelect,
    )
    customer = django_filters.CharFilter(field_name="customer__name", lookup_expr="icontains", label=_("Customer"))
    number = django_filters.CharFilter(field_name="number", lookup_expr="icontains", label=_("Registration number"))

    class Meta:
        model = Registration
        fields = ["status", "product_line", "expiring_soon", "customer", "number"]

    def filter_product_line(self, queryset, name, value):
        # EXISTS, not a join: a join on the lines would multiply the totals.
        return queryset.filter(Exists(RegistrationLine.objects.filter(registration=OuterRef("pk"), product_line=value)))

    def filter_expiring_soon(self, queryset, name, value):
        if not value:
            return queryset
        return registrations_expiring_soon(queryset, today=timezone.localdate())
