"""The shape every CSV import shares (DESIGN §7): strict UTF-8, exact header, caps, every bad row reported.

An importer reads the whole file, validates every row and either applies all of it or nothing. The report
lists each bad row with its line number (the header is line 1) and the reason.
"""

import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings


class ImportRejected(Exception):
    """The file was rejected: nothing was imported. ``errors`` holds (line, message) pairs."""

    def __init__(self, errors: list[tuple[int, str]]):
        self.errors = errors
        super().__init__(f"{len(errors)} error(s)")

    def report(self, limit: int = 200) -> str:
        lines = [f"line {line}: {message}" if line else message for line, message in self.errors[:limit]]
        if len(self.errors) > limit:
            lines.append(f"… and {len(self.errors) - limit} more errors")
        return "\n".join(lines)


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    details: dict = field(default_factory=dict)


def _read_rows(reader, header: list[str]) -> tuple[list[tuple[int, dict[str, str]]], "RowErrors"]:
    """The well-formed rows after the header, and an error for each row that is not."""
    rows: list[tuple[int, dict[str, str]]] = []
    errors = RowErrors()
    try:
        for values in reader:
            line = reader.line_num
            if not values or all(not value.strip() for value in values):
                continue
            if len(values) != len(header):
                errors.add(line, f"expected {len(header)} columns, found {len(values)}")
            elif any("\x00" in value for value in values):
                errors.add(line, "a cell contains a NUL character")
            else:
                rows.append((line, {column: value.strip() for column, value in zip(header, values, strict=True)}))
            if len(rows) + len(errors.errors) > settings.IMPORT_MAX_ROWS:
                raise ImportRejected([(line, f"the file has more than {settings.IMPORT_MAX_ROWS:,} rows")])
    except csv.Error as error:
        # The reader cannot go on after this: the rows read so far are still validated and reported.
        errors.add(reader.line_num, f"malformed CSV: {error}")
    return rows, errors


class RowErrors:
    """Collects errors while validating rows."""

    def __init__(self, errors: list[tuple[int, str]] | None = None):
        self.errors: list[tuple[int, str]] = list(errors or [])

    def add(self, line: int, message: str) -> None:
        self.errors.append((line, message))

    def raise_if_any(self) -> None:
        if self.errors:
            self.errors.sort(key=lambda pair: pair[0])
            raise ImportRejected(self.errors)


@dataclass
class CsvFile:
    """A decoded, header-checked CSV file.

    ``rows`` are the well-formed rows; ``errors`` already holds the rows that were not (wrong column count, NUL
    characters). An importer validates ``rows`` into the same ``errors``, so one malformed row never hides the
    other rows' errors, and calls ``errors.raise_if_any()`` before writing anything.
    """

    name: str
    sha256: str
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]
    errors: RowErrors = field(default_factory=RowErrors)


def read_csv(data: bytes, *, name: str, header: list[str], optional: tuple[str, ...] = ()) -> CsvFile:
    """Decode ``data`` and check it; raise ``ImportRejected`` for what makes the whole file unusable.

    ``optional`` columns may follow ``header`` (all of them, or the first few, in order); every row then has the
    columns its header has, and the missing optional ones read as blank.
    """
    if len(data) > settings.IMPORT_MAX_BYTES:
        raise ImportRejected([(0, f"the file is larger than the {settings.IMPORT_MAX_BYTES:,} byte limit")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportRejected([(line, "the file is not valid UTF-8 (save it as UTF-8 CSV)")]) from error
    if not text.strip():
        raise ImportRejected([(0, "the file is empty")])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        found = next(reader)
    except csv.Error as error:
        raise ImportRejected([(1, f"unreadable header: {error}")]) from error
    found = [column.strip() for column in found]
    accepted = [header + list(optional[:count]) for count in range(len(optional) + 1)]
    if found not in accepted:
        expected = ",".join(header) + "".join(f"[,{column}]" for column in optional)
        raise ImportRejected([(1, f"the header must be exactly: {expected} (found: {','.join(found)})")])
    rows, errors = _read_rows(reader, found)
    for _line, row in rows:
        for column in optional:
            row.setdefault(column, "")
    return CsvFile(name=name, sha256=hashlib.sha256(data).hexdigest(), header=found, rows=rows, errors=errors)


_IMPORTERS: dict[str, Callable] = {}


def importer_register(kind: str, importer: Callable) -> None:
    """Make ``importer`` the one behind uploads and commands of ``kind`` (apps call this in ``ready()``)."""
    _IMPORTERS[kind] = importer


def importer_for(kind: str) -> Callable:
    """The importer an app registered for ``kind``; the kernel knows no app."""
    try:
        return _IMPORTERS[kind]
    except KeyError:
        raise LookupError(f"no importer registered for {kind!r}") from None


def chunks(items: list, size: int = 5000) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def import_file(*, kind: str, data: bytes, name: str, user=None):
    """Run the importer registered for ``kind`` all-or-nothing and record the run either way.

    Return the applied ``ImportRun``; raise ``ImportRejected`` (after recording a rejected run) otherwise.
    """
    from django.db import transaction

    from .models import ImportRun

    sha256 = hashlib.sha256(data).hexdigest()
    try:
        with transaction.atomic():
            run = ImportRun.objects.create(
                kind=kind, file_name=name[:255], file_sha256=sha256, imported_by=user, status=ImportRun.Status.APPLIED
            )
            result = importer_for(kind)(data, name=name, run=run, user=user)
            run.rows, run.created, run.unchanged = result.rows, result.created, result.unchanged
            run.save(update_fields=["rows", "created", "unchanged"])
            return run
    except ImportRejected as rejected:
        ImportRun.objects.create(
            kind=kind,
            file_name=name[:255],
            file_sha256=sha256,
            imported_by=user,
            status=ImportRun.Status.REJECTED,
            errors=[{"line": line, "message": message} for line, message in rejected.errors[:1000]],
        )
        raise


def bulk_insert(model, objects: list, *, batch_size: int = 5000) -> None:
    """Insert many new rows: PostgreSQL's COPY (several times faster than INSERT), else ``bulk_create``.

    The objects' primary keys are not set afterwards; use it for rows nothing else in the same step refers to.
    """
    from django.db import connection

    if connection.vendor != "postgresql" or not objects:
        model.objects.bulk_create(objects, batch_size=batch_size)
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # noqa: S608 - names from the model
            for obj in objects:
                copy.write_row([field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields])
