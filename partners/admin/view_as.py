"""Staff: "View as partner" from a partner's admin page (read only, logged), and the log of those views."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from portal.admin_mixins import ReadOnlyAdminMixin

from ..models import Partner, PartnerViewSession
from ..view_as import PartnerViewError, may_view_as_partner, partner_view_start


class PartnerViewAsAdminMixin:
    """The partner admin's "View as partner" page: a confirmation, then POST starts the view."""

    def get_urls(self):
        wrapped = self.admin_site.admin_view(self.view_as_view)

        def staff_view(request, *args, **kwargs):
            # A signed-in user who is not staff gets a plain 403, not the admin's login page.
            if request.user.is_authenticated and not request.user.is_staff:
                raise PermissionDenied
            return wrapped(request, *args, **kwargs)

        return [
            path("<path:object_id>/view-as/", staff_view, name="partners_partner_view_as"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"can_view_as_partner": may_view_as_partner(request.user), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def view_as_view(self, request, object_id):
        if not may_view_as_partner(request.user):
            raise PermissionDenied
        partner = get_object_or_404(Partner, pk=object_id)
        if request.method == "POST":
            try:
                partner_view_start(request=request, partner=partner)
            except PartnerViewError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                return HttpResponseRedirect(reverse("dashboard"))
        context = {
            **self.admin_site.each_context(request),
            "opts": Partner._meta,
            "original": partner,
            "title": _("View as partner"),
        }
        return TemplateResponse(request, "admin/partners/partner/view_as.html", context)


@admin.register(PartnerViewSession)
class PartnerViewSessionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["staff_user", "partner", "started_at", "ended_at"]
    list_filter = ["started_at"]
    search_fields = ["staff_user__email", "partner__code", "partner__name"]
    list_select_related = ["staff_user", "partner"]
    readonly_fields = ["staff_user", "partner", "started_at", "ended_at"]
