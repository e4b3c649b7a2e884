from allauth.account.admin import EmailAddressAdmin
from allauth.account.models import EmailAddress
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from .admin_mixins import ReadOnlyAdminMixin
from .csvimport import import_progress_of, import_upload
from .emails import OUTBOX_SEND_TASK
from .models import ImportRun, JobItemFailure, JobRun, OutboxEmail, Program, TaskOutbox, User
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
    list_display = ["name", "period", "created_at", "finished_at", "duration", "chunks_done", "runs", "redispatches"]
    list_display += ["failed_items"]
    list_filter = ["name", ("parent", admin.EmptyFieldListFilter)]
    search_fields = ["name", "period"]
    readonly_fields = [f.name for f in JobRun._meta.fields] + ["chunks_done", "item_failures"]

    def get_queryset(self, request):
        chunks = JobRun.objects.filter(parent=OuterRef("pk")).order_by().values("parent")
        return (
            super()
            .get_queryset(request)
            .annotate(
                chunk_count=Subquery(chunks.annotate(n=Count("pk")).values("n")),
                chunks_finished=Subquery(chunks.filter(finished_at__isnull=False).annotate(n=Count("pk")).values("n")),
            )
        )

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("duration"))
    def duration(self, run):
        if run.finished_at is None:
            return "—"
        return str(run.finished_at - run.created_at).split(".")[0]

    @admin.display(description=_("chunks finished"))
    def chunks_done(self, run):
        total = getattr(run, "chunk_count", None)
        return f"{getattr(run, 'chunks_finished', None) or 0} / {total}" if total else "—"

    @admin.display(description=_("failed items"))
    def failed_items(self, run):
        return (run.result or {}).get("failed_items", 0) if isinstance(run.result, dict) else 0

    @admin.display(description=_("items that failed in this run"))
    def item_failures(self, run):
        failures = JobItemFailure.objects.filter(job=run.name, period=run.period).order_by("item")
        if not failures:
            return "—"
        return format_html_join(
            mark_safe("<br>"),  # noqa: S308 (a constant)
            '<a href="{}">{}</a>: {}',
            (
                (reverse("admin:portal_jobitemfailure_change", args=[failure.pk]), failure.item, failure.error)
                for failure in failures
            ),
        )


@admin.register(JobItemFailure)
class JobItemFailureAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The items nightly jobs could not process: each with its error, until a run processes it."""

    list_display = ["job", "item", "period", "attempts", "first_seen", "last_seen", "resolved_at", "short_error"]
    list_filter = ["job", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["job", "item", "error"]
    readonly_fields = [f.name for f in JobItemFailure._meta.fields]

    @admin.display(description=_("error"))
    def short_error(self, failure):
        return failure.error if len(failure.error) <= 120 else f"{failure.error[:117]}…"


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
        "template",
        "language",
        "rendered_at",
    ]
    # The context is the send task's input (references, not text): the rendered subject and body are shown.
    exclude = ["attachment", "html_body", "attachment_content_type", "context"]
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
    list_display = ["started_at", "kind", "file_name", "status_page", "rows", "created", "unchanged", "imported_by"]
    list_filter = ["kind", "status"]
    search_fields = ["file_name", "file_sha256"]
    readonly_fields = ["kind", "file_name", "file_sha256", "imported_by", "started_at", "finished_at", "status", "rows",
                       "created", "unchanged", "error_count", "error_report"]  # fmt: skip
    exclude = ["errors", "upload"]
    change_list_template = "admin/portal/importrun/change_list.html"

    @admin.display(description=_("errors"))
    def error_report(self, obj):
        return "\n".join(f"line {error['line']}: {error['message']}" for error in obj.errors) or "—"

    @admin.display(description=_("progress"))
    def status_page(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:portal_importrun_status", args=[obj.pk]),
                           obj.get_status_display())  # fmt: skip

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="portal_importrun_upload"),
            path("<int:pk>/status/", self.admin_site.admin_view(self.status_view), name="portal_importrun_status"),
            *super().get_urls(),
        ]

    def upload_view(self, request):
        """Store the file and hand it to a worker: a large import never runs inside the web request."""
        if not request.user.has_perm("portal.add_importrun"):  # an import writes partners, people and orders
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > settings.IMPORT_MAX_BYTES:
                form.add_error("file", _("The file is larger than the import limit."))
            else:
                run = import_upload(kind=form.cleaned_data["kind"], upload=upload, user=request.user)
                return redirect("admin:portal_importrun_status", run.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import a CSV file"),
            "form": form,
            "opts": self.model._meta,
        }
        return render(request, "admin/portal/importrun/upload.html", context)

    def status_view(self, request, pk):
        """Where an upload is: waiting, running (rows read so far), applied, or rejected with every bad row."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(ImportRun, pk=pk)
        in_progress = run.status in (ImportRun.Status.PENDING, ImportRun.Status.RUNNING)
        errors = [(error["line"], error["message"]) for error in run.errors]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import of %(name)s") % {"name": run.file_name},
            "run": run,
            "in_progress": in_progress,
            "progress": import_progress_of(run.pk) if in_progress else {},
            "errors": errors,
            "rejected_rows": len({line for line, _message in errors}),
            "more_errors": max(run.error_count - len(errors), 0),
            "opts": self.model._meta,
        }
        return render(request, "admin/portal/importrun/status.html", context)


admin.site.unregister(EmailAddress)


@admin.register(EmailAddress)
class PortalEmailAddressAdmin(EmailAddressAdmin):
    """allauth's admin, except that marking addresses verified needs the change permission."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            actions.pop("make_verified", None)
        return actions
