from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import services
from .models import (
    Certification,
    CertificationRecord,
    DellOnlyAttestation,
    Invitation,
    Membership,
    Partner,
    Person,
    Tier,
    TierHistory,
    TierRequirement,
    TitaniumBlackAward,
    Zone,
    ZoneCountry,
)


class ZoneCountryInline(admin.TabularInline):
    model = ZoneCountry
    extra = 1


class TierRequirementInline(admin.TabularInline):
    model = TierRequirement
    extra = 0


@admin.register(Zone)
class ZoneAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_default", "min_deal_size", "hard_deck_ceiling"]
    inlines = [ZoneCountryInline, TierRequirementInline]


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "rank", "is_overlay", "routing_weight", "auto_approval_limit", "protection_days"]


@admin.register(TierRequirement)
class TierRequirementAdmin(admin.ModelAdmin):
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


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


class AttestationInline(admin.TabularInline):
    model = DellOnlyAttestation
    extra = 0
    readonly_fields = ["verified_by", "verified_at"]


class InvitationInline(admin.TabularInline):
    model = Invitation
    extra = 0
    fields = ["email", "role", "created_at", "expires_at", "accepted_at", "revoked_at"]
    readonly_fields = ["created_at", "accepted_at"]


class PartnerAddForm(forms.ModelForm):
    first_admin_email = forms.EmailField(
        label=_("first admin's email"),
        help_text=_("An invitation to this address makes them the partner's first administrator."),
    )

    class Meta:
        model = Partner
        fields = ["code", "name", "country", "kind", "active", "legacy_dell_tier", "legacy_emc_tier"]


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "country", "kind", "tier", "at_risk", "active"]
    list_filter = ["active", "kind", "tier", "at_risk", "country"]
    search_fields = ["code", "name"]
    readonly_fields = ["tier", "computed_tier", "at_risk", "at_risk_reason", "evaluated_on", "created_at"]
    inlines = [MembershipInline, InvitationInline, AttestationInline]
    actions = ["invite_admin"]

    def get_fields(self, request, obj=None):
        fields = ["code", "name", "country", "kind", "active", "legacy_dell_tier", "legacy_emc_tier"]
        if obj is None:
            return [*fields, "first_admin_email"]
        return fields + self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = PartnerAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        partner = services.partner_create(
            code=obj.code,
            name=obj.name,
            country=obj.country,
            kind=obj.kind,
            legacy_dell_tier=obj.legacy_dell_tier,
            legacy_emc_tier=obj.legacy_emc_tier,
            admin_email=form.cleaned_data["first_admin_email"],
            created_by=request.user,
            base_url=request.build_absolute_uri("/"),
        )
        obj.pk = partner.pk
        obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for instance in instances:
            if isinstance(instance, DellOnlyAttestation) and instance.verified_by_id is None:
                from django.utils import timezone

                instance.verified_by, instance.verified_at = request.user, timezone.now()
            instance.save()
        for deleted in formset.deleted_objects:
            deleted.delete()
        formset.save_m2m()

    @admin.action(description=_("Re-send an invitation to the partner's admin"))
    def invite_admin(self, request, queryset):
        for partner in queryset:
            admin_membership = partner.memberships.filter(role=Membership.Role.ADMIN).first()
            if admin_membership:
                self.message_user(request, _("%(code)s already has an admin.") % {"code": partner.code}, messages.INFO)
                continue
            invitation = partner.invitations.order_by("-created_at").first()
            if invitation is None:
                self.message_user(
                    request, _("%(code)s has no invitation to re-send.") % {"code": partner.code}, messages.WARNING
                )
                continue
            try:
                services.invitation_create(
                    partner=partner,
                    email=invitation.email,
                    role=invitation.role,
                    invited_by=request.user,
                    base_url=request.build_absolute_uri("/"),
                )
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "partner", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "partner__code", "partner__name"]
    raw_id_fields = ["user", "partner"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "partner", "role", "created_at", "expires_at", "accepted_at", "revoked_at"]
    search_fields = ["email", "partner__code"]
    readonly_fields = ["token", "created_at", "accepted_at"]


class CertificationRecordInline(admin.TabularInline):
    model = CertificationRecord
    extra = 0


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "partner", "user"]
    search_fields = ["name", "email", "partner__code"]
    raw_id_fields = ["partner", "user"]
    inlines = [CertificationRecordInline]


@admin.register(Certification)
class CertificationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "track", "product_line", "validity_months"]
    list_filter = ["track", "product_line"]


@admin.register(CertificationRecord)
class CertificationRecordAdmin(admin.ModelAdmin):
    list_display = ["person", "certification", "earned_on", "expires_on"]
    list_filter = ["certification"]
    search_fields = ["person__email", "person__partner__code"]
    raw_id_fields = ["person"]
    date_hierarchy = "earned_on"


@admin.register(TierHistory)
class TierHistoryAdmin(admin.ModelAdmin):
    list_display = ["partner", "from_tier", "to_tier", "effective_on", "reason", "changed_by"]
    list_filter = ["reason", "to_tier"]
    search_fields = ["partner__code"]
    readonly_fields = [f.name for f in TierHistory._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TitaniumBlackAward)
class TitaniumBlackAwardAdmin(admin.ModelAdmin):
    list_display = ["partner", "awarded_on", "ends_on", "sponsor", "ended_on", "end_reason"]
    search_fields = ["partner__code", "sponsor"]


@admin.register(DellOnlyAttestation)
class DellOnlyAttestationAdmin(admin.ModelAdmin):
    list_display = ["partner", "starts_on", "ends_on", "verified_by", "verified_at"]
    search_fields = ["partner__code"]
