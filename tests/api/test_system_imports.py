"""The vendor's systems import orders, partners and certifications as JSON rows, with exactly the file import's
rules: all or nothing, every bad row reported (by its row), a re-import changes nothing, the run is recorded."""

import json

import pytest
from django.urls import reverse

from api.services import api_token_create
from deals.models import Order
from portal.models import ImportRun, JobRun
from tests.factories import UserFactory
from tests.factories import routing as routing_data

from .conftest import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def system():
    return api_token_create(user=UserFactory(is_staff=True, is_superuser=True), name="order system", system=True).secret


def order_row(number="SO-API-1", line="1", amount="1000.00", **overrides):
    row = {
        "order_number": number,
        "booked_on": "2017-03-01",
        "channel": "partner",
        "partner_code": overrides.pop("partner_code"),
        "customer_name": "Api Customer SA",
        "customer_country": "FR",
        "line_number": line,
        "product_line": "server",
        "sku": "R740",
        "quantity": "1",
        "net_amount": amount,
    }
    row.update(overrides)
    return row


def send(client, secret, kind, rows, **headers):
    url = reverse(f"api:system_import_{kind}")
    return client.post(
        url, data=json.dumps({"rows": rows}), content_type="application/json", **bearer(secret), **headers
    )


def test_orders_are_imported_once_and_a_reimport_changes_nothing(client, system):
    partner = routing_data.partner("FR")
    rows = [order_row(partner_code=partner.code), order_row(partner_code=partner.code, line="2", amount="250.50")]
    first = send(client, system, "orders", rows)
    assert first.status_code == 200, first.content
    assert first.json() | {"run": 0} == {"run": 0, "kind": "orders", "status": "applied", "rows": 2, "created": 2,
                                          "unchanged": 0}  # fmt: skip
    order = Order.objects.get(number="SO-API-1")
    assert order.partner == partner and order.lines.count() == 2
    again = send(client, system, "orders", rows).json()
    assert again["created"] == 0 and again["unchanged"] == 2
    assert ImportRun.objects.filter(kind="orders", status="applied").count() == 2


def test_one_bad_row_rejects_all_and_each_bad_row_is_reported(client, system):
    partner = routing_data.partner("FR")
    rows = [
        order_row("SO-API-2", partner_code=partner.code),
        order_row("SO-API-3", partner_code="NOSUCH"),
        order_row("SO-API-4", partner_code=partner.code, net_amount="12.345"),
    ]
    response = send(client, system, "orders", rows)
    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "import_rejected" and error["error_count"] >= 2
    assert {"rows.1", "rows.2"} <= set(error["fields"]) and "rows.0" not in error["fields"]
    assert not Order.objects.filter(number__startswith="SO-API-").exists()
    assert ImportRun.objects.get(kind="orders").status == "rejected"


def test_an_unknown_column_is_a_400_and_a_missing_one_is_blank(client, system):
    partner = routing_data.partner("FR")
    response = send(client, system, "orders", [order_row(partner_code=partner.code, colour="red")])
    assert response.status_code == 400 and response.json()["fields"] == {"rows.0": ["unknown column 'colour'"]}
    assert send(client, system, "orders", [order_row(partner_code=partner.code)]).status_code == 200


def test_partners_import_with_the_optional_join_date(client, system):
    row = {
        "partner_code": "API-P1",
        "name": "Api Partner SAS",
        "country": "FR",
        "kind": "reseller",
        "admin_email": "admin@api-partner.example",
        "joined_on": "2017-06-01",
    }
    response = send(client, system, "partners", [row])
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 1


def test_a_retry_with_its_key_imports_nothing_more(client, system):
    partner = routing_data.partner("FR")
    rows = [order_row("SO-API-5", partner_code=partner.code)]
    first = send(client, system, "orders", rows, HTTP_IDEMPOTENCY_KEY="batch-1")
    again = send(client, system, "orders", rows, HTTP_IDEMPOTENCY_KEY="batch-1")
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert ImportRun.objects.filter(kind="orders").count() == 1


def test_an_import_run_and_the_job_runs_are_readable_with_a_system_token(client, system):
    partner = routing_data.partner("FR")
    run = send(client, system, "orders", [order_row("SO-API-6", partner_code=partner.code)]).json()["run"]
    detail = client.get(reverse("api:system_import_run", args=[run]), **bearer(system)).json()
    assert detail["status"] == "applied" and detail["rows"] == 1 and detail["errors"] == []
    assert client.get(reverse("api:system_import_run", args=[run + 999]), **bearer(system)).status_code == 404
    JobRun.objects.create(name="tiers_recompute", period="2017-03-01", result={"partners": 3})
    jobs = client.get(reverse("api:system_jobs"), {"name": "tiers_recompute"}, **bearer(system)).json()["results"]
    assert [(job["period"], job["result"]) for job in jobs] == [("2017-03-01", {"partners": 3})]


def test_stored_answers_are_forgotten_after_a_month(client, system):
    from datetime import timedelta

    from django.utils import timezone

    from api.models import IdempotentRequest
    from api.services import idempotent_requests_prune

    partner = routing_data.partner("FR")
    send(client, system, "orders", [order_row("SO-API-7", partner_code=partner.code)], HTTP_IDEMPOTENCY_KEY="old")
    send(client, system, "orders", [order_row("SO-API-8", partner_code=partner.code)], HTTP_IDEMPOTENCY_KEY="new")
    IdempotentRequest.objects.filter(key="old").update(created_at=timezone.now() - timedelta(days=31))
    assert idempotent_requests_prune() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]
