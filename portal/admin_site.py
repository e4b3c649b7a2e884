"""The channel staff's admin site: Django's, with a home page that starts with what needs action."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .staff_home import staff_actions


class PortalAdminSite(admin.AdminSite):
    site_header = _("Partner Portal — channel staff")
    site_title = _("Partner Portal admin")
    index_title = _("Channel staff console")

    def index(self, request, extra_context=None):
        return super().index(request, {"staff_actions": staff_actions(request.user), **(extra_context or {})})
