from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ...partners import DEMO_PASSWORD, demo_logins, demo_staff_totp_code, seed_demo_partners


class Command(BaseCommand):
    help = "Add demo partners, users at each role and their activity (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--quiet-logins", action="store_true", help="Do not print the demo logins.")
        parser.add_argument(
            "--totp-code", action="store_true", help="Only print the demo staff login's current TOTP code."
        )

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            # The demo logins (a superuser among them) have published passwords and a published TOTP secret.
            raise CommandError(
                "seed_demo refuses to run in production (DJANGO_ENV=production): it creates logins whose "
                "passwords are published in the README. Create staff with createsuperuser instead."
            )
        if options["totp_code"]:
            self.stdout.write(demo_staff_totp_code())
            return
        with transaction.atomic():
            seed_demo_partners()
            for step in demo_steps():
                step()
        if not options["quiet_logins"]:
            self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in at http://127.0.0.1:8000/ with:"))
            for email, what in demo_logins():
                self.stdout.write(f"  {email:<34} {what}")
            self.stdout.write(f"  password for every demo login: {DEMO_PASSWORD}")
            self.stdout.write(
                "  the staff login also asks for a TOTP code: add the secret above to an authenticator app, "
                "or run `manage.py seed_demo --totp-code`"
            )


def demo_steps():
    """Each app's demo activity, in dependency order."""
    from ...orders import seed_demo_orders, seed_demo_people
    from ...rebates import seed_demo_statements
    from ...registrations import seed_demo_registrations
    from ...routing import seed_demo_routing
    from ...tiers import seed_demo_tiers

    return [
        seed_demo_people,
        seed_demo_orders,
        seed_demo_tiers,
        seed_demo_registrations,
        seed_demo_routing,
        seed_demo_statements,
    ]
