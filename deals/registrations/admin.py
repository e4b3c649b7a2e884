"""The staff queue of deal registrations (DESIGN §4): oldest first with age and overdue, conflicts and possible
duplicates side by side, and decisions — approve, reject with a reason, arbitrate, extension — that all call the
services of ``deals.registrations.services``."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal.admin_mixins import DefaultChoiceListFilter, ReadOnlyAdminMixin
from portal.models import Program

from ..matching import CustomerIdentity
from ..models import Customer, Registration, RegistrationEvent, RegistrationLine
from .selectors import registration_competitors, registration_queue
from .services import (
    registration_approve,
    registration_arbitrate,
    registration_decide_extension,
    registration_reject,
)

Status = Registration.Status


def _target_hours() -> int:
    return Program.current().registration_decision_target_hours


def _age(registration) -> timedelta | None:
    return timezone.now() - registration.submitted_at if registration.submitted_at else None


def first_in_time(registration, competitors) -> Registration | None:
    """The earliest submitted of ``registration`` and its competitors: the one first-in-time favours."""
    submitted = [r for r in [registration, *competitors] if r.submitted_at is not None]
    return min(submitted, key=lambda r: (r.submitted_at, r.pk)) if submitted and competitors else None


class AwaitingDecisionFilter(DefaultChoiceListFilter):
    """The decision queue: the registration list opens on what awaits staff."""

    title = _("queue")
    parameter_name = "queue"
    default = "pending"

    def lookups(self, request, model_admin):
        return [
            ("pending", _("Awaiting a decision")),
            ("overdue", _("Overdue")),
            ("conflict", _("Conflicts (arbitration)")),
            ("extension", _("Extension requested")),
        ]

    def queryset_for(self, queryset, value):
        return queryset.filter(registration_queue(value))


class SubmittedStatusFilter(admin.SimpleListFilter):
    """The statuses staff can see (a draft never reaches them)."""

    title = _("status")
    parameter_name = "status__exact"  # the parameter of the plain status filter it replaces (bookmarked links)

    def lookups(self, request, model_admin):
        return [(value, label) for value, label in Status.choices if value != Status.DRAFT]

    def queryset(self, request, queryset):
        return queryset.filter(status=self.value()) if self.value() else queryset


class RegistrationLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RegistrationLine
    extra = 0
    fields = ["product_line", "estimated_amount"]
    readonly_fields = fields


class RegistrationEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RegistrationEvent
    extra = 0
    fields = ["created_at", "actor", "from_status", "to_status", "text"]
    readonly_fields = fields
    ordering = ["created_at", "pk"]

    @admin.display(description=_("note"))
    def text(self, obj):
        return obj.text

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class DecisionForm(forms.Form):
    note = forms.CharField(label=_("Note to the partner"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class ArbitrationForm(forms.Form):
    winner_note = forms.CharField(
        label=_("Note to the partner whose registration is retained"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    others_note = forms.CharField(
        label=_("Note to the other partners"),
        help_text=_("Optional. They already read that another registration was chosen; never name another partner."),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason (sent to the partner)"), widget=forms.Textarea(attrs={"rows": 3}))


OPERATIONS = {
    # operation: (title, form, needs)
    "approve": (_("Approve registration"), DecisionForm),
    "reject": (_("Reject registration"), ReasonForm),
    "arbitrate": (_("Arbitrate: approve this registration, reject the competing ones"), ArbitrationForm),
    "extension_grant": (_("Grant the extension"), DecisionForm),
    "extension_refuse": (_("Refuse the extension"), DecisionForm),
}


@admin.register(Registration)
class RegistrationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Partners register deals in the portal and a registration's history is kept: staff change registrations
    only through the decisions (actions and pages calling the services)."""

    changed_through_actions = True
    # What a decision needs first (number, status, overdue, age, conflict): on a laptop beside the admin's menu
    # and filters, or on a phone, the long partner and customer names come after and scroll inside the table.
    list_display = [
        "number",
        "status_pill",
        "overdue",
        "age",
        "conflict",
        "estimated_total_display",
        "partner",
        "customer",
        "submitted_at",
        "extension",
        "protection_ends_on",
    ]
    list_filter = [
        AwaitingDecisionFilter,
        SubmittedStatusFilter,
        "extension",
        ("partner__tier", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["number", "partner__code", "partner__name", "customer__name", "customer__vat", "opportunity_name"]
    list_select_related = ["partner", "customer"]
    ordering = ["submitted_at", "pk"]  # oldest first: the queue is worked from the top
    list_per_page = 50
    inlines = [RegistrationLineInline, RegistrationEventInline]
    actions = ["approve_selected", "reject_selected", "arbitrate_selected", "grant_extensions", "refuse_extensions"]
    fields = [
        "number",
        "partner",
        "submitted_by",
        "customer",
        "opportunity_name",
        "expected_close_on",
        "status",
        "submitted_at",
        "decided_at",
        "approved_on",
        "protection_ends_on",
        "extension",
        "extension_reason",
        "extension_requested_on",
        "conflict_with",
        "decision_text",
        "won_on",
        "won_order",
    ]
    readonly_fields = fields
    change_form_template = "admin/deals/registration/change_form.html"

    def get_queryset(self, request):
        # A draft is the partner's unsent form: staff never see it (no queue, no count, no decision).
        return (
            super()
            .get_queryset(request)
            .exclude(status=Status.DRAFT)
            .annotate(estimated_total=Sum("lines__estimated_amount"))
        )

    # --- columns ---

    @admin.display(description=_("decision note"))
    def decision_text(self, obj):
        return obj.decision_text

    @admin.display(description=_("status"), ordering="status")
    def status_pill(self, obj):
        return obj.get_status_display()

    @admin.display(description=_("estimated total"), ordering="estimated_total")
    def estimated_total_display(self, obj):
        return number_format(obj.estimated_total, decimal_pos=2, force_grouping=True) if obj.estimated_total else "—"

    @admin.display(description=_("age"), ordering="submitted_at")
    def age(self, obj):
        age = _age(obj)
        if age is None:
            return "—"
        hours = int(age.total_seconds() // 3600)
        return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"

    @admin.display(description=_("overdue"), boolean=True)
    def overdue(self, obj):
        age = _age(obj)
        if obj.status != Status.SUBMITTED or age is None:
            return None
        return age > timedelta(hours=_target_hours())

    @admin.display(description=_("conflict"), boolean=True)
    def conflict(self, obj):
        return obj.conflict_with_id is not None if obj.status == Status.SUBMITTED else None

    # --- the change page: conflicts and possible duplicates side by side, decision buttons ---

    def change_view(self, request, object_id, form_url="", extra_context=None):
        registration = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if registration is not None:
            extra_context.update(self.side_by_side(registration))
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def side_by_side(self, registration) -> dict:
        """This registration beside the competing ones and the registrations of look-alike customers."""
        competitors = list(registration_competitors(registration).prefetch_related("lines"))
        customer = registration.customer
        identity = CustomerIdentity(
            name=customer.name, country=customer.country, vat=customer.vat, domain=customer.domain
        )
        near = Customer.objects.near_matches(identity, exclude_pk=customer.pk)
        product_lines = list(registration.lines.values_list("product_line", flat=True))
        look_alikes = list(
            Registration.objects.filter(customer__in=near)
            .holding_on(timezone.localdate())
            .covering(product_lines)
            .select_related("partner", "customer")
            .prefetch_related("lines")
            .order_by("submitted_at", "pk")
        )
        operations = []
        if registration.status == Status.SUBMITTED:
            operations += ["approve", "reject"]
        if competitors and registration.status in (Status.SUBMITTED, Status.APPROVED):
            operations.append("arbitrate")
        if registration.extension == Registration.Extension.REQUESTED and registration.status == Status.APPROVED:
            operations += ["extension_grant", "extension_refuse"]
        this_registration = (
            Registration.objects.prefetch_related("lines").select_related("partner", "customer").get(pk=registration.pk)
        )
        return {
            "this_registration": this_registration,
            "competitors": competitors,
            "first_in_time": first_in_time(this_registration, competitors),
            "near_customers": near,
            "look_alikes": look_alikes,
            "operations": [(operation, OPERATIONS[operation][0]) for operation in operations],
        }

    def get_urls(self):
        return [
            path(
                "<path:object_id>/decide/<str:operation>/",
                self.admin_site.admin_view(self.decide_view),
                name="deals_registration_decide",
            ),
        ] + super().get_urls()

    def decide_view(self, request, object_id, operation):
        if operation not in OPERATIONS or not self.has_change_permission(request):
            raise Http404
        registration = self.get_object(request, object_id)
        if registration is None:
            raise Http404
        title, form_class = OPERATIONS[operation]
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                self.apply(operation, registration, request.user, form.cleaned_data)
            except ValidationError as error:
                if hasattr(error, "error_dict"):  # a refused note is shown under its own field
                    for field, errors in error.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    form.add_error(None, error.messages)
            else:
                self.message_user(request, f"{registration.number}: {title}", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:deals_registration_change", args=[registration.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": registration,
            "title": f"{title} — {registration.number}",
            "form": form,
            "registrations": [registration],
            "competitors": list(registration_competitors(registration)) if operation == "arbitrate" else [],
        }
        return TemplateResponse(request, "admin/deals/registration/decision.html", context)

    @staticmethod
    def apply(operation, registration, user, data):
        note = data.get("note", "")
        if operation == "approve":
            registration_approve(registration=registration, actor=user, note=note)
        elif operation == "reject":
            registration_reject(registration=registration, actor=user, reason=data["reason"])
        elif operation == "arbitrate":
            registration_arbitrate(
                winner=registration,
                actor=user,
                winner_note=data.get("winner_note", ""),
                others_note=data.get("others_note", ""),
            )
        else:
            registration_decide_extension(
                registration=registration, actor=user, grant=operation == "extension_grant", note=note
            )

    # --- bulk actions ---

    def _each(self, request, queryset, operation, data):
        done, refused = 0, []
        for registration in queryset.order_by("submitted_at", "pk"):
            try:
                self.apply(operation, registration, request.user, data)
            except ValidationError as error:
                refused.append(f"{registration.number}: {' '.join(error.messages)}")
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext("%(count)d registration done.", "%(count)d registrations done.", done) % {"count": done},
                messages.SUCCESS,
            )
        for message in refused:
            self.message_user(request, message, messages.WARNING)

    @admin.action(description=_("Approve the selected registrations"), permissions=["change"])
    def approve_selected(self, request, queryset):
        self._each(request, queryset, "approve", {"note": ""})

    def _with_form(self, request, queryset, *, action, form_class, title, apply):
        """An intermediate page asking for a note or reason, then ``apply(form.cleaned_data)``."""
        form = form_class(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            apply(form.cleaned_data)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "registrations": list(queryset.select_related("partner", "customer")),
            "action": action,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/deals/registration/decision.html", context)

    @admin.action(description=_("Reject the selected registrations (with a reason)"), permissions=["change"])
    def reject_selected(self, request, queryset):
        return self._with_form(
            request,
            queryset,
            action="reject_selected",
            form_class=ReasonForm,
            title=_("Reject registrations"),
            apply=lambda data: self._each(request, queryset, "reject", data),
        )

    @admin.action(description=_("Arbitrate: approve the selected one, reject its competitors"), permissions=["change"])
    def arbitrate_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one registration: the one to approve."), messages.WARNING)
            return None
        winner = queryset.get()
        return HttpResponseRedirect(reverse("admin:deals_registration_decide", args=[winner.pk, "arbitrate"]))

    @admin.action(description=_("Grant the requested extensions"), permissions=["change"])
    def grant_extensions(self, request, queryset):
        self._each(request, queryset, "extension_grant", {"note": ""})

    @admin.action(description=_("Refuse the requested extensions"), permissions=["change"])
    def refuse_extensions(self, request, queryset):
        self._each(request, queryset, "extension_refuse", {"note": ""})
