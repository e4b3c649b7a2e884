"""Staff admin for routing and channel locks: each direct order's routing trail (why it was routed, who was offered,
who declined, the outcome), manual reassignment with a reason, and the channel-locked customers with their
incumbent, expiry and history. The hard-deck ceiling is a field of the zone (partners admin)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from partners.models import Partner
from portal.admin_mixins import LargeTableAdminMixin, ReadOnlyAdminMixin

from ..models import ChannelLock, ChannelLockEvent, ChannelLockOverride, RoutingCase, RoutingOffer
from .services import (
    ChannelLockError,
    RoutingError,
    channel_lock_current,
    channel_lock_release,
    channel_lock_transfer,
    lock_transfer_candidates,
    routing_reassign,
)

OVERRIDE_PERMISSION = "deals.override_channellock"


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


class LockReleaseForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)
    effective_on = forms.DateField(
        label=_("Effective on"), help_text=_("Today, or an earlier day on or after the lock's latest order.")
    )


class LockTransferForm(LockReleaseForm):
    to_partner = forms.ModelChoiceField(label=_("New incumbent"), queryset=Partner.objects.none())
    field_order = ["to_partner", "reason", "effective_on"]

    def __init__(self, *args, customer, incumbent_id, **kwargs):
        super().__init__(*args, **kwargs)
        # Active partners of the customer's zone, not the current incumbent.
        self.fields["to_partner"].queryset = lock_transfer_candidates(customer).exclude(pk=incumbent_id)


LOCK_OPERATIONS = {
    "release": (LockReleaseForm, _("Release lock")),
    "transfer": (LockTransferForm, _("Transfer lock")),
}


@admin.register(ChannelLock)
class ChannelLockAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["customer", "country", "partner", "locked_on", "last_booked_on", "expires_on", "released_on"]
    list_filter = [LockStateFilter, "customer__country"]  # partners: by search (a list would read every lock)
    search_fields = ["customer__name", "partner__code", "partner__name"]
    list_select_related = ["customer", "partner"]
    change_form_template = "admin/deals/channellock/change_form.html"
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

    def get_urls(self):
        view = self._staff_only(self.override_view)
        return [
            *(
                path(
                    f"<path:object_id>/{operation}/",
                    view,
                    {"operation": operation},
                    name=f"deals_channellock_{operation}",
                )
                for operation in LOCK_OPERATIONS
            ),
            *super().get_urls(),
        ]

    def _staff_only(self, view):
        """The admin's own wrapper (staff login, CSRF, no cache), and a plain 403 for a signed-in non-staff user
        rather than the admin's login page."""
        wrapped = self.admin_site.admin_view(view)

        def staff_view(request, *args, **kwargs):
            if request.user.is_authenticated and not request.user.is_staff:
                raise PermissionDenied
            return wrapped(request, *args, **kwargs)

        return staff_view

    def change_view(self, request, object_id, form_url="", extra_context=None):
        can = request.user.has_perm(OVERRIDE_PERMISSION)
        return super().change_view(request, object_id, form_url, {"can_override_lock": can, **(extra_context or {})})

    def override_view(self, request, object_id, operation):
        """Release or transfer the lock, with a reason, after a confirmation form (POST)."""
        if operation not in LOCK_OPERATIONS or not request.user.has_perm(OVERRIDE_PERMISSION):
            raise PermissionDenied
        lock = get_object_or_404(ChannelLock.objects.select_related("customer", "partner"), pk=object_id)
        today = timezone.localdate()
        state = channel_lock_current(lock.customer, today=today)
        form_class, title = LOCK_OPERATIONS[operation]
        kwargs = {"initial": {"effective_on": today}}
        if form_class is LockTransferForm:
            kwargs.update(customer=lock.customer, incumbent_id=state.partner_id if state else lock.partner_id)
        form = form_class(request.POST if request.method == "POST" else None, **kwargs)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if operation == "release":
                    channel_lock_release(
                        customer=lock.customer,
                        reason=data["reason"],
                        effective_on=data["effective_on"],
                        staff_user=request.user,
                        today=today,
                    )
                else:
                    channel_lock_transfer(
                        customer=lock.customer,
                        to_partner=data["to_partner"],
                        reason=data["reason"],
                        effective_on=data["effective_on"],
                        staff_user=request.user,
                        today=today,
                    )
            except ChannelLockError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, _("The channel lock was changed."), messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:deals_channellock_change", args=[lock.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": lock,
            "lock": lock,
            "state": state,
            "title": title,
            "form": form,
        }
        return TemplateResponse(request, "admin/deals/channellock/override.html", context)

    @admin.display(description=_("country"), ordering="customer__country")
    def country(self, obj):
        return obj.customer.country

    @admin.display(description=_("history"))
    def history(self, obj):
        events = (
            ChannelLockEvent.objects.filter(customer_id=obj.customer_id)
            .select_related("partner", "order", "override__created_by", "override__from_partner")
            .order_by("effective_on", "id")
        )
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} — {} — {} {}</li>",
                ((event.effective_on, event.get_kind_display(), event.partner.code, self._event_detail(event))
                 for event in events),
            ),
        )  # fmt: skip

    @staticmethod
    def _event_detail(event):
        if event.order:
            return f"({event.order.number}, expires {event.expires_on})"
        override = event.override
        if override is None:
            return ""
        by = override.created_by.email if override.created_by else "—"
        detail = _("by %(user)s on %(when)s, from %(partner)s: %(reason)s") % {
            "user": by,
            "when": timezone.localtime(override.created_at).strftime("%Y-%m-%d %H:%M"),
            "partner": override.from_partner.code,
            "reason": override.reason,
        }
        if event.expires_on:
            detail = f"{detail} ({_('expires')} {event.expires_on})"
        return detail


@admin.register(ChannelLockOverride)
class ChannelLockOverrideAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["customer", "kind", "from_partner", "to_partner", "effective_on", "created_by", "created_at"]
    list_filter = ["kind"]
    search_fields = ["customer__name", "from_partner__code", "to_partner__code", "reason"]
    list_select_related = ["customer", "from_partner", "to_partner", "created_by"]
    readonly_fields = [field.name for field in ChannelLockOverride._meta.fields]


@admin.register(ChannelLockEvent)
class ChannelLockEventAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["customer", "kind", "partner", "order", "effective_on", "expires_on", "recorded_on"]
    list_filter = ["kind", "recorded_on"]
    search_fields = ["customer__name", "partner__code", "order__number"]
    list_select_related = ["customer", "partner", "order"]
    readonly_fields = [field.name for field in ChannelLockEvent._meta.fields]
