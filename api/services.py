"""Writes on API tokens: create (the secret is returned once), revoke, record a use."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.scoping import membership_of

from .models import TOKEN_PREFIX, ApiToken, token_digest

DEFAULT_VALID_DAYS = 90
MAX_VALID_DAYS = 366
LAST_USED_PRECISION = timedelta(minutes=1)  # a busy token writes its last use at most once a minute


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    secret: str  # shown once; never stored


def _new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
def api_token_create(*, user, name: str, valid_days: int = DEFAULT_VALID_DAYS, system: bool = False) -> CreatedToken:
    """Create a token for ``user``: a partner user's carries its partner (and acts with its role); a system token
    is for a staff user only. Return the token and its secret, which is not kept."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Give the token a name.")]})
    if not 1 <= valid_days <= MAX_VALID_DAYS:
        raise ValidationError(
            {"valid_days": [_("A token is valid from 1 to %(days)s days.") % {"days": MAX_VALID_DAYS}]}
        )
    if system:
        if not user.is_staff:
            raise PermissionDenied("System tokens are for channel staff.")
        partner = None
    else:
        membership = membership_of(user)
        if membership is None:
            raise PermissionDenied("Personal tokens are for partner users.")
        partner = membership.partner
    secret = _new_secret()
    now = timezone.now()
    token = ApiToken.objects.create(
        user=user,
        partner=partner,
        name=name,
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        digest=token_digest(secret),
        created_at=now,
        expires_at=now + timedelta(days=valid_days),
    )
    return CreatedToken(token=token, secret=secret)


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke ``token`` at once (revoking twice keeps the first time)."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db(fields=["revoked_at"])
    return token


def api_token_touch(*, token: ApiToken) -> None:
    """Record that ``token`` was used now (at most one write a minute per token)."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


IDEMPOTENCY_KEPT_DAYS = 30  # a client retries within minutes; a month is ample to answer any retry


def idempotent_requests_prune(*, now=None) -> int:
    """Delete stored idempotent answers older than ``IDEMPOTENCY_KEPT_DAYS`` (one set-based delete)."""
    from .models import IdempotentRequest

    cutoff = (now or timezone.now()) - timedelta(days=IDEMPOTENCY_KEPT_DAYS)
    deleted, _by_model = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted
