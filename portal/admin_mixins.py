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
