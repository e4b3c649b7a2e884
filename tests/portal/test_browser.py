"""A real browser (Debian chromium through Playwright) signs in as a demo partner user and switches to French."""

import pytest
from django.core.management import call_command

from demo.partners import DEMO_PASSWORD


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_demo_partner_user_signs_in_sees_the_dashboard_and_switches_to_french(browser_page, live_server):
    call_command("seed_demo", "--quiet-logins")
    page = browser_page
    page.goto(f"{live_server.url}/")
    page.fill("input[name=login]", "admin@demo-de1.example.com")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form button[type=submit]:not(.lang)")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    assert "Bechtle Demo GmbH" in page.inner_text("header")
    assert page.locator("h1").inner_text().startswith("Welcome")
    page.click("button.lang[value=fr]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("h1").inner_text().startswith("Bienvenue")
    assert "Tableau de bord" in page.inner_text("nav")
