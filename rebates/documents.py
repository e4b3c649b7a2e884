"""Statement documents: the CSV of DESIGN §7 and the PDF (fpdf2), from the same selectors as the pages.

A PDF is rendered once per statement, language and status, by the workers that email the statements, and stored
(``StatementDocument``); downloads, emails and ``export_statement`` read the stored bytes. A document that is not
stored yet (the worker has not run) is rendered on first need and stored, so nothing waits for the workers.
"""

import hashlib
import io
import time
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone, translation

from portal.csvexport import csv_document, csv_write

from . import selectors
from .models import Statement, StatementDocument

STATEMENT_NUMBER_COLUMNS = ("line_number", "net_amount", "rate", "amount")


def statements_csv(statements) -> str:
    """One header, then the rows of every statement in ``statements`` (formula-safe cells)."""
    return csv_document(selectors.statement_export_rows(statements), number_columns=STATEMENT_NUMBER_COLUMNS)


def statements_csv_write(statements, file) -> None:
    """``statements_csv`` written to ``file`` as the rows are read: memory bounded whatever the quarter's size.

    On PostgreSQL the rows are formatted by the database and copied out (``COPY … TO STDOUT``), the same bytes
    (a test compares them) without a Python object per cell: a quarter of a million lines in seconds.
    """
    if connection.vendor != "postgresql":
        csv_write(selectors.statement_export_rows(statements), file, number_columns=STATEMENT_NUMBER_COLUMNS)
        return
    csv_write([selectors.EXPORT_HEADER], file)
    sql, params = selectors.statement_export_sql(statements)
    # COPY takes no parameters: the statement is composed with them quoted by the driver. An unquoted NULL
    # marker that no cell is (every cell is text, never NULL) keeps empty cells unquoted, as csv.writer does.
    copy = f"COPY ({connection.ops.compose_sql(sql, params)}) TO STDOUT WITH (FORMAT csv, NULL '\\N')"
    with connection.cursor() as cursor, cursor.cursor.copy(copy) as rows:
        for block in rows:
            file.write(bytes(block).decode())


def document_language(language: str | None) -> str:
    """``language`` if the portal speaks it (``fr-ca`` reads ``fr``), else the default language."""
    codes = {code for code, _name in settings.LANGUAGES}
    for candidate in (language or "", (language or "").split("-")[0]):
        if candidate in codes:
            return candidate
    return settings.LANGUAGE_CODE


def statement_document(statement: Statement, *, language: str | None = None) -> StatementDocument:
    """The stored PDF of ``statement`` in ``language`` (default: the active one), as the statement reads now.

    Rendered and stored when missing. Safe when two processes ask at once: both may render, the first stored
    row wins (``ON CONFLICT DO NOTHING``) and both return it, so every reader gets the same bytes.
    """
    language = document_language(language or translation.get_language())
    found = _stored(statement, language)
    if found is not None:
        return found
    started = time.perf_counter()
    statement_summary_store(statement)  # at issue: the delivery renders every statement's PDFs
    content = statement_pdf(statement, language=language)
    StatementDocument.objects.bulk_create(
        [
            StatementDocument(
                statement=statement,
                language=language,
                status=statement.status,
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
                rendered_at=timezone.now(),
                render_seconds=Decimal(f"{time.perf_counter() - started:.3f}"),
            )
        ],
        ignore_conflicts=True,
    )
    return _stored(statement, language)


def _stored(statement: Statement, language: str) -> StatementDocument | None:
    return StatementDocument.objects.filter(statement=statement, language=language, status=statement.status).first()


def statement_documents_ensure(statement: Statement, *, languages) -> dict[str, StatementDocument]:
    """The stored PDFs of ``statement`` in each of ``languages``, rendering the missing ones; keyed by language."""
    return {language: statement_document(statement, language=language) for language in sorted(set(languages))}


def statement_pdf_response(statement: Statement, *, language: str | None = None) -> HttpResponse:
    """A download of the stored PDF (partner page and admin): the bytes as stored, never rendered in the request
    unless the document is missing. ``Cache-Control: private, no-store`` comes from the portal's middleware."""
    document = statement_document(statement, language=language)
    response = HttpResponse(bytes(document.content), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{statement.number}.pdf"'
    response["Content-Length"] = str(len(response.content))
    return response


# A statement's lines are read from the database in batches of this many (a server-side cursor on PostgreSQL).
PDF_LINES_BATCH = 2000


def statement_summary_store(statement: Statement) -> None:
    """Store an issued statement's grouped totals (``Statement.summary``): its lines never change after the close,
    so its pages, its API and its other PDFs read them instead of grouping its lines again. A statement still
    closing is left alone. Two processes at once store the same groups; the first one's are kept."""
    if statement.summary is not None or statement.status == Statement.Status.CLOSING:
        return
    stored = selectors.statement_summary_encode(selectors.statement_summary_groups(statement))
    Statement.in_close.filter(pk=statement.pk, summary__isnull=True).update(summary=stored)
    statement.summary = stored


def statement_pdf(statement: Statement, *, language: str | None = None) -> bytes:
    """Render the statement as a PDF: summary by component and product line, then every line (not stored).

    Drawn with fpdf2 (``rebates.statement_pdf``) as the lines are read in batches: a row is a few text operations
    at fixed positions, and memory holds each page's drawing operations, not a box per cell as WeasyPrint did.
    """
    from . import statement_pdf as renderer

    with translation.override(language or translation.get_language()):
        summary = selectors.statement_summary(statement)
        lines = selectors.statement_page_lines(statement).values_list(*renderer.LINE_FIELDS)
        return renderer.render(statement, summary, lines.iterator(chunk_size=PDF_LINES_BATCH))


def _pdf_join(documents: list[bytes]) -> bytes:
    """The pages of ``documents`` one after the other in one PDF, each keeping its own footer."""
    import pypdf

    writer = pypdf.PdfWriter()
    for document in documents:
        writer.append(pypdf.PdfReader(io.BytesIO(document)))
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def statements_pdf(statements) -> bytes:
    """Several statements in one PDF, one after the other: their stored documents joined (rendered and stored
    first where missing), each keeping its own page numbers."""
    documents = [bytes(statement_document(statement).content) for statement in statements.select_related("partner")]
    if not documents:
        return b""
    return _pdf_join(documents)
