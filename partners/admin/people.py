"""Memberships, invitations, people and their certification records, attestations."""

from django.contrib import admin

from ..models import CertificationRecord, DellOnlyAttestation, Invitation, Membership, Person


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


@admin.register(CertificationRecord)
class CertificationRecordAdmin(admin.ModelAdmin):
    list_display = ["person", "certification", "earned_on", "expires_on"]
    list_filter = ["certification"]
    search_fields = ["person__email", "person__partner__code"]
    raw_id_fields = ["person"]
    date_hierarchy = "earned_on"


@admin.register(DellOnlyAttestation)
class DellOnlyAttestationAdmin(admin.ModelAdmin):
    list_display = ["partner", "starts_on", "ends_on", "verified_by", "verified_at"]
    search_fields = ["partner__code"]
