"""``route_direct_orders [--as-of YYYY-MM-DD] [--force]``: the nightly routing job, for one date."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from deals.routing.services import route_direct_orders
from portal.fiscal import parse_iso_date


class Command(BaseCommand):
    help = "Route direct orders booked up to a date to the channel and time out unanswered offers (once per date)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="the date, YYYY-MM-DD (default: today)")
        parser.add_argument("--force", action="store_true", help="re-run a date already routed (same result)")

    def handle(self, *args, **options):
        try:
            as_of = parse_iso_date(options["as_of"]) if options["as_of"] else timezone.localdate()
        except ValueError as error:
            raise CommandError(f"--as-of: {error}") from error
        result = route_direct_orders(as_of=as_of, force=options["force"])
        if result is None:
            self.stdout.write(f"Direct orders were already routed on {as_of.isoformat()}; nothing done (use --force).")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Direct orders routed on {as_of.isoformat()}: {result['locked']} locked, "
                f"{result['registration']} registration, {result['under_ceiling']} under the ceiling, "
                f"{result['not_routed']} not routed; {result['offers']} offers, {result['unassigned']} with nobody "
                f"to offer to; {result['expired_offers']} offers timed out."
            )
        )
