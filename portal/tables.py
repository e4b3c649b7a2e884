"""django-tables2 with less work per cell, for the partner list pages (25-50 rows, ~10 columns each).

Profiled on the largest partner's pages, most of a page's time was django-tables2's per-cell machinery rather
than SQL: ``inspect.signature`` of the render method for every cell (``call_with_appropriate``), a template
compiled context per date cell (``DateColumn`` is a ``TemplateColumn``), and ``get_FOO_display`` (a list of
lazy translations built and searched) per choice cell. ``FastTable`` keeps django-tables2's output exactly and
caches the signatures and reads choice labels from a dict built once per table; ``ShortDateColumn`` formats as
``DateColumn(short=True)`` without a template.
"""

from datetime import date

import django_tables2 as tables
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.db import models
from django.template import Context
from django.template.base import render_value_in_context
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.safestring import mark_safe
from django.utils.timezone import template_localtime
from django_tables2.columns.linkcolumn import BaseLinkColumn
from django_tables2.columns.manytomanycolumn import ManyToManyColumn
from django_tables2.rows import BoundRow, BoundRows
from django_tables2.utils import A, signature

_SIGNATURES: dict = {}


def _cached_signature(fn):
    """``django_tables2.utils.signature`` of ``fn``, computed once per underlying function (a bound method is a
    new object per access, its function is not)."""
    key = getattr(fn, "__func__", fn)
    found = _SIGNATURES.get(key)
    if found is None:
        found = _SIGNATURES[key] = signature(fn)
    return found


def _call_with_appropriate(fn, kwargs):
    """``django_tables2.utils.call_with_appropriate`` with the cached signature."""
    args, kwargs_name = _cached_signature(fn)
    if not kwargs_name:
        kwargs = {key: kwargs[key] for key in kwargs if key in args}
        if any(arg not in kwargs for arg in args):
            return None
    return fn(**kwargs)


class _FastBoundRow(BoundRow):
    def _get_and_render_with(self, bound_column, render_func, default):
        """``BoundRow._get_and_render_with`` with a choice field's labels read from the table's dict (the same
        text ``get_FOO_display`` gives) instead of building them per cell."""
        value = None
        accessor = A(bound_column.accessor)
        column = bound_column.column
        penultimate, remainder = accessor.penultimate(self.record)
        if isinstance(penultimate, models.Model):
            labels = self.table.choice_labels(type(penultimate), remainder)
            if labels is not None:
                raw = getattr(penultimate, remainder)
                value, remainder = labels.get(raw, raw), None
        if remainder:
            try:
                value = accessor.resolve(self.record)
            except Exception:
                if isinstance(column, BaseLinkColumn) and column.text is not None:
                    return render_func(bound_column)
        if value in column.empty_values or (isinstance(column, ManyToManyColumn) and not value.exists()):
            return default
        return render_func(bound_column, value)

    def _call_render(self, bound_column, value=None):
        render_kwargs = self._optional_cell_arguments(bound_column, value)
        content = _call_with_appropriate(bound_column.render, render_kwargs)
        return bound_column.link(content, **render_kwargs) if bound_column.link else content


class _FastBoundRows(BoundRows):
    def __iter__(self):
        yield from self.generator_pinned_row(self.pinned_data.get("top"))
        for record in self.data:
            yield _FastBoundRow(record, table=self.table)
        yield from self.generator_pinned_row(self.pinned_data.get("bottom"))

    def __getitem__(self, key):
        if isinstance(key, slice):
            return _FastBoundRows(data=self.data[key], table=self.table, pinned_data=self.pinned_data)
        return _FastBoundRow(record=self.data[key], table=self.table)


# The whitespace of django-tables2's ``table.html`` around a body row and a cell, so that the rows written here are
# byte for byte the template's (tests/portal/test_tables.py compares both).
_ROW_OPEN = "\n                    \n                    <tr {}>\n                        "
_CELL = "\n                            <td {}>{}</td>\n                        "
_ROW_CLOSE = "\n                    </tr>\n                    \n                "


class FastTable(tables.Table):
    """A ``tables.Table`` whose rows render with cached render signatures, and whose body is written in Python
    (``tbody_html``, used by ``django_tables2/portal_table.html``) rather than by the template engine: the same
    HTML, without a template lookup per cell (≈ 60% of a 50-row statement page's CPU)."""

    # False renders the body through django-tables2's template (the reference the tests compare against).
    render_rows_in_python = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = _FastBoundRows(data=self.data, table=self, pinned_data=self.pinned_data)
        self._choice_labels: dict = {}

    def tbody_html(self):
        """The body's rows exactly as ``table.html``'s ``table.tbody`` block writes them, or ``None`` (no rows, a
        column with its own ``localize``, or ``render_rows_in_python`` off) for the template to write them."""
        if not self.render_rows_in_python or any(column.localize is not None for column in self.columns):
            return None
        context = Context()  # what ``{{ cell }}`` sees: autoescape on, the active language's formats and time zone
        static_td = {}  # a column's <td> attributes, when none is computed from the row: the same on every row
        for column in self.columns:
            attrs = {**self.attrs, **column.column.attrs}
            if not any(callable(value) for value in attrs.get("td", attrs.get("cell", {})).values()):
                static_td[column.name] = column.attrs["td"].as_html()
        parts = []
        for row in self.paginated_rows:
            parts.append(_ROW_OPEN.format(row.attrs.as_html()))
            for column, cell in row.items():
                td = static_td.get(column.name)
                if td is None:
                    td = column.attrs["td"].as_html()
                parts.append(_CELL.format(td, render_value_in_context(cell, context)))
            parts.append(_ROW_CLOSE)
        if not parts:
            return None
        # Every cell went through render_value_in_context (escaped unless already safe), as in the template.
        return mark_safe("".join(parts))  # noqa: S308

    def choice_labels(self, model, name) -> dict | None:
        """``{value: label}`` of ``model.name`` when it is a field with choices (else ``None``), in the active
        language, built once for this table (one request)."""
        key = (model, name)
        if key not in self._choice_labels:
            labels = None
            try:
                field = model._meta.get_field(name)
            except FieldDoesNotExist:
                field = None
            if field is not None and getattr(field, "choices", None) and hasattr(model, f"get_{name}_display"):
                labels = {value: str(label) for value, label in field.flatchoices}
            self._choice_labels[key] = labels
        return self._choice_labels[key]


class ShortDateColumn(tables.Column):
    """``DateColumn(short=True)``'s output (``{{ value|date:"SHORT_DATE_FORMAT" }}``) without a template per cell."""

    def render(self, value):
        # A template renders an aware datetime in the current time zone first; so does this.
        return date_format(template_localtime(value), "SHORT_DATE_FORMAT")

    def value(self, value):
        return value.isoformat() if isinstance(value, date) else value


class KnownCountPaginator(Paginator):
    """A paginator told how many rows there are (a stored count, e.g. a statement's ``line_count``) instead of
    counting them: the count of a large statement's lines cost as much as the page itself."""

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, *, known_count=None):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.known_count = known_count

    @cached_property
    def count(self):
        return super().count if self.known_count is None else self.known_count


def stacked_cell(label, classes: str = "") -> dict:
    """A column's ``attrs`` in a ``.stack-table``: each cell names its column (``data-label``), which the phone
    layout shows before the value once the row stacks into lines (``static/css/portal.css``)."""
    attrs = {"th": {}, "td": {"data-label": label}, "tf": {}}
    if classes:
        for part in attrs.values():
            part["class"] = classes
    return attrs
