"""Statement documents: the CSV of DESIGN §7 and the PDF (WeasyPrint), from the same selectors as the pages."""

from django.template.loader import render_to_string
from django.utils import translation

from portal.csvexport import csv_document

from . import selectors
from .models import RebateLine, Statement

STATEMENT_NUMBER_COLUMNS = ("line_number", "net_amount", "rate", "amount")


def statements_csv(statements) -> str:
    """One header, then the rows of every statement in ``statements`` (formula-safe cells)."""
    return csv_document(selectors.statement_export_rows(statements), number_columns=STATEMENT_NUMBER_COLUMNS)


def statement_pdf(statement: Statement, *, language: str | None = None) -> bytes:
    """The statement as a PDF: summary by component and product line, then every line."""
    import weasyprint

    with translation.override(language or translation.get_language()):
        html = _html(statement)
    return weasyprint.HTML(string=html).write_pdf()


def statements_pdf(statements) -> bytes:
    """Several statements in one PDF, one after the other."""
    import weasyprint

    documents = [
        weasyprint.HTML(string=_html(statement)).render() for statement in statements.select_related("partner")
    ]
    if not documents:
        return b""
    pages = [page for document in documents for page in document.pages]
    return documents[0].copy(pages).write_pdf()


def _html(statement: Statement) -> str:
    return render_to_string(
        "rebates/statement_pdf.html",
        {
            "statement": statement,
            "partner": statement.partner,
            "summary": selectors.statement_summary(statement),
            "lines": selectors.statement_lines(RebateLine.objects.filter(statement=statement)),
        },
    )
