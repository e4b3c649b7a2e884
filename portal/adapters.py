import logging
import math
import time
import uuid

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.internal import ratelimit
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils import translation
from django.utils.translation import get_language, ngettext

logger = logging.getLogger(__name__)


class PortalAccountAdapter(DefaultAccountAdapter):
    """No public sign-up: partner users join through an invitation, staff are created in the admin."""

    def is_open_for_signup(self, request):
        return False

    def login(self, request, user):
        """Sign in, then speak the user's saved language from this response on: "Connecté en tant que …".

        Until now the request was anonymous and in the browser's language; ``UserLanguageMiddleware`` does the
        same for later requests. A language chosen with the switch (its cookie) still wins.
        """
        super().login(request, user)
        language = getattr(user, "language", None)
        if language and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
            translation.activate(language)
            request.LANGUAGE_CODE = language

    def send_mail(self, template_prefix, email, context):
        """Send allauth's emails (password reset, unknown account, email confirmation) through the outbox.

        In the user's saved language (the page's language for an address without an account), with the
        portal's own wording: ``templates/<template_prefix>_subject.txt`` and ``_body.txt``.
        """
        from portal.emailcontext import context_serialisable
        from portal.emails import email_enqueue

        try:
            get_template(f"{template_prefix}_body.txt")
        except TemplateDoesNotExist:
            logger.warning("no portal wording for %s: sent with allauth's", template_prefix)
            return super().send_mail(template_prefix, email, context)
        user = context.get("user") or get_user_model().objects.filter(email__iexact=email).first()
        # Every request is its own message (a second reset link is a new link): the key never repeats.
        email_enqueue(
            key=f"account:{template_prefix.rsplit('/', 1)[-1]}:{uuid.uuid4().hex}",
            to=email,
            language=getattr(user, "language", None) or get_language(),
            template=template_prefix,
            # Rendered by the send task: what the templates read (links, the address, the user), not the request.
            context={
                **{name: value for name, value in context.items() if context_serialisable(value)},
                "email": email,
                "user": user,
            },
        )

    def pre_authenticate(self, request, **credentials):
        """Refuse a sign-in while its account or its client IP is over the failure limit, saying how long to wait."""
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError as error:
            if error.code != "too_many_login_attempts":
                raise
            minutes = max(1, math.ceil(self._login_failed_wait_seconds(request, **credentials) / 60))
            raise ValidationError(
                ngettext(
                    "Too many failed login attempts. Try again in %(minutes)d minute.",
                    "Too many failed login attempts. Try again in %(minutes)d minutes.",
                    minutes,
                )
                % {"minutes": minutes},
                code="too_many_login_attempts",
            ) from error

    def _login_failed_wait_seconds(self, request, **credentials) -> float:
        """Seconds until every ``login_failed`` limit (per account, per client IP) lets one more attempt in."""
        key = self._get_login_attempts_cache_key(request, **credentials)
        now = time.time()
        wait = 0.0
        for rate in ratelimit.get_rates(app="allauth.account", action="login_failed"):
            cache_key = ratelimit.get_cache_key(
                request, app="allauth.account", action="login_failed", rate=rate, key=key
            )
            attempts = [stamp for stamp in cache.get(cache_key, []) if stamp > now - rate.duration]  # newest first
            if len(attempts) >= rate.amount:
                wait = max(wait, attempts[rate.amount - 1] + rate.duration - now)
        return wait
