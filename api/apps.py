from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = _("API")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from portal.events import event_listener_register

        from .webhooks import webhook_events_listen

        event_listener_register(webhook_events_listen)
