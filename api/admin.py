"""API tokens in the admin: staff create system tokens (the secret is shown once) and revoke any token."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.admin_mixins import ReadOnlyAdminMixin

from .models import ApiToken, WebhookDelivery, WebhookSubscription
from .services import DEFAULT_VALID_DAYS, MAX_VALID_DAYS, api_token_create, api_token_revoke


class SystemTokenForm(forms.ModelForm):
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_staff=True, is_active=True),
        label=gettext_lazy("staff user"),
        help_text=gettext_lazy("The vendor's system acts as this staff user."),
    )
    valid_days = forms.IntegerField(
        label=gettext_lazy("Valid for (days)"), min_value=1, max_value=MAX_VALID_DAYS, initial=DEFAULT_VALID_DAYS
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "partner", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = [("partner", admin.EmptyFieldListFilter), "revoked_at"]
    search_fields = ["name", "prefix", "user__email", "partner__code"]
    list_select_related = ["user", "partner"]
    actions = ["revoke"]
    readonly_fields = ["user", "partner", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = SystemTokenForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ["user", "name", "valid_days"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        created = api_token_create(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            valid_days=form.cleaned_data["valid_days"],
            system=True,
        )
        # The admin then links to ``obj``: make it the created row.
        obj.pk, obj.prefix, obj.digest, obj.partner = created.token.pk, created.token.prefix, "", None
        self.message_user(
            request,
            _("System token created. Copy it now, it will not be shown again: %(secret)s") % {"secret": created.secret},
            messages.WARNING,
        )

    def save_related(self, request, form, formsets, change):
        """Nothing related to save (the token is created by its service)."""

    @admin.action(description=gettext_lazy("Revoke the selected tokens"), permissions=["delete"])
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            api_token_revoke(token=token)
        self.message_user(request, _("The selected tokens are revoked."))


class WebhookDeliveryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WebhookDelivery
    fields = ["created_at", "event", "status", "attempts", "last_status_code", "last_error", "delivered_at"]
    readonly_fields = fields
    ordering = ["-created_at"]
    extra = 0
    max_num = 0


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Partners manage their webhooks on their page; staff see them and their deliveries."""

    list_display = ["url", "partner", "events", "active", "consecutive_failures", "disabled_at", "created_at"]
    list_filter = ["active"]
    list_select_related = ["partner"]
    search_fields = ["url", "partner__code"]
    fields = ["partner", "url", "events", "active", "consecutive_failures", "disabled_at", "created_by", "created_at"]
    readonly_fields = fields
    inlines = [WebhookDeliveryInline]
