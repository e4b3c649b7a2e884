"""Staff admin for routing and channel locks: each direct order's routing trail (why it was routed, who was offered,
who declined, the outcome), manual reassignment with a reason, and the channel-locked customers with their
incumbent, expiry and history. The hard-deck ceiling is a field of the zone (partners admin)."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from partners.models import Partner
from portal.admin_mixins import LargeTableAdminMixin, ReadOnlyAdminMixin

from ..models import ChannelLock, ChannelLockEvent, RoutingCase, RoutingOffer
from .services import RoutingError, routing_reassign


class RoutingOfferInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RoutingOffer
    extra = 0
    verbose_name_plural = _("routing trail (offers, in order)")
    fields = [
        "partner",
        "source",
        "offered_on",
        "respond_by",
        "status",
        "decline_reason",
        "note",
        "decided_by",
        "decided_at",
    ]
    readonly_fields = fields
    ordering = ["id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("partner", "decided_by")


class ReassignForm(forms.Form):
    partner = forms.ModelChoiceField(
        label=_("Offer the order to"), queryset=Partner.objects.filter(active=True).order_by("code")
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


class CurrentOfferFilter(admin.SimpleListFilter):
    title = _("deadline")
    parameter_name = "deadline"

    def lookups(self, request, model_admin):
        return [("open", _("Waiting for an answer"))]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(offers__status=RoutingOffer.Status.OFFERED)
        return queryset


@admin.register(RoutingCase)
class RoutingCaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "order",
        "booked_on",
        "customer",
        "reason",
        "status",
        "current_offer",
        "accepted_partner",
        "total",
        "decided_on",
    ]
    list_filter = ["reason", "status", CurrentOfferFilter, "decided_on"]
    search_fields = ["order__number", "order__customer__name", "offers__partner__code", "accepted_partner__code"]
    list_select_related = ["order__customer", "accepted_partner"]
    date_hierarchy = "order__booked_on"
    fields = [
        "order_link",
        "customer",
        "booked_on",
        "reason",
        "why",
        "status",
        "accepted_partner",
        "outcome",
        "decided_on",
        "closed_on",
    ]
    readonly_fields = fields
    inlines = [RoutingOfferInline]
    actions = ["reassign_selected"]
    changed_through_actions = True  # the change permission is for this action: every field is read-only

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("order__customer", "accepted_partner", "incumbent", "registration__partner")
            .prefetch_related("offers__partner")
        )

    @admin.display(description=_("order"))
    def order_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:deals_order_change", args=[obj.order_id]), obj.order.number
        )

    @admin.display(description=_("customer"), ordering="order__customer__name")
    def customer(self, obj):
        return obj.order.customer

    @admin.display(description=_("booked on"), ordering="order__booked_on")
    def booked_on(self, obj):
        return obj.order.booked_on

    @admin.display(description=_("total"), ordering="order_total")
    def total(self, obj):
        return number_format(obj.order_total, decimal_pos=2, force_grouping=True)

    @admin.display(description=_("offered to (open)"))
    def current_offer(self, obj):
        for offer in obj.offers.all():
            if offer.status == RoutingOffer.Status.OFFERED:
                return format_html("{} <small>({})</small>", offer.partner.code, offer.respond_by)
        return "—"

    @admin.display(description=_("why"))
    def why(self, obj):
        items = [
            (
                _("total"),
                f"{number_format(obj.order_total, decimal_pos=2, force_grouping=True)} "
                f"(ceiling {number_format(obj.ceiling, decimal_pos=2, force_grouping=True)})",
            ),
            (_("incumbent on the booked date"), str(obj.incumbent) if obj.incumbent else "—"),
            (
                _("protected registration"),
                f"{obj.registration.number} — {obj.registration.partner}" if obj.registration else "—",
            ),
        ]
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {}</li>", items))

    @admin.action(description=_("Reassign the selected orders to a partner (with a reason)"), permissions=["change"])
    def reassign_selected(self, request, queryset):
        form = ReassignForm(request.POST if "apply" in request.POST else None)
        cases = list(queryset.select_related("order__customer"))
        if "apply" in request.POST and form.is_valid():
            done, refused = 0, []
            for case in cases:
                try:
                    routing_reassign(
                        case=case,
                        partner=form.cleaned_data["partner"],
                        reason=form.cleaned_data["reason"],
                        staff_user=request.user,
                    )
                    done += 1
                except RoutingError as error:
                    refused.append(f"{case.order}: {error}")
            if done:
                self.message_user(
                    request,
                    ngettext("%(count)d order reassigned.", "%(count)d orders reassigned.", done) % {"count": done},
                    messages.SUCCESS,
                )
            for message in refused:
                self.message_user(request, message, messages.WARNING)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Reassign routed orders"),
            "form": form,
            "cases": cases,
            "action": "reassign_selected",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/deals/routing/reassign.html", context)


class LockStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", _("Locked")), ("released", _("Released"))]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(released_on__isnull=True)
        if self.value() == "released":
            return queryset.filter(released_on__isnull=False)
        return queryset


@admin.register(ChannelLock)
class ChannelLockAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["customer", "country", "partner", "locked_on", "last_booked_on", "expires_on", "released_on"]
    list_filter = [LockStateFilter, "customer__country"]  # partners: by search (a list would read every lock)
    search_fields = ["customer__name", "partner__code", "partner__name"]
    list_select_related = ["customer", "partner"]
    fields = [
        "customer",
        "partner",
        "locked_on",
        "last_order",
        "last_booked_on",
        "expires_on",
        "released_on",
        "applied_on",
        "history",
    ]
    readonly_fields = fields

    @admin.display(description=_("country"), ordering="customer__country")
    def country(self, obj):
        return obj.customer.country

    @admin.display(description=_("history"))
    def history(self, obj):
        events = (
            ChannelLockEvent.objects.filter(customer_id=obj.customer_id)
            .select_related("partner", "order")
            .order_by("effective_on", "id")
        )
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} — {} — {} {}</li>",
                (
                    (
                        event.effective_on,
                        event.get_kind_display(),
                        event.partner.code,
                        f"({event.order.number}, expires {event.expires_on})" if event.order else "",
                    )
                    for event in events
                ),
            ),
        )


@admin.register(ChannelLockEvent)
class ChannelLockEventAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["customer", "kind", "partner", "order", "effective_on", "expires_on", "recorded_on"]
    list_filter = ["kind", "recorded_on"]
    search_fields = ["customer__name", "partner__code", "order__number"]
    list_select_related = ["customer", "partner", "order"]
    readonly_fields = [field.name for field in ChannelLockEvent._meta.fields]
