"""Who may call an endpoint: the partner roles of DESIGN §1, as on the pages, through the partner scoping."""

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from partners.scoping import ALL_ROLES, membership_of

from .models import ApiToken


class PartnerRole(BasePermission):
    """A partner user's token, whose user is still a member of the token's (active) partner with one of the
    view's ``partner_roles``. Sets ``view.membership`` and ``view.partner``. A system token is refused here."""

    message = _("Your role does not give access to this operation.")

    def has_permission(self, request, view):
        token = request.auth
        if not isinstance(token, ApiToken) or token.partner_id is None:
            self.message = _("This operation is for partner tokens.")
            return False
        membership = membership_of(request.user)
        if membership is None or membership.partner_id != token.partner_id:
            self.message = _("This token's user is no longer a member of its partner.")
            return False
        if membership.role not in getattr(view, "partner_roles", ALL_ROLES):
            return False
        view.membership = membership
        view.partner = membership.partner
        return True
