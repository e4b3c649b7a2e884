"""Partner pages: the statements list, a statement with its summary and filtered lines, CSV and PDF downloads.

Finance and admin users only; every query goes through ``PartnerViewMixin.scope``, so another partner's
statement is a 404.
"""

from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import View
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin, SingleTableView

from partners.scoping import ROLE_ADMIN, ROLE_FINANCE, PartnerViewMixin
from portal.tables import KnownCountPaginator

from . import documents, selectors
from .charts import rebate_quarters_chart
from .filters import RebateLineFilter
from .models import RebateLine, Statement
from .tables import RebateLineTable, StatementTable

STATEMENT_ROLES = (ROLE_ADMIN, ROLE_FINANCE)


class StatementListView(PartnerViewMixin, SingleTableView):
    partner_roles = STATEMENT_ROLES
    template_name = "rebates/statement_list.html"
    table_class = StatementTable
    table_pagination = {"per_page": 20}

    def get_queryset(self):
        return self.scope(Statement.objects.defer("summary")).order_by("-quarter")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        lines = self.scope(RebateLine.objects.all(), partner_field="statement__partner")
        context["chart"] = rebate_quarters_chart(lines=lines, today=timezone.localdate())
        return context


class _StatementMixin(PartnerViewMixin):
    partner_roles = STATEMENT_ROLES

    def get_statement(self) -> Statement:
        statement = selectors.statement_for_partner(
            statements=self.scope(Statement.objects.all()), number=self.kwargs["number"]
        )
        if statement is None:
            raise Http404(_("No such statement."))
        return statement


LINES_CACHE_SECONDS = 3600


class StatementDetailView(_StatementMixin, SingleTableMixin, FilterView):
    template_name = "rebates/statement_detail.html"
    table_class = RebateLineTable
    filterset_class = RebateLineFilter
    table_pagination = {"per_page": 50}

    def get_queryset(self):
        self.statement = self.get_statement()
        return selectors.statement_page_lines(self.statement)

    def get_table_pagination(self, table):
        pagination = super().get_table_pagination(table)
        if not any(self.request.GET.get(name) for name in self.filterset_class.base_filters):
            # Every line is listed: the statement knows how many it has (written by the close, never changed).
            pagination = {
                **pagination,
                "paginator_class": KnownCountPaginator,
                "known_count": self.statement.line_count,
            }
        return pagination

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["statement"] = self.statement
        context["summary"] = selectors.statement_summary(self.statement)
        context["lines_version"] = selectors.statement_lines_version(self.statement)
        context["lines_cache_seconds"] = self.lines_cache_seconds()
        return context

    def lines_cache_seconds(self) -> int:
        """How long this page of lines is kept once rendered: an hour for a query the page itself links to (its
        filters' valid values, a page number as the paginator writes it), 0 — rendered, not kept — for any other,
        so that made-up query strings cannot fill the cache."""
        query = self.request.GET
        page = query.get("page", "1")
        canonical = (
            set(query) <= {"page", *self.filterset_class.base_filters}
            and all(len(values) == 1 for values in query.lists())
            and page.isdigit()
            and page == str(int(page))
        )
        valid = not self.filterset.is_bound or self.filterset.is_valid()  # no query: the filters are unbound
        return LINES_CACHE_SECONDS if canonical and valid else 0


class StatementCsvView(_StatementMixin, View):
    def get(self, request, number):
        statement = self.get_statement()
        text = documents.statements_csv(Statement.objects.filter(pk=statement.pk))
        response = HttpResponse("\ufeff" + text, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{statement.number}.csv"'
        return response


class StatementPdfView(_StatementMixin, View):
    def get(self, request, number):
        return documents.statement_pdf_response(self.get_statement())
