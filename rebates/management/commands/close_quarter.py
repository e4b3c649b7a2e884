"""``close_quarter FY2018-Q1 [--as-of YYYY-MM-DD]``: issue the quarter's rebate statements, once."""

from django.core.management.base import CommandError
from django.utils import timezone

from portal.fiscal import Quarter
from portal.jobcommand import DatedCommand
from rebates.services import QuarterCloseError, quarter_close


class Command(DatedCommand):
    help = "Close a quarter: issue one rebate statement per partner with rebate lines (once per quarter)."
    as_of_help = "the close date, YYYY-MM-DD (default: today)"

    def add_arguments(self, parser):
        parser.add_argument("quarter", help="the quarter, e.g. FY2018-Q1")
        super().add_arguments(parser)

    def handle(self, *args, **options):
        try:
            quarter = Quarter.parse(options["quarter"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        as_of = self.as_of(options)
        today = timezone.localdate()
        if as_of > today:
            # A close freezes statements from what has happened; a future date would issue them early, for good.
            raise CommandError(f"--as-of {as_of} is in the future (today is {today}): nothing was closed.")
        try:
            result = quarter_close(quarter=quarter, as_of=as_of)
        except QuarterCloseError as error:
            raise CommandError(str(error)) from error
        verb = "closed" if result["created"] else "was already closed"
        self.stdout.write(
            self.style.SUCCESS(
                f"{quarter} {verb} (as of {result['closed_on']}): {result['statements']} statements, "
                f"{result['rebate_lines']} rebate lines, total {result['total']}."
            )
        )
