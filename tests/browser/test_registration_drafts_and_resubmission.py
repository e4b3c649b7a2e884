"""Drafts and corrections in a real browser (issue #12): "Save as draft" then submit it from the registrations
page; a rejected registration corrected and resubmitted from its page, keeping its number and history."""

from datetime import timedelta

import pytest
from django.utils import timezone

from deals.models import Registration
from deals.registrations.services import registration_reject
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

from .test_wide_tables import VIEWPORTS, open_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
S = Registration.Status


def test_a_sales_user_saves_a_draft_submits_it_and_corrects_a_rejected_registration(browser_page, live_server, shot):
    """Issue #12's two new paths in a real browser: "Save as draft", then submit it; a rejection, then
    "Correct and resubmit" from the registration's page, with the same number and the history kept."""
    member = MembershipFactory(role="sales", partner=PartnerFactory(tier="authorized"))
    page = browser_page
    open_as(page, live_server.url, member.user.email, "/deals/registrations/new/", VIEWPORTS["laptop"])
    page.fill("input[name=customer_name]", "Mairie de Rennes")
    page.click("button[name=save_draft]")
    page.wait_for_url(f"{live_server.url}/deals/registrations/DR-*/edit/")
    draft = Registration.objects.get(partner=member.partner)
    assert draft.status == S.DRAFT and draft.customer is None
    page.goto(f"{live_server.url}/deals/registrations/")
    assert draft.number in page.inner_text(".drafts")
    page.click(f".drafts a[href$='/{draft.number}/edit/']")
    page.select_option("select[name=customer_country]", "FR")
    page.fill("input[name=customer_vat]", "FR77888999000")
    page.fill("input[name=opportunity_name]", "Écoles connectées")
    page.fill("input[name=expected_close_on]", (timezone.localdate() + timedelta(days=60)).isoformat())
    page.fill("input[name=amount_server]", "12000")
    page.click("button[name=submit]")
    page.wait_for_url(f"{live_server.url}/deals/registrations/{draft.number}/")
    draft.refresh_from_db()
    assert draft.status == S.SUBMITTED and draft.customer.name == "Mairie de Rennes"

    registration_reject(registration=draft, actor=UserFactory(is_staff=True), reason="Give the real amount")
    page.reload()
    page.click("a:has-text('Correct and resubmit')")
    assert page.input_value("input[name=amount_server]") == "12000.00"
    page.fill("input[name=amount_server]", "48000")
    shot(page, "correct-and-resubmit")
    page.click("button[name=submit]")
    page.wait_for_url(f"{live_server.url}/deals/registrations/{draft.number}/")
    draft.refresh_from_db()
    assert draft.status == S.SUBMITTED and draft.total == 48000
    history = page.inner_text(".timeline")
    assert "Give the real amount" in history and "Corrected and resubmitted" in history
