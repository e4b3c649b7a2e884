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

        importer_register("partners", import_partners)
        importer_register("certifications", import_certifications)

        from .staff_home import register as staff_home_register

        staff_home_register()
