"""``export_statement (NUMBER… | --quarter FY2018-Q1) [--format csv|pdf] [--output PATH]``.

A PDF of one statement is its stored document (rendered and stored first if missing); ``--output`` naming a
directory writes each statement's stored PDF there as ``<number>.pdf``; several statements in one file are
rendered together, as before (a stored PDF cannot be concatenated without a PDF library).
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from portal.fiscal import Quarter
from rebates.documents import statement_document, statements_csv_write, statements_pdf
from rebates.models import Statement


class _Unterminated:
    """The command's standard output as a plain file: ``OutputWrapper.write`` would end every write with a line."""

    def __init__(self, stdout):
        self.stdout = stdout

    def write(self, text):
        self.stdout.write(text, ending="")


class Command(BaseCommand):
    help = "Export rebate statements as CSV (DESIGN §7, to standard output by default) or PDF."

    def add_arguments(self, parser):
        parser.add_argument("numbers", nargs="*", help="statement numbers, e.g. RS-FY2018-Q1-P00001")
        parser.add_argument("--quarter", help="every statement of a quarter, e.g. FY2018-Q1")
        parser.add_argument("--format", choices=["csv", "pdf"], default="csv")
        parser.add_argument(
            "--output", help="write to this file instead of standard output (PDF: a directory, one file each)"
        )

    def handle(self, *args, **options):
        numbers, quarter = options["numbers"], options["quarter"]
        if bool(numbers) == bool(quarter):
            raise CommandError("Give statement numbers or --quarter (one of the two).")
        if quarter:
            try:
                quarter = Quarter.parse(quarter)
            except ValueError as error:
                raise CommandError(str(error)) from error
            statements = Statement.objects.for_quarter(quarter)
        else:
            statements = Statement.objects.filter(number__in=numbers)
            unknown = sorted(set(numbers) - set(statements.values_list("number", flat=True)))
            if unknown:
                raise CommandError(f"Unknown statement(s): {', '.join(unknown)}")
        if options["format"] == "pdf":
            if not options["output"]:
                raise CommandError("A PDF needs --output PATH.")
            statements = statements.select_related("partner").order_by("number")
            output = Path(options["output"])
            if output.is_dir():
                for statement in statements:
                    (output / f"{statement.number}.pdf").write_bytes(bytes(statement_document(statement).content))
                return
            if len(statements) == 1:
                content = bytes(statement_document(statements[0]).content)
            else:
                content = statements_pdf(statements)
            output.write_bytes(content)
            return
        if options["output"]:  # written as the rows are read: a whole quarter is never held in memory
            with open(options["output"], "w", encoding="utf-8", newline="") as file:
                statements_csv_write(statements, file)
        else:
            statements_csv_write(statements, _Unterminated(self.stdout))
