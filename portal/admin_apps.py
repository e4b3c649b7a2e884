"""Django's admin app with the portal's site (``portal.admin_site``): listed in INSTALLED_APPS in its place.

Its own module: an ``apps.py`` holding two app configs would make Django pick neither by default."""

from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    default_site = "portal.admin_site.PortalAdminSite"
