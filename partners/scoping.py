"""Partner scoping, in one place: every partner-facing query and view goes through here.

A partner user sees only its partner's rows. Channel staff bypass scoping only where a caller says so
explicitly (``staff_bypass=True``); partner pages never do.
"""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

ROLE_ADMIN = "admin"
ROLE_SALES = "sales"
ROLE_FINANCE = "finance"
ALL_ROLES = (ROLE_ADMIN, ROLE_SALES, ROLE_FINANCE)


def membership_of(user):
    """Return the user's partner membership, or ``None`` (staff, or a user with no partner)."""
    if not getattr(user, "is_authenticated", False):
        return None
    cached = getattr(user, "_portal_membership", False)
    if cached is not False:
        return cached
    from partners.models import Membership

    membership = (
        Membership.objects.select_related("partner", "partner__tier").filter(user=user, partner__active=True).first()
    )
    user._portal_membership = membership
    return membership


def partner_of(user):
    membership = membership_of(user)
    return membership.partner if membership else None


def scope_to_partner(
    queryset: QuerySet, user, *, partner_field: str = "partner", staff_bypass: bool = False
) -> QuerySet:
    """Restrict ``queryset`` to the rows of ``user``'s partner (``partner_field`` is a lookup path).

    A user with no partner gets nothing, unless ``staff_bypass`` is set and the user is staff.
    """
    if staff_bypass and getattr(user, "is_staff", False):
        return queryset
    partner = partner_of(user)
    if partner is None:
        return queryset.none()
    return queryset.filter(**{partner_field: partner})


class PartnerViewMixin(LoginRequiredMixin):
    """A partner-facing view: requires a partner membership with one of ``partner_roles``.

    Sets ``self.membership`` and ``self.partner``; use ``self.scope(qs)`` for every query.
    """

    partner_roles: tuple[str, ...] = ALL_ROLES

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.membership = membership_of(request.user)
        if self.membership is None:
            raise PermissionDenied("This page is for partner users.")
        if self.membership.role not in self.partner_roles:
            raise PermissionDenied("Your role does not give access to this page.")
        self.partner = self.membership.partner
        return super().dispatch(request, *args, **kwargs)

    def scope(self, queryset: QuerySet, partner_field: str = "partner") -> QuerySet:
        return scope_to_partner(queryset, self.request.user, partner_field=partner_field)
