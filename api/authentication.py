"""Bearer-token authentication for the API: ``Authorization: Bearer prm_…``."""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from .models import ApiToken, token_digest
from .services import api_token_touch

KEYWORD = b"bearer"


class ApiTokenAuthentication(BaseAuthentication):
    """Authenticate a request by a personal or system API token.

    The request then acts as the token's user, and ``request.auth`` is the token. A revoked or expired token, an
    unknown one, or an inactive user is a 401 — exactly the same answer, so a probe learns nothing.
    """

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Send the token as “Authorization: Bearer <token>”."))
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid or expired token.")) from None
        token = ApiToken.objects.usable().select_related("user").filter(digest=token_digest(secret)).first()
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid or expired token."))
        api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
