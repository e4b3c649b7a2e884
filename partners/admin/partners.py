"""Partners: creation through the service (status match, first admin's invitation), inlines, the invite action."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import services
from ..models import DellOnlyAttestation, Invitation, Membership, Partner
from .tiers import PartnerTierAdminMixin
from .view_as import PartnerViewAsAdminMixin


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
        fields = ["code", "name", "country", "kind", "active", "legacy_dell_tier", "legacy_emc_tier", "joined_on"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["joined_on"].initial = timezone.localdate()
        self.fields["joined_on"].help_text = _("The status match is effective on this day (by default today).")


@admin.register(Partner)
class PartnerAdmin(PartnerViewAsAdminMixin, PartnerTierAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "country", "kind", "tier", "at_risk", "active"]
    list_filter = ["active", "kind", "tier", "at_risk", "country"]
    search_fields = ["code", "name"]
    readonly_fields = ["tier", "computed_tier", "at_risk", "at_risk_reason", "evaluated_on", "created_at"]
    inlines = [MembershipInline, InvitationInline, AttestationInline]
    actions = ["invite_admin", *PartnerTierAdminMixin.tier_actions]

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
            joined_on=obj.joined_on,
            created_by=request.user,
            base_url=request.build_absolute_uri("/"),
        )
        obj.pk = partner.pk
        obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for instance in instances:
            if isinstance(instance, DellOnlyAttestation) and instance.verified_by_id is None:
                instance.verified_by, instance.verified_at = request.user, timezone.now()
            instance.save()
        for deleted in formset.deleted_objects:
            deleted.delete()
        formset.save_m2m()

    @admin.action(description=_("Re-send an invitation to the partner's admin"), permissions=["change"])
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
