"""The API's test data: the portal matrix's world (partner A with one object of each kind, partner B, an inactive
user and partner), and a token for each of them."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from api.models import ApiToken, token_digest
from api.services import api_token_create, api_token_revoke
from portal.models import ImportRun
from tests.factories import UserFactory
from tests.portal.test_authorization_matrix import ROLES, world  # noqa: F401  (the fixture)


@dataclass
class Tokens:
    roles: dict  # role → secret of A's user with that role
    other: str  # B's admin
    revoked: str
    expired: str
    inactive_user: str
    inactive_partner: str
    system: str  # a superuser's system token
    system_without_permission: str  # a staff user's who may not import


def make_token(user, name="test") -> str:
    return api_token_create(user=user, name=name).secret


def raw_token(user, partner, secret: str) -> ApiToken:
    return ApiToken.objects.create(
        user=user,
        partner=partner,
        name="raw",
        prefix=secret[:10],
        digest=token_digest(secret),
        expires_at=timezone.now() + timedelta(days=1),
    )


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()  # the per-token rate limit counts in the cache (the test cache: never a shared Redis DB of others)
    yield


@pytest.fixture
def tokens(world):  # noqa: F811
    revoked = api_token_create(user=world.members["admin"], name="revoked")
    api_token_revoke(token=revoked.token)
    expired = api_token_create(user=world.members["admin"], name="expired")
    ApiToken.objects.filter(pk=expired.token.pk).update(
        created_at=timezone.now() - timedelta(days=91), expires_at=timezone.now() - timedelta(seconds=1)
    )
    # Made while the user, and the partner, were active.
    raw_token(world.inactive_user, world.a, "prm_inactive-user-token")
    raw_token(world.inactive_partner_user, world.inactive_partner_user.membership.partner, "prm_inactive-partner")
    run = ImportRun.objects.create(kind="orders", file_name="matrix.csv", file_sha256="0" * 64, status="applied")
    world.objects["import_run"] = (run.pk, "matrix.csv")
    return Tokens(
        roles={role: make_token(world.members[role]) for role in ROLES},
        other=make_token(world.other),
        revoked=revoked.secret,
        expired=expired.secret,
        inactive_user="prm_inactive-user-token",
        inactive_partner="prm_inactive-partner",
        system=api_token_create(user=UserFactory(is_staff=True, is_superuser=True), name="s", system=True).secret,
        system_without_permission=api_token_create(user=UserFactory(is_staff=True), name="s", system=True).secret,
    )


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
