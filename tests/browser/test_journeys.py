"""Real-browser journeys (Debian chromium through Playwright against the live server), one per user the issue
names: each builds its own small program with the factories and saves a full-page screenshot at its key step
(``PORTAL_SCREENSHOTS_DIR``; CI keeps them as artifacts)."""

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone

from deals.models import Registration, RoutingOffer
from deals.routing.services import routing_run
from portal.fiscal import Quarter
from rebates import services as rebate_services
from rebates.models import StatementDocument
from tests.factories import MembershipFactory, PartnerFactory, UserFactory
from tests.factories import rebates as rf
from tests.factories import routing as rt
from tests.factories.deals_pages import CustomerFactory
from tests.factories.partners import PASSWORD, totp_code
from tests.factories.registrations import RegistrationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def sign_in(page, base_url, email, password=PASSWORD):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]:not(.lang)")


def fill_registration(page, *, customer, vat, opportunity, amount="12000"):
    page.fill("input[name=customer_name]", customer)
    page.select_option("select[name=customer_country]", "FR")
    page.fill("input[name=customer_vat]", vat)
    page.fill("input[name=opportunity_name]", opportunity)
    page.fill("input[name=expected_close_on]", (timezone.localdate() + timedelta(days=60)).isoformat())
    page.fill("input[name=amount_server]", amount)
    page.click("form.registration-form button[type=submit]")


def test_a_french_sales_user_registers_a_deal_and_sees_it_auto_approved_in_french(browser_page, live_server, shot):
    member = MembershipFactory(role="sales", partner=PartnerFactory(tier="gold"), user__language="fr")
    french = browser_page.context.browser.new_context(locale="fr-FR")
    page = french.new_page()
    try:
        sign_in(page, live_server.url, member.user.email)
        page.wait_for_url(f"{live_server.url}/dashboard/")
        page.goto(f"{live_server.url}/deals/registrations/new/")
        assert page.locator("h1").inner_text() == "Enregistrer une affaire"
        fill_registration(page, customer="Mairie de Nantes", vat="FR55666777888", opportunity="Refonte du centre")
        page.wait_for_url(re.compile(r"/deals/registrations/DR-"))
        registration = Registration.objects.get(partner=member.partner)
        assert registration.status == Registration.Status.APPROVED
        shot(page, "fr-registration-auto-approved")
        assert page.locator("html").get_attribute("lang") == "fr"
        text = page.inner_text("body")
        assert "Approuvé automatiquement" in text
        assert "Approuvé le" in text and "Tableau de bord" in text
        for english in ("Approved automatically", "Approved on", "Dashboard", "Registrations", "Sign out"):
            assert english not in text, english
    finally:
        french.close()


def test_a_second_partner_sees_the_conflict_without_the_first_partners_name(browser_page, live_server, shot):
    first = PartnerFactory(name="Bravo Systèmes SAS", code="BRAVO")
    customer = CustomerFactory(name="Dupont Industries SA", vat="FR11222333444", country="FR")
    earlier = RegistrationFactory(partner=first, customer=customer, opportunity_name="Bravo secret deal")
    second = MembershipFactory(role="sales", partner=PartnerFactory(name="Alpha Reseller SAS", tier="gold"))
    page = browser_page
    sign_in(page, live_server.url, second.user.email)
    page.wait_for_url(f"{live_server.url}/dashboard/")
    page.goto(f"{live_server.url}/deals/registrations/new/")
    fill_registration(page, customer="Dupont Industries SA", vat="FR11222333444", opportunity="Datacenter refresh")
    page.wait_for_url(re.compile(r"/deals/registrations/DR-"))
    shot(page, "conflict-without-the-other-partner")
    mine = Registration.objects.get(partner=second.partner)
    assert mine.conflict_with == earlier and mine.status == Registration.Status.SUBMITTED
    html = page.content()
    assert "already registered" in page.inner_text("body")
    for secret in ("BRAVO", "Bravo", earlier.number, "secret deal"):
        assert secret not in html, secret


def test_a_finance_user_downloads_the_statement_pdf(browser_page, live_server, shot):
    partner = rf.partner("P00001", tier="gold")
    rf.order(partner=partner, customer=rf.customer(), booked_on=date(2017, 2, 10), lines=[("hci", "1000.00")])
    rebate_services.quarter_close(quarter=Quarter.parse("FY2018-Q1"), as_of=date(2017, 5, 6))
    statement = partner.statements.get()
    finance = MembershipFactory(partner=partner, role="finance").user
    page = browser_page
    sign_in(page, live_server.url, finance.email)
    page.wait_for_url(f"{live_server.url}/dashboard/")
    page.goto(f"{live_server.url}/rebates/")
    page.click(f"a:has-text('{statement.number}')")
    page.wait_for_url(f"{live_server.url}/rebates/{statement.number}/")
    shot(page, "finance-statement-detail")
    with page.expect_download() as caught:
        page.click("a[href$='/pdf/']")
    download = caught.value
    assert download.suggested_filename == f"{statement.number}.pdf"
    with open(download.path(), "rb") as downloaded:
        body = downloaded.read()
    assert body.startswith(b"%PDF")
    # the right statement: the very bytes stored for this statement (in the reader's language, English here)
    stored = StatementDocument.objects.get(statement=statement, language="en")
    assert body == bytes(stored.content)


def test_a_staff_user_signs_in_with_totp_and_approves_a_registration_from_the_admin_home(
    browser_page, live_server, shot
):
    member = MembershipFactory(role="sales", partner=PartnerFactory(tier="authorized"))
    pending = RegistrationFactory(partner=member.partner, opportunity_name="Campus network")
    staff = UserFactory(is_staff=True, is_superuser=True)
    page = browser_page
    page.goto(f"{live_server.url}/admin/")
    page.fill("input[name=login]", staff.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]:not(.lang)")
    page.fill("input[name=code]", totp_code())
    page.click("form button[type=submit]:not(.lang)")
    page.wait_for_url(f"{live_server.url}/admin/")
    shot(page, "staff-admin-home")
    page.click("#staff-actions a:has-text('Registrations awaiting a decision')")
    page.click(f"a:has-text('{pending.number}')")
    page.click("a[href$='/decide/approve/']")
    page.click("input[type=submit][value=Confirm]")
    page.wait_for_selector(".messagelist .success")
    pending.refresh_from_db()
    assert pending.status == Registration.Status.APPROVED
    assert pending.events.last().actor == staff

    partner_view = browser_page.context.browser.new_context(locale="en-US")
    partner_page = partner_view.new_page()
    try:
        sign_in(partner_page, live_server.url, member.user.email)
        partner_page.wait_for_url(f"{live_server.url}/dashboard/")
        partner_page.goto(f"{live_server.url}/deals/registrations/{pending.number}/")
        assert "Approved" in partner_page.inner_text("main")
        shot(partner_page, "partner-sees-staff-approval")
    finally:
        partner_view.close()


def test_a_partner_admin_invites_a_colleague_who_accepts_from_the_smtp_email(
    browser_page, live_server, smtp_server, shot
):
    admin = MembershipFactory(role="admin", partner=PartnerFactory(name="Gamma Informatique SARL"))
    page = browser_page
    sign_in(page, live_server.url, admin.user.email)
    page.wait_for_url(f"{live_server.url}/dashboard/")
    page.goto(f"{live_server.url}/team/")
    page.fill("input[name=email]", "new.colleague@example.com")
    page.select_option("select[name=role]", "sales")
    page.click("form button:has-text('Send invitation')")
    page.wait_for_selector("text=new.colleague@example.com")
    [message] = [m for m in smtp_server if "new.colleague@example.com" in m["To"]]
    parts = [part.get_payload(decode=True).decode() for part in message.walk() if not part.is_multipart()]
    [link] = set(re.findall(r"https?://[^\s\"<>]+/invitation/[^\s\"<>/]+/", "\n".join(parts)))
    path = link.split("/invitation/", 1)[1]
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/invitation/{path}")
    page.fill("input[name=first_name]", "Nouvelle")
    page.fill("input[name=last_name]", "Collègue")
    page.fill("input[name=password1]", "a-long-new-password-42")
    if page.locator("input[name=password2]").count():
        page.fill("input[name=password2]", "a-long-new-password-42")
    page.click("form button[type=submit]:not(.lang)")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    shot(page, "invitee-lands-signed-in")
    assert "Gamma Informatique SARL" in page.inner_text("header")
    assert admin.partner.memberships.filter(user__email="new.colleague@example.com", role="sales").exists()


def test_at_phone_width_the_routed_order_buttons_are_on_screen_and_accept_works(browser_page, live_server, shot):
    today = timezone.localdate()
    mine = rt.partner("FR")
    the_order = rt.order(
        customer=rt.customer("FR", name="Mairie de Lyon"),
        booked_on=today - timedelta(days=2),
        lines={"server": "12000.00", "services": "800.50"},
    )
    routing_run(as_of=today)
    offer = RoutingOffer.objects.get(case__order=the_order)
    assert offer.partner == mine
    user = rt.partner_user(mine, "sales")
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server.url, user.email)
    page.wait_for_url(f"{live_server.url}/dashboard/")
    page.goto(f"{live_server.url}/deals/routed/")
    shot(page, "phone-routed-orders")
    for action in ("accept", "decline"):
        box = page.locator(f"a[href$='/routed/{offer.pk}/{action}/']").bounding_box()
        assert box is not None, action
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (action, box)
        assert box["y"] >= 0, (action, box)
    page.click(f"a[href$='/routed/{offer.pk}/accept/']")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/deals/routed/")
    offer.refresh_from_db()
    assert (offer.status, offer.decided_by) == ("accepted", user)
