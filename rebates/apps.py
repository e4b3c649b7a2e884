from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RebatesConfig(AppConfig):
    name = "rebates"
    verbose_name = _("Rebates")

    def ready(self):
        from partners.dashboard import dashboard_card_register

        from .dashboard import ACCRUAL_CARD, STATEMENT_CARD

        dashboard_card_register(ACCRUAL_CARD)
        dashboard_card_register(STATEMENT_CARD)

        from portal.csvimport import import_applied_listener_register

        from .accruals import accruals_refresh_after_import

        import_applied_listener_register(accruals_refresh_after_import)

        from .staff_home import register as staff_home_register

        staff_home_register()
