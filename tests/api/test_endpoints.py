"""Orders, statements, routed orders and the tier through the API: the pages' figures, amounts as strings with two
decimals, dates ISO 8601, downloads as files."""

import json

from django.urls import reverse

from deals.models import Order, RoutingOffer

from .conftest import bearer


def get(client, secret, name, *args, **params):
    return client.get(reverse(f"api:{name}", args=args), params, **bearer(secret))


def test_orders_list_and_detail(client, world, tokens):
    secret, number = tokens.roles["finance"], world.objects["order"][0]
    rows = get(client, secret, "orders").json()["results"]
    assert rows == [
        {
            "number": number,
            "booked_on": "2017-03-01",
            "channel": "partner",
            "customer": rows[0]["customer"],
            "total": "1000.00",
            "line_count": 1,
            "product_lines": ["server"],
        }
    ]
    assert get(client, secret, "orders", booked_from="2017-04-01").json()["results"] == []
    detail = get(client, secret, "order", number).json()
    assert detail["total"] == "1000.00" and detail["lines"][0]["net_amount"] == "1000.00"
    assert detail["lines"][0]["line_number"] == 1


def test_statements_list_detail_and_downloads(client, world, tokens):
    secret, number = tokens.roles["finance"], world.objects["statement"][0]
    (row,) = get(client, secret, "statements").json()["results"]
    assert row["number"] == number and row["total"] == "100.00" and row["quarter"] == "FY2018-Q1"
    detail = get(client, secret, "statement", number).json()
    assert detail["summary"]["total"] == "100.00"
    assert [(line["component"], line["rate"], line["amount"]) for line in detail["lines"]] == [
        ("base", "2.000", "20.00"),
        ("new_business", "8.000", "80.00"),
    ]
    csv = get(client, secret, "statement_csv", number)
    assert csv["Content-Type"].startswith("text/csv") and number in csv.content.decode()
    pdf = client.get(reverse("api:statement_pdf", args=[number]), HTTP_ACCEPT="application/pdf", **bearer(secret))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    missing = client.get(reverse("api:statement_csv", args=["RS-NOPE"]), HTTP_ACCEPT="text/csv", **bearer(secret))
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_routed_orders_decline_needs_a_reason_and_accept_makes_the_order_the_partners(client, world, tokens):
    secret, pk = tokens.roles["sales"], world.objects["offer"][0]
    (offer,) = get(client, secret, "routed_orders").json()["results"]
    assert offer["id"] == pk and offer["status"] == "offered" and offer["total"] == "5000.00"

    def answer(action, data):
        url = reverse(f"api:routed_{action}", args=[pk])
        return client.post(url, data=json.dumps(data), content_type="application/json", **bearer(secret))

    assert answer("decline", {}).status_code == 400
    accepted = answer("accept", {})
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert Order.objects.get(number=offer["order_number"]).partner == world.a
    assert answer("decline", {"reason": "too late"}).status_code == 422
    assert RoutingOffer.objects.get(pk=pk).status == RoutingOffer.Status.ACCEPTED
    assert get(client, secret, "routed_orders", pending="false").json()["results"][0]["id"] == pk


def test_my_tier_has_figures_paths_and_history(client, world, tokens):
    tier = get(client, tokens.roles["finance"], "tier").json()
    assert tier["tier"]["code"] == "gold" and tier["computed_tier"]["code"] == "authorized"
    assert tier["at_risk"] is True and tier["at_risk_paths"]
    path = tier["at_risk_paths"][0]
    assert path["met"] is False and path["shortfalls"]
    revenue = next(row for row in path["rows"] if row["key"] == "qualifying_revenue")
    assert revenue["need"].endswith(".00") and revenue["met"] is False
    assert tier["next_tier"]["code"] == "platinum" and tier["next_paths"]
    assert {change["to_tier"] for change in tier["history"]} >= {"gold"}


def test_me_says_whose_token_it_is(client, world, tokens):
    me = get(client, tokens.roles["sales"], "me").json()
    assert me["partner_code"] == world.a.code and me["role"] == "sales"
    assert me["email"] == world.members["sales"].email
