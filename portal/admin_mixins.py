class ReadOnlyAdminMixin:
    """Viewing only, for records that are never edited by hand: booked orders, the tier history, awards
    (changed through their services), the import log."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
