from allauth.account.admin import EmailAddressAdmin
from allauth.account.models import EmailAddress
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _

from .admin_mixins import ReadOnlyAdminMixin
from .csvimport import ImportRejected, import_file
from .emails import OUTBOX_SEND_TASK
from .models import ImportRun, JobRun, OutboxEmail, Program, TaskOutbox, User
from .outbox import task_enqueue


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "language", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active", "language"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "language")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2", "is_staff")}),)


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return not Program.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ["name", "period", "created_at", "finished_at", "runs", "redispatches"]
    list_filter = ["name"]
    search_fields = ["name", "period"]
    readonly_fields = [f.name for f in JobRun._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(TaskOutbox)
class TaskOutboxAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # written by the code, swept by beat
    list_display = ["name", "key", "created_at", "dispatched_at", "attempts", "last_error"]
    list_filter = ["name", ("dispatched_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "key"]


@admin.register(OutboxEmail)
class OutboxEmailAdmin(admin.ModelAdmin):
    list_display = ["subject", "recipients", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status"]
    search_fields = ["key", "subject", "to"]
    readonly_fields = [
        "key",
        "to",
        "subject",
        "body",
        "attachment_name",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
    ]
    exclude = ["attachment", "html_body", "attachment_content_type"]
    actions = ["retry"]

    @admin.display(description=_("to"))
    def recipients(self, obj):
        return ", ".join(obj.to)

    @admin.action(description=_("Retry sending now"), permissions=["change"])
    def retry(self, request, queryset):
        count = 0
        with transaction.atomic():
            for email in queryset.exclude(status=OutboxEmail.Status.SENT):
                task_enqueue(OUTBOX_SEND_TASK, args=[email.pk])
                count += 1
        self.message_user(request, _("%(count)d email(s) queued for sending.") % {"count": count})

    def has_add_permission(self, request):
        return False


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"), choices=ImportRun.Kind.choices)
    file = forms.FileField(label=_("CSV file (UTF-8)"))


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # the import log is an audit trail
    list_display = ["started_at", "kind", "file_name", "status", "rows", "created", "unchanged", "imported_by"]
    list_filter = ["kind", "status"]
    search_fields = ["file_name", "file_sha256"]
    readonly_fields = ["kind", "file_name", "file_sha256", "imported_by", "started_at", "status", "rows", "created",
                       "unchanged", "error_report"]  # fmt: skip
    exclude = ["errors"]
    change_list_template = "admin/portal/importrun/change_list.html"

    @admin.display(description=_("errors"))
    def error_report(self, obj):
        return "\n".join(f"line {error['line']}: {error['message']}" for error in obj.errors) or "—"

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="portal_importrun_upload"),
            *super().get_urls(),
        ]

    def upload_view(self, request):
        if not request.user.has_perm("portal.add_importrun"):  # an import writes partners, people and orders
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        rejected = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > settings.IMPORT_MAX_BYTES:
                form.add_error("file", _("The file is larger than the import limit."))
            else:
                kind = form.cleaned_data["kind"]
                try:
                    run = import_file(kind=kind, data=upload.read(), name=upload.name, user=request.user)
                except ImportRejected as error:
                    rejected = error.errors
                else:
                    self.message_user(
                        request,
                        _("%(name)s imported: %(created)d created, %(unchanged)d unchanged.")
                        % {"name": run.file_name, "created": run.created, "unchanged": run.unchanged},
                        messages.SUCCESS,
                    )
                    return redirect("admin:portal_importrun_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import a CSV file"),
            "form": form,
            "rejected": rejected,
            "rejected_rows": len({line for line, _message in rejected or []}),
            "opts": self.model._meta,
        }
        return render(request, "admin/portal/importrun/upload.html", context)


admin.site.unregister(EmailAddress)


@admin.register(EmailAddress)
class PortalEmailAddressAdmin(EmailAddressAdmin):
    """allauth's admin, except that marking addresses verified needs the change permission."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            actions.pop("make_verified", None)
        return actions
