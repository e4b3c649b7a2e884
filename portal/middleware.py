import re

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _

# No identifier in a path holds a control character; no query value holds NUL (PostgreSQL refuses NUL in any
# string, so before this a ``%00`` in a path or query parameter was a 500 on every page that looks something up).
PATH_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")
QUERY_FORBIDDEN = re.compile(r"\x00")


class MalformedRequestMiddleware:
    """Answer 404 to a request whose path holds a control character or whose query holds NUL, before any view.

    One place for every URL (invitations, orders, registrations, statements, list filters), instead of each view
    or converter remembering it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if PATH_FORBIDDEN.search(request.path_info) or any(
            QUERY_FORBIDDEN.search(key) or any(QUERY_FORBIDDEN.search(value) for value in values)
            for key, values in request.GET.lists()
        ):
            raise Http404("malformed request")
        return self.get_response(request)


class UserLanguageMiddleware:
    """Use a signed-in user's saved language unless the language switch chose one for this browser."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES
            and getattr(user, "language", None)
        ):
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return self.get_response(request)


class StaffTwoFactorMiddleware:
    """Channel staff reach the admin only with TOTP turned on: a staff user without it is sent to enrol first.

    Once TOTP is on, allauth asks for a code at every sign-in, so a staff session has used it. Partner users
    may opt in; nothing here concerns them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and (user.is_staff or user.is_superuser)
            and request.path.startswith(reverse("admin:index"))
            and not is_mfa_enabled(user, [Authenticator.Type.TOTP])
        ):
            messages.warning(
                request,
                _(
                    "Channel staff need two-factor authentication: set up an authenticator app (TOTP) "
                    "to open the admin."
                ),
            )
            return redirect("mfa_activate_totp")
        return self.get_response(request)


class PrivateNoStoreMiddleware:
    """Every page and download the portal itself serves is ``Cache-Control: private, no-store``.

    They show one partner's figures, statements and customers: no shared proxy may keep them, and no browser
    may store them on disk for the next person at that computer. Static files (served by WhiteNoise, before
    this middleware) stay cacheable.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        patch_cache_control(response, private=True, no_store=True)
        return response
