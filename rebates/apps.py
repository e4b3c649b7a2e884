from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RebatesConfig(AppConfig):
    name = "rebates"
    verbose_name = _("Rebates")

    def ready(self):
        from partners.dashboard import DashboardCard, dashboard_card_register
        from partners.scoping import ROLE_ADMIN, ROLE_FINANCE

        from .selectors import rebate_accrual

        dashboard_card_register(
            DashboardCard(
                key="accrual",
                template="rebates/_accrual_card.html",
                roles=(ROLE_ADMIN, ROLE_FINANCE),  # rebate figures are for admin and finance
                load=lambda *, partner, today: rebate_accrual(partner=partner, as_of=today),
                order=20,
            )
        )

        from portal.csvimport import import_applied_listener_register

        from .accruals import accruals_refresh_after_import

        import_applied_listener_register(accruals_refresh_after_import)

        from .staff_home import register as staff_home_register

        staff_home_register()
