"""My tier at phone width (390 px): the tier figures stack inside the viewport (issue 12, "Tables and phones")."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from partners.models import Certification
from tests.factories import (
    CertificationRecordFactory,
    MembershipFactory,
    OrderFactory,
    OrderLineFactory,
    PersonFactory,
)
from tests.factories.partners import PASSWORD, tier_set

PHONE = {"width": 390, "height": 844}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_tier_figures_lie_inside_a_390_px_viewport(browser_page, live_server, shot):
    member = MembershipFactory(role="admin", partner__country="FR", partner__name="Établissements Téléphone Étroit")
    partner, today = member.partner, timezone.localdate()
    tier_set(partner, "gold", date(2017, 2, 1))
    order = OrderFactory(partner=partner, booked_on=today - timedelta(days=20))
    OrderLineFactory(order=order, product_line="server", net_amount=Decimal("12345678.90"))  # wide figures
    for _n in range(3):
        CertificationRecordFactory(
            person=PersonFactory(partner=partner), certification=Certification.objects.get(code="TECH-SERVER"),
            earned_on=today - timedelta(days=30),
        )  # fmt: skip
    page = browser_page
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", member.user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]:not(.lang)")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    page.goto(f"{live_server.url}/tier/")
    shot(page, "my-tier-390")

    key_figures = [
        ".cards .card .figure",  # current tier, the tier the figures reach, Titanium Black
        ".tier-figures td.num",  # the figures with and without 1.25X
        "[data-path] td.num",  # each path's required and own figures
        ".forecast",
        "svg.chart",
    ]
    outside = []
    for selector in key_figures:
        boxes = [element.bounding_box() for element in page.query_selector_all(selector)]
        assert boxes, selector
        for box in boxes:
            if box["x"] < 0 or box["x"] + box["width"] > PHONE["width"] + 0.5:
                outside.append((selector, box))
    assert outside == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
