from .scoping import membership_of


def partner_context(request):
    """The signed-in user's partner and role, for the header and navigation."""
    membership = membership_of(getattr(request, "user", None))
    return {
        "current_membership": membership,
        "current_partner": membership.partner if membership else None,
        "current_role": membership.role if membership else None,
        "viewing_as": getattr(request, "viewing_as", None),  # a staff member's read-only view (partners.view_as)
    }
