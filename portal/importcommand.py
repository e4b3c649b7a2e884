"""The shared body of the ``import_*`` management commands."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from .csvimport import ImportRejected, import_file


class ImportCommand(BaseCommand):
    kind: str = ""

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file (UTF-8, header row as in DESIGN §7)")
        parser.add_argument("--user", help="email of the staff user recorded as the importer")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(email__iexact=options["user"]).first()
            if user is None:
                raise CommandError(f"--user: no user with the email {options['user']}")
        try:
            with path.open("rb") as file:  # read in blocks: a streaming importer never holds the whole file
                run = import_file(kind=self.kind, data=file, name=path.name, user=user)
        except ImportRejected as rejected:
            raise CommandError(f"{path.name}: nothing was imported.\n{rejected.report()}") from rejected
        self.stdout.write(
            self.style.SUCCESS(
                f"{path.name}: {run.rows} rows — {run.created} created, {run.unchanged} already imported (unchanged)."
            )
        )
