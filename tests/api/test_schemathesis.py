"""The API fuzzed against the live server with schemathesis: every operation of the published schema, with a
partner admin's token (every role's operations), answers no 5xx, and every answer matches the schema (status code,
content type, headers, body)."""

import itertools
import json
from datetime import date, timedelta

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.utils.encoders import JSONEncoder
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.services import api_token_create
from api.throttling import TokenRateThrottle
from tests.factories import UserFactory

# The live server needs committed data; the rollback keeps the program's data migrations for the next tests.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def published_schema() -> dict:
    """The schema ``/api/schema/`` serves (a test below proves the live server serves exactly this)."""
    return SchemaGenerator().get_schema(request=None, public=True)


# Loaded when the module is collected, not through a fixture: schemathesis's lazy fixture loader reads a private
# attribute that pytest 9 no longer has.
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(published_schema(), cls=JSONEncoder)))


@pytest.fixture
def admin_token(world, monkeypatch):
    """An admin token of partner A (which has an object of each kind), unthrottled: fuzzing is not a CRM."""
    monkeypatch.setattr(TokenRateThrottle, "rate", "100000/minute", raising=False)
    return api_token_create(user=world.members["admin"], name="schemathesis").secret


@pytest.fixture
def system_token(monkeypatch, tokens):  # ``tokens`` also records an import run in ``world``
    monkeypatch.setattr(TokenRateThrottle, "rate", "100000/minute", raising=False)
    return api_token_create(user=UserFactory(is_staff=True, is_superuser=True), name="fuzz", system=True).secret


def test_the_live_server_publishes_the_schema_that_is_fuzzed(live_server):
    import requests

    response = requests.get(f"{live_server.url}/api/schema/?format=json", timeout=30)
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(published_schema(), cls=JSONEncoder))


ALTERNATE = itertools.cycle([True, False])
SERIAL = itertools.count()
ANSWERED: dict[str, set[int]] = {}  # operation → the statuses it answered


def _valid_registration() -> dict:
    serial = next(SERIAL)
    return {
        "customer_name": f"Fuzz {serial} {'ABCDEFGHIJKLMNOPQRSTUVWXYZ'[serial % 26] * 3} Holdings",
        "customer_country": "DE",
        "customer_domain": f"fuzz-{serial}.example",
        "opportunity_name": "Fuzzed",
        "expected_close_on": (date.today() + timedelta(days=30)).isoformat(),
        "lines": [{"product_line": "storage", "estimated_amount": "1500.50"}],
        "customer_choice": "new",
    }


def _valid_import(kind: str, world) -> dict:
    serial = next(SERIAL)
    row = {
        "orders": {"order_number": f"FZ-{serial}", "booked_on": "2017-03-01", "channel": "direct",
                   "customer_name": f"Fuzz Direct {serial} {'QWERTYUIOPASDFGHJKLZXCVBNM'[serial % 26] * 4}",
                   "customer_country": "FR", "line_number": "1", "product_line": "server", "sku": "R640",
                   "quantity": "1", "net_amount": "100.00"},
        "partners": {"partner_code": f"FZ{serial}", "name": f"Fuzz Partner {serial}", "country": "DE",
                     "kind": "reseller", "admin_email": f"admin{serial}@fuzz.example"},
        "certifications": {"partner_code": world.a.code, "person_email": f"p{serial}@a.example",
                           "person_name": f"Person {serial}", "certification_code": "SALES-SERVER",
                           "earned_on": "2017-03-01"},
    }[kind]  # fmt: skip
    return {"rows": [row]}


def _real_object(path: str, world) -> str:
    kind = next(kind for kind in ("registration", "statement", "order", "routed", "imports") if f"/{kind}" in path)
    return str(world.objects[{"routed": "offer", "imports": "import_run"}.get(kind, kind)][0])


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_within_its_schema_and_never_5xx(case, live_server, admin_token, system_token, world):
    """Random identifiers (mostly 404s), and every other example on partner A's real objects (or a valid body),
    so that the operation's answers themselves are checked too. System operations with a system token."""
    system = case.operation.path.startswith("/api/v1/system/")
    token = system_token if system else admin_token
    if system and case.operation.method == "post" and next(ALTERNATE):
        case.body = _valid_import(case.operation.path.rstrip("/").rsplit("/", 1)[-1], world)
    elif case.path_parameters and next(ALTERNATE):
        name = next(iter(case.path_parameters))
        case.path_parameters = {name: _real_object(case.operation.path, world)}
    elif case.operation.method == "post" and case.operation.path == "/api/v1/registrations/" and next(ALTERNATE):
        case.body = _valid_registration()
    response = case.call_and_validate(
        base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
    )
    ANSWERED.setdefault(f"{case.operation.method.upper()} {case.operation.path}", set()).add(response.status_code)


def test_the_fuzzing_reached_an_answer_of_every_operation_not_only_its_errors():
    """Runs after the fuzzing above (file order): each operation answered 2xx at least once."""
    if not ANSWERED:
        pytest.skip("the fuzzing test was not selected")
    never = {operation: codes for operation, codes in ANSWERED.items() if not any(200 <= c < 300 for c in codes)}
    assert not never
