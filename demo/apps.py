from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """The demo program of ``make run`` (``seed_demo``): builders only, no models; no other app imports it."""

    name = "demo"
    verbose_name = _("Demo data")
