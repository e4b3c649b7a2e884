"""Program rules staff edit: zones and their countries, tiers, tier requirements, the certification catalog."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal.admin_mixins import GroupedAmountsAdminMixin

from ..models import Certification, Tier, TierRequirement, Zone, ZoneCountry


class ZoneCountryInline(admin.TabularInline):
    model = ZoneCountry
    extra = 1


class TierRequirementForm(forms.ModelForm):
    """A path is thresholds on the four figures: none negative, at least one above zero (the model's own
    ``clean`` refuses Titanium Black, which has no requirements)."""

    class Meta:
        model = TierRequirement
        fields = [
            "zone",
            "tier",
            "path",
            "min_revenue",
            "min_services_revenue",
            "min_certified_people",
            "min_competencies",
        ]

    def clean(self):
        cleaned = super().clean()
        for name in ["min_revenue", "min_services_revenue"]:
            value = cleaned.get(name)
            if value is not None and value < 0:
                self.add_error(name, _("A threshold cannot be negative."))
        values = [cleaned.get(name) for name in self.Meta.fields[3:]]
        if all(value is not None for value in values) and not any(values):
            raise ValidationError(_("A path with every threshold at zero would give the tier to every partner."))
        return cleaned


class TierRequirementInline(admin.TabularInline):
    model = TierRequirement
    form = TierRequirementForm
    extra = 0


@admin.register(Zone)
class ZoneAdmin(GroupedAmountsAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "is_default", "min_deal_size", "hard_deck_ceiling"]
    inlines = [ZoneCountryInline, TierRequirementInline]


@admin.register(Tier)
class TierAdmin(GroupedAmountsAdminMixin, admin.ModelAdmin):
    """The tier ladder is fixed: code, rank and overlay are read only (the rules and the history name tiers by
    code and order them by rank); staff edit each tier's numbers — weight, auto-approval limit, protection."""

    list_display = ["name", "code", "rank", "is_overlay", "routing_weight", "auto_approval_limit", "protection_days"]
    readonly_fields = ["code", "rank", "is_overlay"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TierRequirement)
class TierRequirementAdmin(GroupedAmountsAdminMixin, admin.ModelAdmin):
    form = TierRequirementForm
    list_display = [
        "zone",
        "tier",
        "path",
        "min_revenue",
        "min_services_revenue",
        "min_certified_people",
        "min_competencies",
    ]
    list_filter = ["zone", "tier"]


@admin.register(Certification)
class CertificationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "track", "product_line", "validity_months"]
    list_filter = ["track", "product_line"]
