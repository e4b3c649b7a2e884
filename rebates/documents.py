"""Statement documents: the CSV of DESIGN §7 and the PDF (WeasyPrint), from the same selectors as the pages.

A PDF is rendered once per statement, language and status, by the workers that email the statements, and stored
(``StatementDocument``); downloads, emails and ``export_statement`` read the stored bytes. A document that is not
stored yet (the worker has not run) is rendered on first need and stored, so nothing waits for the workers.
"""

import functools
import hashlib
import io
import itertools
import time
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.template.loader import render_to_string
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


# A statement's lines are laid out in parts of at most this many lines, each its own WeasyPrint document written
# to PDF bytes and dropped before the next: WeasyPrint keeps every box of a document until it is written (about
# 175 KB a line), so one document of 68,000 lines needed 12 GB; in parts, memory is one part's whatever the size.
PDF_PART_LINES = 1000
# A part's lines are read from the database in batches of this many (a server-side cursor on PostgreSQL).
PDF_LINES_BATCH = 2000

_PAGE_NUMBERS_HTML = (
    "<style>@page { @bottom-right { content: counter(page) ' / ' counter(pages); } }"
    " div { page-break-after: always; } div:last-child { page-break-after: auto; }</style>"
)


@functools.cache
def _stylesheet():
    """The statement stylesheet and the font configuration it was parsed with: built once per process, since
    parsing the CSS and looking the fonts up again cost every render a fixed share of its time."""
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    font_config = FontConfiguration()
    css = weasyprint.CSS(filename=str(settings.BASE_DIR / "templates" / "rebates" / "statement_pdf.css"),
                         font_config=font_config)  # fmt: skip
    return css, font_config


def _write_pdf(html: str) -> bytes:
    import weasyprint

    css, font_config = _stylesheet()
    return weasyprint.HTML(string=html).write_pdf(stylesheets=[css], font_config=font_config)


def statement_pdf(statement: Statement, *, language: str | None = None) -> bytes:
    """Render the statement as a PDF: summary by component and product line, then every line (not stored).

    A statement of at most ``PDF_PART_LINES`` lines is one document. A larger one is rendered in parts of that
    many lines (the first with the header and summary, the last with the footnote), each part's PDF written
    before the next is laid out, then the parts are joined in order and numbered "page / pages" across the
    whole statement, in the same footer as a one-part statement.
    """
    with translation.override(language or translation.get_language()):
        parts = statement_pdf_parts(statement)
        first = next(parts)
        second = next(parts, None)
        if second is None:
            return _write_pdf(first(numbered=True))
        rendered = [_write_pdf(first(numbered=False)), _write_pdf(second(numbered=False))]
        rendered.extend(_write_pdf(part(numbered=False)) for part in parts)
        return _pdf_join(rendered, numbered=True, language=translation.get_language())


def statement_pdf_parts(statement: Statement):
    """The HTML of each part of ``statement``'s PDF, in order, as functions of ``numbered`` (whether the part
    numbers its own pages): each part's lines are read only when the part before it has been rendered."""
    lines = selectors.statement_page_lines(statement).iterator(chunk_size=PDF_LINES_BATCH)
    context = {"statement": statement, "partner": statement.partner, "summary": selectors.statement_summary(statement)}
    part = list(itertools.islice(lines, PDF_PART_LINES))
    first = True
    while True:
        following = list(itertools.islice(lines, PDF_PART_LINES))
        last = not following
        yield functools.partial(_part_html, {**context, "lines": part, "first": first, "last": last})
        if last:
            return
        part, first = following, False


def _part_html(context: dict, *, numbered: bool) -> str:
    return render_to_string("rebates/statement_pdf.html", {**context, "numbered": numbered})


def _pdf_join(documents: list[bytes], *, numbered: bool = False, language: str | None = None) -> bytes:
    """The pages of ``documents`` one after the other in one PDF; ``numbered``: each page's footer numbered
    "page / pages" across them all (stamped from a document of empty pages, in the statement's footer)."""
    import pypdf

    writer = pypdf.PdfWriter()
    for document in documents:
        writer.append(pypdf.PdfReader(io.BytesIO(document)))
    if numbered:
        count = len(writer.pages)
        numbers = f'<html lang="{language or settings.LANGUAGE_CODE}">{_PAGE_NUMBERS_HTML}<body>{"<div></div>" * count}'
        stamps = pypdf.PdfReader(io.BytesIO(_write_pdf(numbers))).pages
        for page, stamp in zip(writer.pages, stamps, strict=True):
            page.merge_page(stamp)
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
