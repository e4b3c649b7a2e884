from django.core.paginator import Paginator
from django.utils.functional import cached_property


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


class CappedCountPaginator(Paginator):
    """Counts at most ``cap`` rows: ``COUNT(*)`` over a ``LIMIT`` subquery, bounded whatever the table's size.

    Past the cap the changelist pages up to the cap; staff narrow a search or a filter to see further.
    """

    cap = 10_000

    @cached_property
    def count(self):
        return self.object_list[: self.cap].count()


class LargeTableAdminMixin:
    """For changelists over tables of millions of rows (orders, order lines, lock events): no unbounded
    ``COUNT(*)`` — neither the total beside a search ("n results (N total)") nor the paginator's own count — and
    no filter whose choices are read from the whole table (``date_hierarchy`` reads its years and months from
    every row: use ``DateFieldListFilter`` instead)."""

    show_full_result_count = False
    paginator = CappedCountPaginator
