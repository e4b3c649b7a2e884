"""The schema and its documentation page are public (they describe the API, not a partner's data) and served from
our own static files: no CDN, within the portal's CSP."""

import re
from datetime import date

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from tests.factories import rebates as rebate_data
from tests.factories.registrations import RegistrationFactory

from .conftest import bearer

pytestmark = pytest.mark.django_db


def test_the_schema_is_openapi_3_with_bearer_tokens(client):
    schema = client.get(reverse("api:schema"), {"format": "json"}).json()
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["apiToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["apiToken"]["description"],
    }
    create = schema["paths"]["/api/v1/registrations/"]["post"]
    assert any(parameter["name"] == "Idempotency-Key" for parameter in create["parameters"])
    assert {"201", "400", "401", "403", "422", "429"} <= set(create["responses"])


def test_the_documentation_page_loads_only_our_static_files(client):
    page = client.get(reverse("api:docs"))
    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(source.startswith("/") for source in sources), sources
    for source in sources:
        if source.startswith("/static/"):
            assert finders.find(source.removeprefix("/static/")), source
    script = client.get(next(source for source in sources if "script" in source))
    assert script.status_code == 200 and b"/api/schema/" in script.content


@pytest.mark.parametrize("name", ["orders", "registrations", "routed_orders", "statements"])
def test_a_list_costs_a_bounded_number_of_queries(client, world, tokens, django_assert_max_num_queries, name):
    secret = tokens.roles["admin"]
    for index in range(5):  # more rows must not mean more queries
        RegistrationFactory(partner=world.a, lines={"server": "10.00", "storage": "20.00"})
        rebate_data.order(partner=world.a, customer=rebate_data.customer(), booked_on=date(2017, 4, 1),
                          lines=[("server", "10.00"), ("storage", "5.00")], number=f"SO-Q-{index}")  # fmt: skip
    client.get(reverse(f"api:{name}"), **bearer(secret))  # warm the per-process caches (program, tiers)
    with django_assert_max_num_queries(8):
        assert client.get(reverse(f"api:{name}"), **bearer(secret)).status_code == 200
