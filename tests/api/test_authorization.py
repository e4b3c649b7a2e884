"""The API's authorization matrix: every operation of the OpenAPI schema has an entry saying which partner roles
may call it (DESIGN §1, as on the pages), and each is tried with no token, a revoked, an expired token, an inactive
user's, an inactive partner's, another partner's, each role that may not, and each role that may."""

import json
from dataclasses import dataclass

import pytest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from tests.portal.test_authorization_matrix import ADMIN, FINANCE, ROLES, SALES

from .conftest import bearer

DEALS = (ADMIN, SALES)
STATEMENTS = (ADMIN, FINANCE)


@dataclass(frozen=True)
class Op:
    name: str  # URL name in the ``api`` namespace
    roles: tuple[str, ...]
    target: str = ""  # which object of partner A the URL names
    body: dict | None = None
    shows: str = "partner"  # for a list: which object of A it lists (another partner must not see it)
    system: bool = False  # for the vendor's systems: a staff (system) token, no partner role


MATRIX: dict[tuple[str, str], Op] = {
    ("get", "/api/v1/me/"): Op("me", ROLES),
    ("get", "/api/v1/registrations/"): Op("registrations", DEALS, shows="registration"),
    ("post", "/api/v1/registrations/"): Op("registrations", DEALS, body={}),
    ("get", "/api/v1/registrations/{number}/"): Op("registration", DEALS, target="registration"),
    ("post", "/api/v1/registrations/{number}/withdraw/"): Op("registration_withdraw", DEALS, "registration", {}),
    ("post", "/api/v1/registrations/{number}/lost/"): Op("registration_lost", DEALS, "registration", {}),
    ("post", "/api/v1/registrations/{number}/extension/"): Op(
        "registration_extension", DEALS, "registration", {"reason": "Customer board meets later"}
    ),
    ("get", "/api/v1/routed-orders/"): Op("routed_orders", DEALS, shows="offer"),
    ("post", "/api/v1/routed-orders/{id}/accept/"): Op("routed_accept", DEALS, "offer", {}),
    ("post", "/api/v1/routed-orders/{id}/decline/"): Op("routed_decline", DEALS, "offer", {"reason": "No capacity"}),
    ("get", "/api/v1/orders/"): Op("orders", ROLES, shows="order"),
    ("get", "/api/v1/orders/{number}/"): Op("order", ROLES, target="order"),
    ("get", "/api/v1/statements/"): Op("statements", STATEMENTS, shows="statement"),
    ("get", "/api/v1/statements/{number}/"): Op("statement", STATEMENTS, target="statement"),
    ("get", "/api/v1/statements/{number}/csv/"): Op("statement_csv", STATEMENTS, target="statement"),
    ("get", "/api/v1/statements/{number}/pdf/"): Op("statement_pdf", STATEMENTS, target="statement"),
    ("get", "/api/v1/tier/"): Op("tier", ROLES, shows="tier"),
    ("get", "/api/v1/system/imports/{id}/"): Op("system_import_run", (), target="import_run", system=True),
    ("get", "/api/v1/system/jobs/"): Op("system_jobs", (), system=True),
    ("post", "/api/v1/system/imports/orders/"): Op("system_import_orders", (), body={"rows": []}, system=True),
    ("post", "/api/v1/system/imports/partners/"): Op("system_import_partners", (), body={"rows": []}, system=True),
    ("post", "/api/v1/system/imports/certifications/"): Op(
        "system_import_certifications", (), body={"rows": []}, system=True
    ),
}


def schema_operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {(method, path) for path, item in schema["paths"].items() for method in item}


def test_every_api_operation_has_a_matrix_entry():
    assert schema_operations() == set(MATRIX)


def _url(op: Op, world) -> str:
    if not op.target:
        return reverse(f"api:{op.name}")
    key = "pk" if op.target in ("offer", "import_run") else "number"
    return reverse(f"api:{op.name}", kwargs={key: world.objects[op.target][0]})


def _call(client, method, op, url, secret=None):
    headers = bearer(secret) if secret else {}
    if method == "get":
        return client.get(url, **headers)
    return client.post(url, data=json.dumps(op.body or {}), content_type="application/json", **headers)


def _marker(op: Op, world) -> bytes:
    if op.shows == "tier":
        return b'"tier":{"code":"gold"'  # A is Gold since 2017; B is Authorized
    return str(world.objects[op.target or op.shows][1]).encode()


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
def test_only_the_roles_design_gives_reach_the_operation(client, world, tokens, method, path):
    op = MATRIX[(method, path)]
    url = _url(op, world)

    for who, secret in [
        ("anonymous", None),
        ("revoked", tokens.revoked),
        ("expired", tokens.expired),
        ("inactive user", tokens.inactive_user),
        ("unknown", "prm_not-a-token"),
    ]:
        response = _call(client, method, op, url, secret)
        assert response.status_code == 401, (who, response.status_code)
        assert response["WWW-Authenticate"].startswith("Bearer"), who
        assert set(response.json()) >= {"code", "message", "fields"}, who

    assert _call(client, method, op, url, tokens.inactive_partner).status_code == 403, "user of an inactive partner"

    response = _call(client, method, op, url, tokens.other)
    if op.system:
        assert response.status_code == 403, "a partner token on a system operation"
        response = _call(client, method, op, url, tokens.system)
        assert response.status_code not in (401, 403, 404) and response.status_code < 500, response.status_code
        assert _call(client, method, op, url, tokens.system_without_permission).status_code == 403
    elif op.target:
        assert response.status_code == 404, ("another partner", response.status_code)
        assert _marker(op, world) not in response.content
    elif method == "get":
        assert response.status_code == 200 and _marker(op, world) not in response.content, "another partner"

    for role in ROLES:
        response = _call(client, method, op, url, tokens.roles[role])
        if not op.system:  # every partner operation refuses a system token
            assert _call(client, method, op, url, tokens.system).status_code == 403
        if role not in op.roles:
            assert response.status_code == 403, (role, response.status_code)
            assert response.json()["code"] == "permission_denied"
        else:
            assert response.status_code not in (401, 403, 404) and response.status_code < 500, (
                role,
                response.status_code,
                response.content[:300],
            )
            if method == "get" and not op.target:  # the positive control of the other-partner check
                assert _marker(op, world) in response.content, role
