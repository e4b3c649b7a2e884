from django.core.management.base import BaseCommand
from django.db import transaction

from ...partners import DEMO_PASSWORD, demo_logins, seed_demo_partners


class Command(BaseCommand):
    help = "Add demo partners, users at each role and their activity (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--quiet-logins", action="store_true", help="Do not print the demo logins.")

    def handle(self, *args, **options):
        with transaction.atomic():
            seed_demo_partners()
            for step in demo_steps():
                step()
        if not options["quiet_logins"]:
            self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in at http://127.0.0.1:8000/ with:"))
            for email, what in demo_logins():
                self.stdout.write(f"  {email:<34} {what}")
            self.stdout.write(f"  password for every demo login: {DEMO_PASSWORD}")


def demo_steps():
    """Each app's demo activity, in dependency order."""
    from django.utils import timezone

    from partners.tiers import tier_recompute_all

    from ...orders import seed_demo_orders, seed_demo_people
    from ...rebates import seed_demo_statements
    from ...registrations import seed_demo_registrations
    from ...routing import seed_demo_routing

    def seed_demo_tiers():
        tier_recompute_all(as_of=timezone.localdate())

    return [
        seed_demo_people,
        seed_demo_orders,
        seed_demo_tiers,
        seed_demo_registrations,
        seed_demo_routing,
        seed_demo_statements,
    ]
