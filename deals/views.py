"""The partner's orders: a filtered, sortable list with a CSV export, and one order's detail."""

from django.http import Http404
from django.utils.translation import gettext as _
from django.views.generic import TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from partners.scoping import ALL_ROLES, PartnerViewMixin
from portal.csvexport import FilteredCsvExportMixin

from . import selectors
from .filters import OrderFilter
from .models import Order
from .tables import OrderLineTable, OrderTable, order_export_rows


class OrderListView(PartnerViewMixin, FilteredCsvExportMixin, SingleTableMixin, FilterView):
    partner_roles = ALL_ROLES
    export_prefix = "orders"
    template_name = "deals/order_list.html"
    table_class = OrderTable
    filterset_class = OrderFilter
    table_pagination = {"per_page": 25}

    def get_queryset(self):
        return selectors.order_list_for_partner(
            orders=self.scope(Order.objects.all(), "partner"), whole=self.request.GET.get("export") == "csv"
        )

    def export_rows(self, orders):
        return order_export_rows(orders)


class OrderDetailView(PartnerViewMixin, TemplateView):
    partner_roles = ALL_ROLES
    template_name = "deals/order_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        order = selectors.order_detail_for_partner(
            orders=self.scope(Order.objects.all(), "partner"), number=self.kwargs["number"]
        )
        if order is None:
            raise Http404(_("No such order."))
        context["order"] = order
        context["lines_table"] = OrderLineTable(order.order_lines)
        return context
