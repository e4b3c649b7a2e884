"""Every CSV the portal writes goes through here: partner list downloads, statement CSVs (download and
``export_statement``), the tier export. Cells are made spreadsheet-safe in one place, ``csv_cell``.
"""

import csv
import io
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.http import StreamingHttpResponse
from django.utils import timezone

# A spreadsheet reads a cell starting with one of these as a formula (CSV / formula injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A plain number ("-10.00", "89704", "25"): a spreadsheet reads it as a number, never as a formula.
PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


class CsvNumber(str):
    """A cell known to be a plain number: written as it is (``-10.00`` is a credit, not a formula)."""


def csv_number(value) -> str:
    """Mark ``value`` (a ``Decimal``, an ``int`` or the text of a number) as a number cell; anything that is not a
    plain number stays text, and is neutralised like text."""
    text = f"{value:.2f}" if isinstance(value, Decimal) else str(value)
    return CsvNumber(text) if PLAIN_NUMBER.fullmatch(text) else text


def csv_cell(value) -> str:
    """The cell for ``value``: numbers (``CsvNumber``, ``int``, ``Decimal``) as they are; text starting with
    ``= + - @``, tab or carriage return gets a leading apostrophe, so a spreadsheet shows it and does not run it
    (text that merely looks like a number, a customer called "-10", is text)."""
    if value is None:
        return ""
    if isinstance(value, CsvNumber | Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_text(value) -> str:
    """A text cell a spreadsheet will not run (``csv_cell`` does the same to every text cell written here)."""
    return csv_cell("" if value is None else str(value))


def csv_amount(value: Decimal | None) -> str:
    """An amount stays a plain number (``-10.00`` is a credit, not a formula)."""
    return "" if value is None else csv_number(value)


def csv_write(rows: Iterable[Iterable], file, *, number_columns: Iterable[str] = ()) -> None:
    """Write ``rows`` (the header first) to ``file`` as CSV with ``\\n`` line ends, a row at a time, every cell
    through ``csv_cell``; the cells of ``number_columns`` (named in the header) are numbers."""
    writer = csv.writer(file, lineterminator="\n")
    numbers: set[int] = set()
    for index, row in enumerate(rows):
        values = list(row)
        if index == 0:
            numbers = {position for position, name in enumerate(values) if name in set(number_columns)}
        else:
            values = [csv_number(v) if p in numbers and v not in ("", None) else v for p, v in enumerate(values)]
        writer.writerow([csv_cell(value) for value in values])


def csv_document(rows: Iterable[Iterable], *, number_columns: Iterable[str] = ()) -> str:
    """``rows`` as one CSV text (``csv_write``): for small documents; large ones are written as they are read."""
    out = io.StringIO()
    csv_write(rows, out, number_columns=number_columns)
    return out.getvalue()


class _Echo:
    def write(self, value):
        return value


def csv_lines(rows: Iterable[Iterable]) -> Iterator[str]:
    """``rows`` as CSV lines, one at a time (for streaming), every cell through ``csv_cell``."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_download(rows: Iterable[Iterable], *, filename: str) -> StreamingHttpResponse:
    """Stream ``rows`` as a CSV attachment, with a BOM so Excel (French locale included) reads the accents."""
    body = (("\ufeff" if index == 0 else "") + line for index, line in enumerate(csv_lines(rows)))
    response = StreamingHttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class FilteredCsvExportMixin:
    """For a django-filter list view: ``?export=csv`` downloads the filtered rows (``export_rows``), and the
    template gets ``export_query``, the current filters with ``export=csv``."""

    export_prefix = "export"

    def export_rows(self, queryset) -> Iterable[list[str]]:
        raise NotImplementedError

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "csv":
            filterset = self.get_filterset(self.get_filterset_class())
            queryset = filterset.qs if filterset.is_valid() else filterset.queryset.none()
            filename = f"{self.export_prefix}-{self.partner.code}-{timezone.localdate().isoformat()}.csv"
            return csv_download(self.export_rows(queryset.iterator(chunk_size=2000)), filename=filename)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        query = self.request.GET.copy()
        for key in ("page", "sort", "export"):
            query.pop(key, None)
        query["export"] = "csv"
        context["export_query"] = query.urlencode()
        return context
