"""Memberships, invitations, people and their certification records (the verification queue), attestations."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal.admin_mixins import DefaultChoiceListFilter

from .. import services
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


def _staff_entered(record: CertificationRecord, user) -> None:
    """A record channel staff add in the admin is verified by them: staff are the ones who verify."""
    now = timezone.now()
    record.status = CertificationRecord.Status.VERIFIED
    record.entered_by = record.reviewed_by = user
    record.reviewed_at = now


class CertificationRecordInline(admin.TabularInline):
    model = CertificationRecord
    extra = 0
    readonly_fields = ["status", "rejection_reason"]


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "partner", "user"]
    search_fields = ["name", "email", "partner__code"]
    raw_id_fields = ["partner", "user"]
    inlines = [CertificationRecordInline]

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for instance in instances:
            if isinstance(instance, CertificationRecord) and instance.pk is None:
                _staff_entered(instance, request.user)
            instance.save()
        for deleted in formset.deleted_objects:
            deleted.delete()
        formset.save_m2m()


class VerificationFilter(DefaultChoiceListFilter):
    """The verification queue: the list opens on the records waiting for staff."""

    title = _("verification")
    parameter_name = "verification"
    default = CertificationRecord.Status.PENDING

    def lookups(self, request, model_admin):
        return CertificationRecord.Status.choices

    def queryset_for(self, queryset, value):
        return queryset.filter(status=value)


class RejectionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (sent to the partner)"),
        help_text=_("Emailed to the partner's administrators and shown on their People & certifications page."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )


@admin.register(CertificationRecord)
class CertificationRecordAdmin(admin.ModelAdmin):
    """Certification records, and the verification queue of those partner admins entered in the portal: they
    count for nothing (tiers, competencies, services compliance, rebates) until verified here."""

    list_display = [
        "person",
        "partner",
        "certification",
        "earned_on",
        "expires_on",
        "status",
        "entered_by",
        "created_at",
        "reviewed_by",
        "reviewed_at",
    ]
    list_filter = [VerificationFilter, "certification"]
    list_select_related = ["person__partner", "certification", "entered_by", "reviewed_by"]
    search_fields = ["person__email", "person__name", "person__partner__code"]
    raw_id_fields = ["person"]
    date_hierarchy = "earned_on"
    readonly_fields = ["status", "entered_by", "created_at", "reviewed_by", "reviewed_at", "rejection_reason"]
    actions = ["verify_selected", "reject_selected"]
    ordering = ["created_at", "pk"]  # the queue: oldest entries first

    @admin.display(description=_("partner"), ordering="person__partner__code")
    def partner(self, obj):
        return obj.person.partner.code

    def save_model(self, request, obj, form, change):
        if not change:
            _staff_entered(obj, request.user)
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Verify the selected certification records"), permissions=["change"])
    def verify_selected(self, request, queryset):
        count = services.certification_records_verify(
            record_ids=list(queryset.values_list("pk", flat=True)), verified_by=request.user
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d certification record verified. It counts for tiers from the next evaluation: "
                "tonight's, or “Evaluate the selected partners' tiers today” on the partners.",
                "%(count)d certification records verified. They count for tiers from the next evaluation: "
                "tonight's, or “Evaluate the selected partners' tiers today” on the partners.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Reject the selected certification records (with a reason)"), permissions=["change"])
    def reject_selected(self, request, queryset):
        """An intermediate page asks for the reason; it is emailed to each partner's administrators."""
        form = RejectionForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            try:
                count = services.certification_records_reject(
                    record_ids=list(queryset.values_list("pk", flat=True)),
                    rejected_by=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as error:
                form.add_error("reason", error.message_dict.get("reason", error.messages))
            else:
                self.message_user(
                    request,
                    ngettext(
                        "%(count)d certification record rejected; the partner was told why.",
                        "%(count)d certification records rejected; the partners were told why.",
                        count,
                    )
                    % {"count": count},
                    messages.SUCCESS,
                )
                return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Reject certification records"),
            "form": form,
            "records": list(queryset.select_related("person__partner", "certification")),
            "action": "reject_selected",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/partners/certificationrecord/reject.html", context)


@admin.register(DellOnlyAttestation)
class DellOnlyAttestationAdmin(admin.ModelAdmin):
    list_display = ["partner", "starts_on", "ends_on", "verified_by", "verified_at"]
    search_fields = ["partner__code"]
