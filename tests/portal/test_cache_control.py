"""Partner pages and downloads are never kept by a shared cache or on disk: Cache-Control: private, no-store."""

from datetime import date

import pytest
from django.urls import reverse

from portal.fiscal import Quarter
from rebates import services
from tests.factories import MembershipFactory
from tests.factories import rebates as f

pytestmark = pytest.mark.django_db


def directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


@pytest.fixture
def signed_in_finance(client):
    partner = f.partner("P00001", tier="gold")
    f.order(partner=partner, customer=f.customer(), booked_on=date(2017, 2, 10), lines=[("hci", "1000.00")])
    services.quarter_close(quarter=Quarter.parse("FY2018-Q1"), as_of=date(2017, 5, 6))
    client.force_login(MembershipFactory(partner=partner, role="admin").user)
    return client, partner.statements.get()


def test_partner_pages_are_private_and_not_stored(signed_in_finance):
    client, statement = signed_in_finance
    for url in (
        reverse("dashboard"),
        reverse("my_tier"),
        reverse("team"),
        reverse("people"),
        reverse("deals:order_list"),
        reverse("deals:registration_list"),
        reverse("rebates:statement_list"),
        reverse("rebates:statement_detail", args=[statement.number]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert {"private", "no-store"} <= directives(response), url
        assert "public" not in directives(response), url


def test_downloads_are_private_and_not_stored(signed_in_finance):
    client, statement = signed_in_finance
    for url in (
        reverse("rebates:statement_csv", args=[statement.number]),
        reverse("rebates:statement_pdf", args=[statement.number]),
        reverse("deals:order_list") + "?export=csv",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert not response["Content-Type"].startswith("text/html"), url
        assert {"private", "no-store"} <= directives(response), url


def test_the_sign_in_page_and_errors_are_not_stored_either(client):
    assert {"private", "no-store"} <= directives(client.get(reverse("account_login")))
    assert {"private", "no-store"} <= directives(client.get("/no-such-page/"))
