"""Staff: rates (validated), statements (filters, totals, mark paid), quarter closes and program totals."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from portal.admin_mixins import GroupedAmountsAdminMixin
from portal.widgets import DateInput

from . import documents, selectors, services
from .models import BaseRate, Component, ComponentRate, QuarterClose, RebateLine, Statement, StatementDocument


@admin.register(BaseRate)
class BaseRateAdmin(admin.ModelAdmin):
    list_display = ["tier", "product_line", "rate", "valid_from", "valid_until"]
    list_filter = ["tier", "product_line"]


@admin.register(ComponentRate)
class ComponentRateAdmin(admin.ModelAdmin):
    list_display = ["component", "rate", "valid_from", "valid_until"]
    list_filter = ["component"]


class RebateLineInline(admin.TabularInline):
    model = RebateLine
    fields = ["order_line", "component", "tier", "net_amount", "rate", "amount", "is_adjustment"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order_line__order", "tier")


class StatementDocumentInline(admin.TabularInline):
    """The stored PDFs (what was emailed and is downloaded), without their bytes."""

    model = StatementDocument
    fields = ["language", "status", "sha256", "rendered_at", "render_seconds"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("content")


class MarkPaidForm(forms.Form):
    payment_reference = forms.CharField(label=_("Payment reference"), max_length=100)
    paid_on = forms.DateField(label=_("Paid on"), initial=timezone.localdate, widget=DateInput)


@admin.register(Statement)
class StatementAdmin(GroupedAmountsAdminMixin, admin.ModelAdmin):
    list_display = ["number", "partner", "quarter", "status", "issued_on", "line_count", "total", "paid_on"]
    list_filter = ["quarter", "status"]
    search_fields = ["number", "partner__code", "partner__name", "payment_reference"]
    readonly_fields = [
        "number",
        "partner",
        "quarter",
        "status",
        "issued_on",
        "total",
        "line_count",
        "paid_on",
        "payment_reference",
        "pdf",
    ]
    inlines = [StatementDocumentInline, RebateLineInline]
    actions = ["mark_paid"]
    change_list_template = "admin/rebates/statement/change_list.html"

    def has_add_permission(self, request):
        return False  # statements are issued by the quarter close only

    def get_queryset(self, request):
        return super().get_queryset(request).defer("summary")  # the grouped totals are the partner pages'

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        try:
            queryset = response.context_data["cl"].queryset
        except (AttributeError, KeyError):
            return response
        response.context_data["statement_totals"] = queryset.aggregate(total=Sum("total"), lines=Sum("line_count"))
        return response

    @admin.action(description=_("Mark selected statements paid"), permissions=["change"])
    def mark_paid(self, request, queryset):
        if "apply" in request.POST:
            form = MarkPaidForm(request.POST)
            if form.is_valid():
                paid = 0
                for statement in queryset:
                    try:
                        services.statement_mark_paid(
                            statement=statement,
                            payment_reference=form.cleaned_data["payment_reference"],
                            paid_on=form.cleaned_data["paid_on"],
                        )
                        paid += 1
                    except ValidationError as error:
                        self.message_user(request, f"{statement.number}: {' '.join(error.messages)}", messages.ERROR)
                if paid:
                    self.message_user(request, _("%(count)d statement(s) marked paid.") % {"count": paid})
                return None
        else:
            form = MarkPaidForm()
        return TemplateResponse(
            request,
            "admin/rebates/statement/mark_paid.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Mark statements paid"),
                "statements": queryset,
                "form": form,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )

    @admin.display(description=_("PDF"))
    def pdf(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:rebates_statement_pdf", args=[obj.pk]), _("Download PDF")
        )

    def get_urls(self):
        return [
            path(
                "program-totals/", self.admin_site.admin_view(self.program_totals_view), name="rebates_program_totals"
            ),
            path("<int:statement_id>/pdf/", self.admin_site.admin_view(self.pdf_view), name="rebates_statement_pdf"),
            *super().get_urls(),
        ]

    def pdf_view(self, request, statement_id):
        """The stored PDF, in the staff member's language, as the partner downloads it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        statement = Statement.objects.select_related("partner").filter(pk=statement_id).first()
        if statement is None:
            raise Http404
        return documents.statement_pdf_response(statement)

    def program_totals_view(self, request):
        rows = selectors.program_totals()
        labels = dict(Component.choices)
        quarters = {}
        for row in rows:
            row["component_label"] = labels.get(row["component"], row["component"])
            quarters.setdefault(row["statement__quarter"], []).append(row)
        return TemplateResponse(
            request,
            "admin/rebates/program_totals.html",
            {
                **self.admin_site.each_context(request),
                "title": _("What the program pays, by quarter, tier and component"),
                "quarters": [
                    {"quarter": q, "rows": r, "total": sum(x["amount"] for x in r)} for q, r in quarters.items()
                ],
                "opts": self.model._meta,
            },
        )


@admin.register(QuarterClose)
class QuarterCloseAdmin(GroupedAmountsAdminMixin, admin.ModelAdmin):
    list_display = ["quarter", "closed_on", "closed_at", "statements", "rebate_lines", "total"]
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "program_totals_url": reverse("admin:rebates_program_totals")}
        return super().changelist_view(request, extra_context)
