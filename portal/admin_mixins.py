from django.contrib import admin
from django.core.paginator import Paginator
from django.db import models
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _


class ReadOnlyAdminMixin:
    """Viewing only, for records that are never edited by hand: booked orders, the tier history, awards
    (changed through their services), channel locks, routing trails, the import log. Works on a ``ModelAdmin``
    and on an inline.

    Records that staff change only through admin actions calling their services (registration decisions,
    routing reassignments) set ``changed_through_actions = True``: the change permission then stays what the
    user's permissions say (the actions require it) while nothing can be added or deleted, and the admin
    lists every field in ``readonly_fields``.
    """

    changed_through_actions = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return self.changed_through_actions and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def render_change_form(self, request, context, *args, **kwargs):
        # Every field is read-only and changes go through actions: a Save button would save nothing.
        if self.changed_through_actions:
            context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().render_change_form(request, context, *args, **kwargs)


class CappedCountPaginator(Paginator):
    """Counts at most ``cap`` rows: ``COUNT(*)`` over a ``LIMIT`` subquery, bounded whatever the table's size.

    Past the cap the changelist pages up to the cap; staff narrow a search or a filter to see further.
    """

    cap = 10_000

    @cached_property
    def count(self):
        rows = self.object_list
        if hasattr(rows, "values"):
            # Only which rows, not their columns: the changelist's per-row annotations (an order's total and line
            # count, each a subquery) and its ordering would otherwise be computed for up to ``cap`` rows.
            rows = rows.order_by().values("pk")
        return rows[: self.cap].count()


class LargeTableAdminMixin:
    """For changelists over tables of millions of rows (orders, order lines, lock events): no unbounded
    ``COUNT(*)`` — neither the total beside a search ("n results (N total)") nor the paginator's own count — and
    no filter whose choices are read from the whole table (``date_hierarchy`` reads its years and months from
    every row: use ``DateFieldListFilter`` instead)."""

    show_full_result_count = False
    paginator = CappedCountPaginator
    # A search is narrowed, not browsed: its results are counted up to a tenth of the cap (a word matching a few
    # percent of the rows would otherwise be checked on hundreds of thousands of them to count to 10,000).
    search_count_cap = 1_000

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        paginator = super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page)
        if request.GET.get("q") and isinstance(paginator, CappedCountPaginator):
            paginator.cap = min(paginator.cap, self.search_count_cap)
        return paginator


class DefaultChoiceListFilter(admin.SimpleListFilter):
    """A list filter that opens on ``default`` (a work queue: the list staff work from), with an explicit "All"
    choice instead of Django's unfiltered one. Subclasses filter in ``queryset_for(value)``."""

    ALL = "all"
    default = ""

    def value(self):
        return super().value() or self.default

    def choices(self, changelist):
        for lookup, title in [*self.lookup_choices, (self.ALL, _("All"))]:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value == self.ALL else self.queryset_for(queryset, value)

    def queryset_for(self, queryset, value):
        raise NotImplementedError


def _money_field(model, name):
    """The model's field ``name`` when it holds an amount (a decimal with two places), else ``None``."""
    if not isinstance(name, str):
        return None
    try:
        field = model._meta.get_field(name)
    except Exception:  # a method or an annotation, not a field
        return None
    return field if isinstance(field, models.DecimalField) and field.decimal_places == 2 else None


def _amount_column(field):
    @admin.display(description=field.verbose_name, ordering=field.name)
    def column(obj):
        value = getattr(obj, field.name)
        return "—" if value is None else number_format(value, decimal_pos=2, force_grouping=True)

    column.__name__ = field.name
    return column


class GroupedAmountsAdminMixin:
    """Changelist columns of amounts read as amounts — 40,000,000.00 (40 000 000,00 in French), not 40000000.00:
    each money field of ``list_display`` is shown grouped, sorted on the field itself."""

    def get_list_display(self, request):
        return [
            _amount_column(field) if (field := _money_field(self.model, name)) else name
            for name in super().get_list_display(request)
        ]
