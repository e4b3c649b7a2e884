"""``expire_registrations [--as-of YYYY-MM-DD] [--force]``: the nightly registration job, for one date."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from deals.registrations.services import registrations_expire_once
from portal.fiscal import parse_iso_date


class Command(BaseCommand):
    help = (
        "Expire approved registrations whose protection ended, send the reminders due (the program's reminder "
        "days before the end) and re-check wins from late orders (once per date; --force re-runs it with the "
        "same result)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="the date of the run, YYYY-MM-DD (default: today)")
        parser.add_argument("--force", action="store_true", help="re-run a date that already ran")

    def handle(self, *args, **options):
        try:
            as_of = parse_iso_date(options["as_of"]) if options["as_of"] else timezone.localdate()
        except ValueError as error:
            raise CommandError(f"--as-of: {error}") from error
        result = registrations_expire_once(as_of=as_of, force=options["force"])
        if result is None:
            self.stdout.write(
                f"Registrations were already processed for {as_of.isoformat()}; nothing done (use --force)."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Registrations on {as_of.isoformat()}: {result['expired']} expired, {result['won']} won, "
                f"{result['reminders']} reminder emails queued."
            )
        )
