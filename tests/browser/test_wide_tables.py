"""Wide tables on a laptop (1366 × 768) and a phone (390 × 844), issue #12: the tier history, the partner's
registrations, a statement's lines and the staff registration queue keep their key columns and actions inside
the viewport (no cut-off status or action column), and no page scrolls sideways. Priority columns (``.col-low``)
give way on a phone, or the table stacks into labelled rows (``.stack-table``)."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from deals.models import Registration
from portal.fiscal import Quarter
from rebates import services as rebate_services
from tests.factories import MembershipFactory, PartnerFactory, UserFactory
from tests.factories import rebates as rf
from tests.factories.deals_pages import CustomerFactory
from tests.factories.partners import PASSWORD, tier_set, totp_code
from tests.factories.registrations import RegistrationFactory

from .test_journeys import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

VIEWPORTS = {"laptop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
S = Registration.Status


def outside_the_viewport(page, selectors, width) -> list:
    """The elements of ``selectors`` (each must match at least one shown element) not wholly inside ``width``."""
    outside = []
    for selector in selectors:
        boxes = [box for box in (element.bounding_box() for element in page.query_selector_all(selector)) if box]
        assert boxes, f"nothing shown for {selector}"
        outside += [(selector, box) for box in boxes if box["x"] < -0.5 or box["x"] + box["width"] > width + 0.5]
    return outside


def assert_fits(page, selectors, viewport):
    width = viewport["width"]
    assert page.evaluate("window.innerWidth") == width
    assert outside_the_viewport(page, selectors, width) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.evaluate(
        "document.documentElement.scrollWidth"
    )


def open_as(page, base_url, email, path, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, base_url, email)
    page.wait_for_url(f"{base_url}/dashboard/")
    page.goto(f"{base_url}{path}")


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_tier_history_fits(browser_page, live_server, shot, size):
    member = MembershipFactory(role="admin", partner__name="Établissements Historique Très Long SARL")
    partner = member.partner
    for tier, day in (("gold", date(2017, 2, 1)), ("platinum", date(2018, 2, 1)), ("gold", date(2019, 2, 1))):
        tier_set(partner, tier, day)
    page = browser_page
    open_as(page, live_server.url, member.user.email, "/tier/", VIEWPORTS[size])
    shot(page, f"tier-history-{size}")
    assert_fits(page, [".tier-history td.history-effective", ".tier-history td.history-to",
                       ".tier-history td.history-reason"], VIEWPORTS[size])  # fmt: skip
    page.goto(f"{live_server.url}/dashboard/")
    shot(page, f"dashboard-tier-changes-{size}")
    assert_fits(page, [".tier-history td.history-effective", ".tier-history td.history-to"], VIEWPORTS[size])


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_partners_registrations_fit(browser_page, live_server, shot, size):
    member = MembershipFactory(role="sales", partner=PartnerFactory(name="Alpha Reseller SAS"))
    long_name = "Compagnie Générale des Établissements Industriels et Commerciaux du Grand Ouest SA"
    for index, status in enumerate((S.SUBMITTED, S.APPROVED, S.REJECTED, S.WON, S.EXPIRED)):
        RegistrationFactory(
            partner=member.partner,
            status=status,
            customer=CustomerFactory(name=f"{long_name} {index}"),
            opportunity_name="Renouvellement complet du centre de données et de la sauvegarde",
            lines={"server": "1234567.89", "storage": "7654321.00", "hci": "500000.00"},
        )
    page = browser_page
    open_as(page, live_server.url, member.user.email, "/deals/registrations/", VIEWPORTS[size])
    shot(page, f"registrations-{size}")
    assert_fits(page, ["table.registrations td.identifier a", "table.registrations td.status .pill",
                       "table.registrations td.num"], VIEWPORTS[size])  # fmt: skip


@pytest.mark.parametrize("size", VIEWPORTS)
def test_a_statements_lines_fit(browser_page, live_server, shot, size):
    partner = rf.partner("P00001", tier="gold")
    lines = [("server", "12345678.90"), ("storage", "9876543.21"), ("hci", "1000.00")]
    rf.order(partner=partner, customer=rf.customer(), booked_on=date(2017, 2, 10), lines=lines)
    rebate_services.quarter_close(quarter=Quarter.parse("FY2018-Q1"), as_of=date(2017, 5, 6))
    statement = partner.statements.get()
    finance = MembershipFactory(partner=partner, role="finance").user
    page = browser_page
    open_as(page, live_server.url, finance.email, f"/rebates/{statement.number}/", VIEWPORTS[size])
    shot(page, f"statement-lines-{size}")
    assert_fits(page, ["table.rebate-lines td.identifier", "table.rebate-lines td.amount",
                       "table.rebate-lines td.component", "a[href$='/pdf/']",
                       ".summary-component td.amount", ".summary-product-line td.amount"], VIEWPORTS[size])  # fmt: skip


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_staff_registration_queue_fits(browser_page, live_server, shot, size):
    now = timezone.now()
    for index in range(4):
        RegistrationFactory(
            partner=PartnerFactory(name=f"Revendeur Informatique Régional du Sud-Ouest {index} SAS"),
            customer=CustomerFactory(name=f"Compagnie Générale des Établissements du Grand Ouest {index} SA"),
            submitted_at=now - timedelta(hours=10 + 20 * index),
            lines={"server": "1234567.89", "storage": "7654321.00"},
        )
    staff = UserFactory(is_staff=True, is_superuser=True)
    page = browser_page
    page.set_viewport_size(VIEWPORTS[size])
    page.goto(f"{live_server.url}/admin/")
    page.fill("input[name=login]", staff.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]:not(.lang)")
    page.fill("input[name=code]", totp_code())
    page.click("form button[type=submit]:not(.lang)")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/deals/registration/")
    shot(page, f"staff-queue-{size}")
    key = ["#result_list td.action-checkbox input", "#result_list th.field-number a",
           "#result_list td.field-status_pill", "#result_list td.field-overdue"]  # fmt: skip
    if size == "laptop":  # a phone scrolls the rest of the row inside the results box, never the page
        key += ["#result_list td.field-age", "#result_list td.field-conflict"]
    assert_fits(page, key, VIEWPORTS[size])
    assert page.locator("#changelist-form select[name=action]").bounding_box()["x"] >= 0
    assert page.locator("#result_list tbody tr").count() == 4
