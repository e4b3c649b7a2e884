from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from portal.csvimport import importer_register


class DealsConfig(AppConfig):
    name = "deals"
    verbose_name = _("Customers, orders and deals")

    def ready(self):
        from partners.dashboard import dashboard_card_register

        from .dashboard import ACTIONS_CARD
        from .imports_postgres import import_orders_streamed

        importer_register("orders", import_orders_streamed, streams=True)
        dashboard_card_register(ACTIONS_CARD)

        from .staff_home import register as staff_home_register

        staff_home_register()
