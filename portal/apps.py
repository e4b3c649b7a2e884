from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Portal")

    def ready(self):
        from django.db.models.signals import post_save

        from .memo import request_memo_clear
        from .models import Program
        from .staff_home_items import register

        register()
        # The program saved during a request is read afresh by the rest of it (``Program.current``).
        post_save.connect(request_memo_clear, sender=Program, dispatch_uid="program-memo-save")
