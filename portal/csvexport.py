"""CSV downloads of partner lists: spreadsheet-safe cells, streamed, with the list's current filters."""

import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.http import StreamingHttpResponse

# A spreadsheet reads a cell starting with one of these as a formula (CSV / formula injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value) -> str:
    """A text cell a spreadsheet will not run: a leading apostrophe before ``= + - @``, tab or carriage return."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_amount(value: Decimal | None) -> str:
    """An amount stays a plain number (``-10.00`` is a credit, not a formula)."""
    return "" if value is None else f"{value:.2f}"


class _Echo:
    def write(self, value):
        return value


def csv_lines(rows: Iterable[list[str]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


def csv_download(rows: Iterable[list[str]], *, filename: str) -> StreamingHttpResponse:
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
            from django.utils import timezone

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
