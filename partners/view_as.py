""" "View as partner" for support: a staff member sees the portal as one partner's users do, read only, logged.

Starting it (``partner_view_start``, from the partner's admin page) writes a ``PartnerViewSession`` row and puts
its id in the staff user's session. While it is there, ``ViewAsPartnerMiddleware`` makes the partner scoping
(``partners.scoping.membership_of``) resolve to that partner, as an administrator of it, on the portal's pages,
and refuses every non-safe request (403) except Stop and signing out; the admin is left alone, so the staff
member's own admin keeps working as usual. Stop, signing out, or starting another view ends the row.

Partner users can never use it: the start refuses a user with a membership, and so does the middleware.
"""

from django.contrib.auth.signals import user_logged_out
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Membership, Partner, PartnerViewSession

SESSION_KEY = "view_as_partner_session"
PERMISSION = "partners.view_as_partner"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}


class PartnerViewError(Exception):
    """A view as partner that cannot start (not allowed, a partner user, an inactive partner)."""


def may_view_as_partner(user) -> bool:
    """Staff with the permission, who are not partner users themselves."""
    return (
        getattr(user, "is_authenticated", False)
        and user.is_staff
        and user.has_perm(PERMISSION)
        and not Membership.objects.filter(user=user).exists()
    )


def partner_view_start(*, request, partner: Partner) -> PartnerViewSession:
    """Start viewing the portal as ``partner`` for ``request.user`` (ending a view already open), logged."""
    user = request.user
    if not may_view_as_partner(user):
        raise PartnerViewError(_("You may not view the portal as a partner."))
    if not partner.active:
        raise PartnerViewError(_("This partner is not active."))
    with transaction.atomic():
        _end_open_views(user)
        viewing = PartnerViewSession.objects.create(staff_user=user, partner=partner)
    request.session[SESSION_KEY] = viewing.pk
    return viewing


def partner_view_stop(*, request) -> PartnerViewSession | None:
    """Stop the request's view as partner (if any): the row is ended, the session flag removed."""
    session_id = request.session.pop(SESSION_KEY, None)
    if session_id is None or not request.user.is_authenticated:
        return None
    viewing = PartnerViewSession.objects.filter(pk=session_id, staff_user=request.user).first()
    if viewing is not None and viewing.ended_at is None:
        viewing.ended_at = timezone.now()
        viewing.save(update_fields=["ended_at"])
    return viewing


def _end_open_views(user) -> None:
    PartnerViewSession.objects.filter(staff_user=user, ended_at=None).update(ended_at=timezone.now())


@receiver(user_logged_out, dispatch_uid="partners.view_as.end_on_logout")
def _end_on_logout(sender, request, user, **kwargs):
    """Signing out ends the view (Django flushes the session, which drops the flag)."""
    if user is not None and user.is_staff:
        _end_open_views(user)


def current_partner_view(request) -> PartnerViewSession | None:
    """The open view as partner of this request, or ``None`` (the flag is dropped when it no longer holds)."""
    session = getattr(request, "session", None)
    session_id = session.get(SESSION_KEY) if session is not None else None
    if session_id is None:
        return None
    viewing = None
    if may_view_as_partner(request.user):
        viewing = (
            PartnerViewSession.objects.select_related("partner__tier")
            .filter(pk=session_id, staff_user=request.user, ended_at=None, partner__active=True)
            .first()
        )
    if viewing is None:
        session.pop(SESSION_KEY, None)
    return viewing


class ViewAsPartnerMiddleware:
    """While a staff member views as a partner: the portal's pages are that partner's, and read only."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(reverse("admin:index")):
            return self.get_response(request)  # the staff member's own admin: untouched, no query
        viewing = current_partner_view(request)
        if viewing is not None:
            request.viewing_as = viewing
            if request.method not in SAFE_METHODS and request.path not in {
                reverse("view_as_stop"),
                reverse("account_logout"),
            }:
                raise PermissionDenied("Viewing as a partner is read only.")
            # The scoping's cached membership: an administrator of the partner, never saved.
            # (No ``user`` on it: setting one would make the staff user look like a partner user elsewhere.)
            request.user._portal_membership = Membership(partner=viewing.partner, role=Membership.Role.ADMIN)
        return self.get_response(request)
