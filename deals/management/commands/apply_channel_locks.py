"""``apply_channel_locks [--as-of YYYY-MM-DD] [--force]``: the nightly channel-lock job, for one date."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from deals.routing.locks import channel_locks_apply
from portal.fiscal import parse_iso_date


class Command(BaseCommand):
    help = "Lock customers to their incumbent partner and release expired locks as of a date (once per date)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="the date, YYYY-MM-DD (default: today)")
        parser.add_argument("--force", action="store_true", help="re-run a date already applied (same result)")

    def handle(self, *args, **options):
        try:
            as_of = parse_iso_date(options["as_of"]) if options["as_of"] else timezone.localdate()
        except ValueError as error:
            raise CommandError(f"--as-of: {error}") from error
        result = channel_locks_apply(as_of=as_of, force=options["force"])
        if result is None:
            self.stdout.write(f"Channel locks were already applied on {as_of.isoformat()}; nothing done (use --force).")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Channel locks applied on {as_of.isoformat()}: {result['locked']} locked, "
                f"{result['extended']} extended, {result['transferred']} transferred, {result['released']} released."
            )
        )
