"""The shared body of the dated management commands: ``--as-of YYYY-MM-DD`` (default today), and for the
nightly jobs ``--force`` and the "already ran on that date" answer (DESIGN §7)."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from .fiscal import parse_iso_date


class DatedCommand(BaseCommand):
    """A command computed for one date: ``--as-of`` parsed strictly, a bad date is a clear error."""

    as_of_help = "the date, YYYY-MM-DD (default: today)"

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help=self.as_of_help)

    def as_of(self, options) -> date:
        if not options["as_of"]:
            return timezone.localdate()
        try:
            return parse_iso_date(options["as_of"])
        except ValueError as error:
            raise CommandError(f"--as-of: {error}") from error


class DatedJobCommand(DatedCommand):
    """A nightly job for one date, claimed once per date: ``run()`` returns its summary, or ``None`` when the
    date already ran (then nothing is done unless ``--force``, which re-runs it with the same result)."""

    force_help = "re-run a date that already ran (same result)"
    #: How the "already ran" answer starts, e.g. "Tiers were already evaluated on {as_of}".
    already_done = "{as_of} already ran"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--force", action="store_true", help=self.force_help)

    def run(self, *, as_of: date, force: bool) -> dict | None:
        raise NotImplementedError

    def summary(self, *, as_of: date, result: dict) -> str:
        raise NotImplementedError

    def handle(self, *args, **options):
        as_of = self.as_of(options)
        result = self.run(as_of=as_of, force=options["force"])
        if result is None:
            self.stdout.write(self.already_done.format(as_of=as_of.isoformat()) + "; nothing done (use --force).")
            return
        self.stdout.write(self.style.SUCCESS(self.summary(as_of=as_of, result=result)))
