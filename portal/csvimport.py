"""The shape every CSV import shares (DESIGN §7): strict UTF-8, exact header, caps, every bad row reported.

An importer validates every row and either applies all of it or nothing. The report lists each bad row with its
line number (the header is line 1) and the reason. ``read_csv`` reads a whole file held in memory; ``stream_csv``
reads a file row by row (bounded memory), for importers that stream (``importer_register(..., streams=True)``).
"""

import codecs
import csv
import hashlib
import io
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings


class ImportRejected(Exception):
    """The file was rejected: nothing was imported. ``errors`` holds (line, message) pairs."""

    def __init__(self, errors: list[tuple[int, str]], *, total: int | None = None):
        self.errors = errors
        # A streaming importer reports the first errors only (``IMPORT_MAX_REPORTED_ERRORS``) and counts the rest.
        self.total = max(total or 0, len(errors))
        super().__init__(f"{self.total} error(s)")

    def report(self, limit: int = 200) -> str:
        shown = self.errors[:limit]
        lines = [f"line {line}: {message}" if line else message for line, message in shown]
        if self.total > len(shown):
            lines.append(f"… and {self.total - len(shown)} more errors")
        return "\n".join(lines)


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    details: dict = field(default_factory=dict)


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
    stream = stream_csv(io.BytesIO(data), header=header, optional=optional)
    rows: list[tuple[int, dict[str, str]]] = []
    errors = RowErrors()
    for line, row, problem in stream.rows:
        if row is None:
            errors.add(line, problem)
        else:
            rows.append((line, row))
    return CsvFile(name=name, sha256=hashlib.sha256(data).hexdigest(), header=stream.header, rows=rows, errors=errors)


@dataclass
class CsvStream:
    """A header-checked CSV file read row by row.

    ``rows`` yields ``(line, row, problem)`` in file order: a well-formed row as a dict of stripped cells (and a
    blank ``problem``), or ``None`` and what is wrong with a malformed one (wrong column count, a NUL character,
    malformed CSV — after which the reader stops). It raises ``ImportRejected`` when the file is not UTF-8 or has
    more than ``IMPORT_MAX_ROWS`` rows.
    """

    header: list[str]
    rows: Iterator[tuple[int, dict[str, str] | None, str]]


def stream_csv(stream: BinaryIO, *, header: list[str], optional: tuple[str, ...] = ()) -> CsvStream:
    """Check the header of a binary ``stream`` and return its rows as an iterator (see ``read_csv``)."""
    lines = _decoded_lines(stream)
    leading = []
    for text in lines:
        leading.append(text)
        if text.strip():
            break
    else:
        raise ImportRejected([(0, "the file is empty")])
    reader = csv.reader(itertools.chain(leading, lines), strict=True)
    try:
        found = next(reader)
    except csv.Error as error:
        raise ImportRejected([(1, f"unreadable header: {error}")]) from error
    found = [column.strip() for column in found]
    accepted = [header + list(optional[:count]) for count in range(len(optional) + 1)]
    if found not in accepted:
        expected = ",".join(header) + "".join(f"[,{column}]" for column in optional)
        raise ImportRejected([(1, f"the header must be exactly: {expected} (found: {','.join(found)})")])
    return CsvStream(header=found, rows=_stream_rows(reader, found, optional))


_LONE_CR = re.compile(r"(?<=\r)(?!\n)")


def _decoded_lines(stream: BinaryIO) -> Iterator[str]:
    """The lines of ``stream`` decoded as UTF-8 (a leading BOM dropped); a line that is not UTF-8 rejects the file.

    A binary file splits at ``\n`` only, and no UTF-8 sequence contains that byte, so each line decodes alone;
    a lone ``\r`` (old Mac files) also ends a line, as when the whole text is read."""
    for number, raw in enumerate(iter(stream.readline, b""), start=1):  # readline: ``\n`` only, on any file
        try:
            text = (raw.removeprefix(codecs.BOM_UTF8) if number == 1 else raw).decode("utf-8")
        except UnicodeDecodeError as error:
            raise ImportRejected([(number, "the file is not valid UTF-8 (save it as UTF-8 CSV)")]) from error
        if "\r" in text[:-2]:
            yield from filter(None, _LONE_CR.split(text))
        else:
            yield text


def _stream_rows(reader, header: list[str], optional: tuple[str, ...]):
    count = 0
    try:
        for values in reader:
            line = reader.line_num
            if not "".join(values).strip():  # a blank line, or only blank cells (joined: one C-level scan)
                continue
            count += 1
            if count > settings.IMPORT_MAX_ROWS:
                raise ImportRejected([(line, f"the file has more than {settings.IMPORT_MAX_ROWS:,} rows")])
            if len(values) != len(header):
                yield line, None, f"expected {len(header)} columns, found {len(values)}"
            elif "\x00" in "\x1f".join(values):
                yield line, None, "a cell contains a NUL character"
            else:
                row = dict(zip(header, map(str.strip, values), strict=True))
                for column in optional:
                    row.setdefault(column, "")
                yield line, row, ""
    except csv.Error as error:
        # The reader cannot go on after this: the rows read so far are still validated and reported.
        yield reader.line_num, None, f"malformed CSV: {error}"


_IMPORTERS: dict[str, Callable] = {}
_STREAMING: set[str] = set()


def importer_register(kind: str, importer: Callable, *, streams: bool = False) -> None:
    """Make ``importer`` the one behind uploads and commands of ``kind`` (apps call this in ``ready()``).

    An importer is called with the file's bytes, or with a binary file object to read row by row when it
    ``streams``."""
    _IMPORTERS[kind] = importer
    if streams:
        _STREAMING.add(kind)
    else:
        _STREAMING.discard(kind)


_APPLIED_LISTENERS: list[Callable] = []


def import_applied_listener_register(listener: Callable) -> None:
    """Have ``listener(kind=..., run=...)`` called inside every applied import's transaction (apps that keep
    figures derived from imported data, e.g. the rebate accrual, queue their refresh there: after commit)."""
    if listener not in _APPLIED_LISTENERS:
        _APPLIED_LISTENERS.append(listener)


def importer_for(kind: str) -> Callable:
    """The importer an app registered for ``kind``; the kernel knows no app."""
    try:
        return _IMPORTERS[kind]
    except KeyError:
        raise LookupError(f"no importer registered for {kind!r}") from None


def import_progress(run, **values) -> None:
    """Publish how far the import of ``run`` is (rows read, stage) for its status page.

    The import's own transaction is invisible to other connections until it ends, so progress goes to the cache
    (Redis in production), not to the run's row."""
    if run is not None and run.pk is not None:
        from django.core.cache import cache

        cache.set(progress_key(run.pk), values, timeout=24 * 3600)


def import_progress_of(run_id: int) -> dict:
    from django.core.cache import cache

    return cache.get(progress_key(run_id)) or {}


def progress_key(run_id: int) -> str:
    return f"importrun-progress-{run_id}"


def chunks(items: list, size: int = 5000) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _digest(stream: BinaryIO) -> tuple[str, int]:
    """The SHA-256 and size of a seekable binary stream, read in blocks, then rewound."""
    digest, size = hashlib.sha256(), 0
    while block := stream.read(1 << 20):
        digest.update(block)
        size += len(block)
    stream.seek(0)
    return digest.hexdigest(), size


def import_file(*, kind: str, data: bytes | BinaryIO, name: str, user=None, run=None):
    """Run the importer registered for ``kind`` all-or-nothing and record the run either way.

    ``data`` is the file's bytes or a seekable binary file (read in blocks, never whole, by a streaming importer).
    ``run`` is the pending ``ImportRun`` of an upload imported by a worker; without one a run is recorded here.
    Return the applied ``ImportRun``; raise ``ImportRejected`` (after recording a rejected run) otherwise.
    """
    from django.db import transaction
    from django.utils import timezone

    from .models import ImportRun

    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    sha256, size = _digest(stream)
    recorded = run is not None
    try:
        if size > settings.IMPORT_MAX_BYTES:
            raise ImportRejected([(0, f"the file is larger than the {settings.IMPORT_MAX_BYTES:,} byte limit")])
        with transaction.atomic():
            if recorded:
                run.file_sha256 = sha256
            else:
                run = ImportRun.objects.create(kind=kind, file_name=name[:255], file_sha256=sha256, imported_by=user,
                                               status=ImportRun.Status.APPLIED)  # fmt: skip
            content = stream if kind in _STREAMING else stream.read()
            result = importer_for(kind)(content, name=name, run=run, user=user)
            run.status, run.finished_at = ImportRun.Status.APPLIED, timezone.now()
            run.rows, run.created, run.unchanged = result.rows, result.created, result.unchanged
            run.save(update_fields=["status", "finished_at", "file_sha256", "rows", "created", "unchanged"])
            for listener in _APPLIED_LISTENERS:
                listener(kind=kind, run=run)
            return run
    except ImportRejected as rejected:
        outcome = {
            "status": ImportRun.Status.REJECTED,
            "file_sha256": sha256,
            "finished_at": timezone.now(),
            "errors": [{"line": line, "message": message} for line, message in rejected.errors[:1000]],
            "error_count": rejected.total,
        }
        if recorded:
            ImportRun.objects.filter(pk=run.pk).update(**outcome)
            run.refresh_from_db()
        else:
            ImportRun.objects.create(kind=kind, file_name=name[:255], imported_by=user, **outcome)
        raise


IMPORT_RUN_TASK = "portal.tasks.import_run_process_task"


def import_upload(*, kind: str, upload, user=None):
    """Store an uploaded file as a pending ``ImportRun`` and have a worker import it once this transaction commits
    (a large file takes longer than a web request may). Return the run; its status page follows it."""
    from .models import ImportRun
    from .outbox import task_enqueue

    run = ImportRun(kind=kind, file_name=upload.name[:255], imported_by=user, status=ImportRun.Status.PENDING)
    run.upload.save(upload.name.rsplit("/", 1)[-1], upload, save=False)
    run.save()
    task_enqueue(IMPORT_RUN_TASK, args=[run.pk], key=f"import_run:{run.pk}")
    return run


def import_run_process(run_id: int) -> None:
    """Import the stored file of a pending run (the worker's side of ``import_upload``); safe to run twice.

    The run is claimed first (pending → running, committed, so its status page shows it); the import then runs in
    its own transaction and records applied or rejected. An unexpected error marks the run failed, with nothing
    imported, instead of leaving it running."""
    import logging

    from django.utils import timezone

    from .models import ImportRun

    claimed = ImportRun.objects.filter(pk=run_id, status=ImportRun.Status.PENDING).update(
        status=ImportRun.Status.RUNNING
    )
    if not claimed:
        return
    run = ImportRun.objects.select_related("imported_by").get(pk=run_id)
    import_progress(run, rows=0, stage="reading")
    try:
        with run.upload.open("rb") as file:
            import_file(kind=run.kind, data=file, name=run.file_name, user=run.imported_by, run=run)
    except ImportRejected:
        pass  # recorded on the run, with its errors
    except Exception as error:
        logging.getLogger(__name__).exception("import run %s failed", run_id)
        ImportRun.objects.filter(pk=run_id).update(
            status=ImportRun.Status.FAILED,
            finished_at=timezone.now(),
            errors=[{"line": 0, "message": f"the import stopped on an unexpected error ({type(error).__name__})"}],
            error_count=1,
        )


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
