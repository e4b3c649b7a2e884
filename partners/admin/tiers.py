"""Tiers in the admin (DESIGN §3): the explanation page, Titanium Black, overrides, the export, the history.

``PartnerTierAdminMixin`` gives the partner admin its tier pages and actions; every write goes through the tier
services (``partners.tiers``).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.admin_mixins import ReadOnlyAdminMixin

from ..models import Partner, Tier, TierHistory, TitaniumBlackAward
from ..tiers import awards, engine, overview
from ..tiers.forecast import tier_outlook


class PartnerTierAdminMixin:
    """The tier pages and actions of the partner admin."""

    tier_actions = [
        "evaluate_tiers_today",
        "download_tier_export",
        "award_titanium_black",
        "revoke_titanium_black",
        "override_tier",
    ]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("tier-export/", view(self.tier_export_view), name="partners_partner_tier_export"),
            path("<path:object_id>/tier/", view(self.tier_view), name="partners_partner_tier"),
            path(
                "<path:object_id>/tier/<str:operation>/",
                view(self.tier_operation_view),
                name="partners_partner_tier_operation",
            ),
            *super().get_urls(),
        ]

    def _partner_or_404(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(Partner, pk=object_id)

    def tier_view(self, request, object_id):
        """The partner's "My tier" explanation, for staff."""
        partner = self._partner_or_404(request, object_id)
        as_of = timezone.localdate()
        if request.GET.get("as_of"):
            form = TierExportForm(request.GET)
            if form.is_valid():
                as_of = form.cleaned_data["as_of"]
        tier = overview.tier_overview(partner=partner, as_of=as_of)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": partner,
            "title": _("Tier of %(partner)s") % {"partner": partner},
            "overview": tier,
            "outlook": tier_outlook(evaluation=tier.evaluation, next_tier=tier.next_tier),
            "staff_view": True,
            "base_template": "admin/partners/partner/tier_base.html",
        }
        return TemplateResponse(request, "partners/my_tier.html", context)

    def tier_operation_view(self, request, object_id, operation):
        """Award or revoke Titanium Black, or override the tier, through the tier services."""
        if operation not in TIER_OPERATIONS or not self.has_change_permission(request):
            raise PermissionDenied
        partner = self._partner_or_404(request, object_id)
        form_class, title = TIER_OPERATIONS[operation]
        form = form_class(request.POST or None, partner=partner)
        if request.method == "POST" and form.is_valid():
            try:
                form.apply(user=request.user)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(request, _("Done: %(title)s for %(code)s.") % {"title": title, "code": partner.code})
                return HttpResponseRedirect(reverse("admin:partners_partner_tier", args=[partner.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": partner,
            "title": f"{title} — {partner}",
            "form": form,
        }
        return TemplateResponse(request, "admin/partners/partner/tier_operation.html", context)

    def tier_export_view(self, request):
        """Download the tier export of DESIGN §7 on a date (default today)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = TierExportForm(request.GET or None)
        if request.GET and form.is_valid():
            return _tier_export_response(form.cleaned_data["as_of"])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Download the tier export"),
            "form": form,
        }
        return TemplateResponse(request, "admin/partners/partner/tier_operation.html", context)

    @admin.action(description=_("Evaluate the selected partners' tiers today"), permissions=["change"])
    def evaluate_tiers_today(self, request, queryset):
        result = engine.tier_evaluate(
            as_of=timezone.localdate(), partner_ids=list(queryset.values_list("pk", flat=True)), changed_by=request.user
        )
        self.message_user(
            request,
            _("%(evaluated)s partners evaluated: %(changes)s tier changes, %(at_risk)s at risk.") % result,
        )

    @admin.action(description=_("Download the tier export (today) of the selected partners"))
    def download_tier_export(self, request, queryset):
        return _tier_export_response(timezone.localdate(), partner_ids=list(queryset.values_list("pk", flat=True)))

    def _one_partner_operation(self, request, queryset, operation):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one partner."), messages.WARNING)
            return None
        return HttpResponseRedirect(
            reverse("admin:partners_partner_tier_operation", args=[queryset.get().pk, operation])
        )

    @admin.action(description=_("Award Titanium Black to the selected partner"), permissions=["change"])
    def award_titanium_black(self, request, queryset):
        return self._one_partner_operation(request, queryset, "award")

    @admin.action(description=_("Revoke the selected partner's Titanium Black"), permissions=["change"])
    def revoke_titanium_black(self, request, queryset):
        return self._one_partner_operation(request, queryset, "revoke")

    @admin.action(description=_("Override the selected partner's tier"), permissions=["change"])
    def override_tier(self, request, queryset):
        return self._one_partner_operation(request, queryset, "override")


def _tier_export_response(as_of, partner_ids=None) -> HttpResponse:
    response = HttpResponse(
        overview.tier_export_csv(as_of=as_of, partner_ids=partner_ids), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="tiers-{as_of.isoformat()}.csv"'
    return response


class TierExportForm(forms.Form):
    as_of = forms.DateField(label=_("as of"), initial=timezone.localdate, help_text=_("YYYY-MM-DD"))


class TierOperationForm(forms.Form):
    def __init__(self, *args, partner: Partner, **kwargs):
        super().__init__(*args, **kwargs)
        self.partner = partner


class TitaniumBlackAwardForm(TierOperationForm):
    sponsor = forms.CharField(label=_("sponsor"), max_length=200)
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 3}))
    awarded_on = forms.DateField(label=_("awarded on"), initial=timezone.localdate)

    def apply(self, *, user):
        return awards.titanium_black_award(
            partner=self.partner,
            sponsor=self.cleaned_data["sponsor"],
            reason=self.cleaned_data["reason"],
            awarded_on=self.cleaned_data["awarded_on"],
            awarded_by=user,
        )


class TitaniumBlackRevokeForm(TierOperationForm):
    revoked_on = forms.DateField(label=_("revoked on"), initial=timezone.localdate)
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 3}))

    def clean(self):
        cleaned = super().clean()
        self.award = self.partner.titanium_black_awards.filter(ended_on__isnull=True).order_by("-awarded_on").first()
        if self.award is None:
            raise ValidationError(_("This partner holds no active Titanium Black award."))
        return cleaned

    def apply(self, *, user):
        return awards.titanium_black_revoke(
            award=self.award,
            revoked_on=self.cleaned_data["revoked_on"],
            reason=self.cleaned_data["reason"],
            revoked_by=user,
        )


class TierOverrideForm(TierOperationForm):
    tier = forms.ModelChoiceField(label=_("new tier"), queryset=Tier.objects.filter(is_overlay=False))
    effective_on = forms.DateField(label=_("effective on"), initial=timezone.localdate)
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 3}))

    def apply(self, *, user):
        return awards.tier_override(
            partner=self.partner,
            tier=self.cleaned_data["tier"],
            reason=self.cleaned_data["reason"],
            effective_on=self.cleaned_data["effective_on"],
            changed_by=user,
        )


TIER_OPERATIONS = {
    "award": (TitaniumBlackAwardForm, _("Award Titanium Black")),
    "revoke": (TitaniumBlackRevokeForm, _("Revoke Titanium Black")),
    "override": (TierOverrideForm, _("Override the tier")),
}


@admin.register(TierHistory)
class TierHistoryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["partner", "from_tier", "to_tier", "effective_on", "reason", "changed_by"]
    list_filter = ["reason", "to_tier"]
    search_fields = ["partner__code"]
    readonly_fields = [f.name for f in TierHistory._meta.fields]


@admin.register(TitaniumBlackAward)
class TitaniumBlackAwardAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read only: awards are given and revoked from the partner (actions), through the tier services."""

    list_display = ["partner", "awarded_on", "ends_on", "sponsor", "ended_on", "end_reason"]
    search_fields = ["partner__code", "sponsor"]
    readonly_fields = [f.name for f in TitaniumBlackAward._meta.fields]
