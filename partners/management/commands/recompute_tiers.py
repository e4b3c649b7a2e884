"""``recompute_tiers [--as-of YYYY-MM-DD] [--force]``: the nightly tier evaluation, for one date."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from partners.tiers.engine import tier_recompute_all
from portal.fiscal import parse_iso_date


class Command(BaseCommand):
    help = "Evaluate every active partner's tier on a date (once per date; --force re-runs it, same result)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="the evaluation date, YYYY-MM-DD (default: today)")
        parser.add_argument("--force", action="store_true", help="re-run a date that was already evaluated")

    def handle(self, *args, **options):
        try:
            as_of = parse_iso_date(options["as_of"]) if options["as_of"] else timezone.localdate()
        except ValueError as error:
            raise CommandError(f"--as-of: {error}") from error
        result = tier_recompute_all(as_of=as_of, force=options["force"])
        if result is None:
            self.stdout.write(f"Tiers were already evaluated on {as_of.isoformat()}; nothing done (use --force).")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Tiers evaluated on {as_of.isoformat()}: {result['evaluated']} partners, "
                f"{result['changes']} changes, {result['at_risk']} at risk."
            )
        )
