"""The partner's orders: a filtered, sortable list with a CSV export, and one order's detail."""

from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from portal.scoping import ALL_ROLES, PartnerViewMixin

from . import selectors
from .filters import OrderFilter
from .models import Order
from .tables import OrderLineTable, OrderTable, csv_lines, order_export_rows


class OrderListView(PartnerViewMixin, SingleTableMixin, FilterView):
    partner_roles = ALL_ROLES
    template_name = "deals/order_list.html"
    table_class = OrderTable
    filterset_class = OrderFilter
    table_pagination = {"per_page": 25}

    def get_queryset(self):
        return selectors.order_list_for_partner(orders=self.scope(Order.objects.all(), "partner"))

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "csv":
            return self.export_csv()
        return super().get(request, *args, **kwargs)

    def export_csv(self):
        filterset = self.get_filterset(self.get_filterset_class())
        orders = filterset.qs if filterset.is_valid() else filterset.queryset.none()
        # A BOM so that Excel (French locale included) opens the UTF-8 file with its accents.
        body = (
            ("\ufeff" if index == 0 else "") + line
            for index, line in enumerate(csv_lines(order_export_rows(orders.iterator(chunk_size=2000))))
        )
        response = StreamingHttpResponse(body, content_type="text/csv; charset=utf-8")
        filename = f"orders-{self.partner.code}-{timezone.localdate().isoformat()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        query = self.request.GET.copy()
        for key in ("page", "sort", "export"):
            query.pop(key, None)
        query["export"] = "csv"
        context["export_query"] = query.urlencode()
        return context


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
