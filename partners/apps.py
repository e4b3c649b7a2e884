from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from portal.csvimport import importer_register


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = _("Partners and tiers")

    def ready(self):
        from .dashboard import register_partner_cards
        from .imports import import_certifications, import_partners

        register_partner_cards()

        from django.db.models.signals import post_delete, post_save

        from portal.memo import request_memo_clear

        from .models import Tier

        # A tier saved during a request is read afresh by the rest of it (``selectors.tiers_by_code``).
        post_save.connect(request_memo_clear, sender=Tier, dispatch_uid="tiers-memo-save")
        post_delete.connect(request_memo_clear, sender=Tier, dispatch_uid="tiers-memo-delete")

        importer_register("partners", import_partners)
        importer_register("certifications", import_certifications)

        from .staff_home import register as staff_home_register

        staff_home_register()
