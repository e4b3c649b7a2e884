"""``export_tiers [--as-of YYYY-MM-DD] [--output PATH]``: the tier export of DESIGN §7 (CSV)."""

from pathlib import Path

from django.core.management.base import CommandError

from partners.tiers.overview import tier_export_csv
from portal.jobcommand import DatedCommand


class Command(DatedCommand):
    help = (
        "Print partner_code,tier,computed_tier,at_risk,qualifying_revenue,services_revenue,certified_people,"
        "competencies for every active partner on a date (tier: effective tier; figures: 1.25X applied; "
        "at_risk: true|false)."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--output", help="write to this file instead of standard output")

    def handle(self, *args, **options):
        as_of = self.as_of(options)
        output = Path(options["output"]) if options["output"] else None
        if output is not None and not output.parent.is_dir():
            raise CommandError(f"--output: the folder {output.parent} does not exist")
        text = tier_export_csv(as_of=as_of)
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            raise CommandError(f"--output: cannot write {output}: {error}") from error
        self.stderr.write(f"Wrote {text.count(chr(10)) - 1} partners to {output}.")
