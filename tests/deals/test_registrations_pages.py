"""The partner's deal registration pages: register (near match, errors, double submit), list, filters, CSV export,
detail, actions — and partner B can neither see, guess nor infer partner A's registrations."""

import csv
import io
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from deals.models import Customer, Registration
from portal.models import Program
from tests.factories import MembershipFactory, PartnerFactory
from tests.factories.deals_pages import CustomerFactory, OrderFactory
from tests.factories.registrations import RegistrationFactory

pytestmark = pytest.mark.django_db
LIST = reverse("deals:registration_list")
CREATE = reverse("deals:registration_create")
S = Registration.Status


def detail(number, action=""):
    name = f"deals:registration_{action}" if action else "deals:registration_detail"
    return reverse(name, kwargs={"number": number})


def today():
    return timezone.localdate()


@pytest.fixture
def member(client):
    membership = MembershipFactory(role="sales", partner=PartnerFactory(name="Alpha Reseller SAS", code="ALPHA"))
    client.force_login(membership.user)
    return membership


@pytest.fixture
def partner(member):
    return member.partner


def form_data(**overrides):
    data = {
        "token": str(uuid.uuid4()),
        "customer_name": "Dupont Industries SA",
        "customer_country": "FR",
        "customer_vat": "FR11222333444",
        "customer_domain": "dupont.example",
        "opportunity_name": "Datacenter refresh",
        "expected_close_on": (today() + timedelta(days=60)).isoformat(),
        "amount_server": "12000.00",
        "amount_storage": "",
    }
    data.update(overrides)
    return data


def rows(response):
    return [row.record for row in response.context["table"].page.object_list]


def export(client, query=""):
    response = client.get(f"{LIST}?export=csv{query}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


# --- access --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("sales", 200), ("finance", 403)])
def test_deal_pages_are_for_admin_and_sales_roles(client, role, status):
    membership = MembershipFactory(role=role)
    registration = RegistrationFactory(partner=membership.partner)
    client.force_login(membership.user)
    assert client.get(LIST).status_code == status
    assert client.get(CREATE).status_code == status
    assert client.get(detail(registration.number)).status_code == status


def test_the_nav_shows_deals(client, member):
    assert f'href="{LIST}"'.encode() in client.get(LIST).content


# --- register a deal -----------------------------------------------------------------------------------------


def test_register_a_deal_and_land_on_its_page(client, partner):
    response = client.post(CREATE, form_data())
    registration = Registration.objects.get()
    assert response.status_code == 302 and response.url == detail(registration.number)
    assert (registration.partner, registration.status, registration.total) == (partner, S.SUBMITTED, Decimal("12000"))
    page = client.get(response.url)
    assert b"Datacenter refresh" in page.content and b"submitted" in page.content.lower()


def test_the_submission_message_states_the_programs_decision_target(client, partner):
    program = Program.current()
    program.registration_decision_target_hours = 24
    program.save()
    page = client.post(CREATE, form_data(), follow=True)
    assert "channel staff will decide within 24 hours" in page.content.decode()


def test_the_form_starts_with_a_fresh_token_and_the_partner_country(client, partner):
    form = client.get(CREATE).context["form"]
    assert uuid.UUID(str(form.initial["token"])) and form.initial["customer_country"] == "FR"


def test_a_double_submit_of_the_form_creates_one_registration(client, partner):
    data = form_data()
    first = client.post(CREATE, data)
    second = client.post(CREATE, data)
    assert Registration.objects.count() == 1
    assert first.url == second.url


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"expected_close_on": "2000-01-01"}, "expected_close_on", "future"),
        ({"amount_server": ""}, None, "at least one product line"),
        ({"amount_server": "0"}, "amount_server", "more than zero"),
        ({"customer_country": "France"}, "customer_country", ""),
        # Hostile input: the same syntax rules as the orders import (issue 10, item 14).
        ({"customer_country": "ZZ"}, "customer_country", "ISO 3166"),
        ({"customer_vat": "!!!"}, "customer_vat", "VAT"),
        ({"customer_domain": "not a domain!!"}, "customer_domain", "example.com"),
    ],
)
def test_clear_errors_on_the_form(client, partner, overrides, field, text):
    response = client.post(CREATE, form_data(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert (field or "__all__") in errors
    assert text in " ".join(errors[field or "__all__"])
    assert not Registration.objects.exists()


def test_a_duplicate_of_the_partners_own_registration_is_refused_with_a_link(client, partner):
    client.post(CREATE, form_data())
    existing = Registration.objects.get()
    response = client.post(CREATE, form_data(opportunity_name="Again"))
    assert response.status_code == 200
    assert f'<a href="{detail(existing.number)}">{existing.number}</a>'.encode() in response.content
    assert Registration.objects.count() == 1


def test_a_near_match_is_shown_and_the_partner_picks_the_existing_customer(client, partner):
    existing = CustomerFactory(name="Établissements Dupontel", country="FR", vat="", domain="")
    OrderFactory(partner=partner, customer=existing)  # one of the partner's own customers
    data = form_data(customer_name="Etablissements Dupontell", customer_vat="", customer_domain="")
    warned = client.post(CREATE, data)
    assert warned.status_code == 200 and b"Similar customers already exist" in warned.content
    assert "Dupontel" in warned.content.decode()
    assert not Registration.objects.exists()
    client.post(CREATE, {**data, "customer_choice": str(existing.pk)})
    assert Registration.objects.get().customer == existing


def test_a_near_match_can_be_declined_to_create_a_new_customer(client, partner):
    CustomerFactory(name="Établissements Dupontel", country="FR", vat="", domain="")
    data = form_data(customer_name="Etablissements Dupontell", customer_vat="", customer_domain="")
    client.post(CREATE, {**data, "customer_choice": "new"})
    assert Registration.objects.get().customer.name == "Etablissements Dupontell"
    assert Customer.objects.count() == 2


def test_another_partners_customer_is_never_shown_as_a_near_match(client, partner):
    theirs = CustomerFactory(name="Établissements Dupontel", country="FR", vat="", domain="")
    OrderFactory(partner=PartnerFactory(), customer=theirs)
    data = form_data(customer_name="Etablissements Dupontell", customer_vat="", customer_domain="")
    response = client.post(CREATE, data)
    assert response.status_code == 302  # no warning: registered with a new customer
    assert Registration.objects.get().customer != theirs
    assert "Établissements Dupontel" not in client.get(response.url).content.decode()


def test_a_customer_that_is_not_a_near_match_cannot_be_forced_through_the_choice(client, partner):
    unrelated = CustomerFactory(name="Totally Different", country="FR")
    CustomerFactory(name="Établissements Dupontel", country="FR", vat="", domain="")
    data = form_data(customer_name="Etablissements Dupontell", customer_vat="", customer_domain="")
    response = client.post(CREATE, {**data, "customer_choice": str(unrelated.pk)})
    assert response.status_code == 200 and not Registration.objects.exists()


# --- partner B cannot see, guess or infer A's registrations ---------------------------------------------------


@pytest.fixture
def other_registration():
    """Partner Bravo's registration for the customer of form_data(), submitted first."""
    bravo = PartnerFactory(name="Bravo Systems GmbH", code="BRAVO")
    customer = CustomerFactory(name="Dupont Industries SA", vat="FR11222333444", country="FR")
    return RegistrationFactory(partner=bravo, customer=customer, opportunity_name="Bravo secret deal")


def test_a_conflict_says_only_already_registered(client, partner, other_registration):
    response = client.post(CREATE, form_data(), follow=True)
    mine = Registration.objects.get(partner=partner)
    assert mine.conflict_with == other_registration and mine.status == S.SUBMITTED
    text = response.content.decode()
    assert "already registered" in text
    for secret in ("BRAVO", "Bravo", other_registration.number, "secret deal"):
        assert secret not in text
    for event in mine.events.all():
        assert "BRAVO" not in event.note and other_registration.number not in event.note


def test_another_partners_registration_is_a_404_everywhere(client, partner, other_registration):
    number = other_registration.number
    assert client.get(detail(number)).status_code == 404
    for url in [detail(number, "withdraw"), detail(number, "lost"), detail(number, "extension")]:
        assert client.get(url).status_code == 404
        assert client.post(url, {"reason": "x"}).status_code == 404
    assert client.get(detail("DR-NOSUCH00")).status_code == 404
    other_registration.refresh_from_db()
    assert other_registration.status == S.SUBMITTED


def test_the_list_and_export_hold_only_the_partners_own_registrations(client, partner, other_registration):
    mine = RegistrationFactory(partner=partner)
    assert rows(client.get(LIST)) == [mine]
    assert rows(client.get(f"{LIST}?number={other_registration.number}")) == []
    assert [row["registration_number"] for row in export(client)] == [mine.number]


# --- list, filters, export -----------------------------------------------------------------------------------


def test_filters_status_product_line_and_expiring_soon(client, partner):
    submitted = RegistrationFactory(partner=partner, lines={"storage": "10"})
    soon = RegistrationFactory(
        partner=partner,
        status=S.APPROVED,
        approved_on=today() - timedelta(days=80),
        protection_ends_on=today() + timedelta(days=10),
    )
    later = RegistrationFactory(
        partner=partner, status=S.APPROVED, approved_on=today(), protection_ends_on=today() + timedelta(days=90)
    )
    assert set(rows(client.get(f"{LIST}?status=approved"))) == {soon, later}
    assert rows(client.get(f"{LIST}?product_line=storage")) == [submitted]
    assert rows(client.get(f"{LIST}?expiring_soon=true")) == [soon]


def test_the_export_neutralises_formulas_and_keeps_amounts(client, partner):
    RegistrationFactory(
        partner=partner, opportunity_name='=HYPERLINK("http://x")', lines={"server": "1234.50", "hci": "1"}
    )
    [row] = export(client)
    assert row["opportunity"].startswith("'=")
    assert row["estimated_total"] == "1235.50"
    assert row["product_lines"] == "server hci"


def test_the_list_runs_a_bounded_number_of_queries(client, partner, django_assert_max_num_queries):
    for _index in range(3):
        RegistrationFactory(partner=partner, lines={"server": "1", "storage": "2"})
    client.get(LIST)
    with django_assert_max_num_queries(12) as few:
        client.get(LIST)
    for _index in range(25):
        RegistrationFactory(partner=partner, lines={"server": "1", "storage": "2"})
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(LIST)
    assert len(rows(response)) == 25


def test_a_pages_figures_per_registration_are_the_exports_grouped_ones(partner):
    """The page reads each registration's estimated total and product lines by a subquery per row (for the rows
    read only), the export by one GROUP BY: the same figures for every registration, lines or none."""
    from deals.registrations.selectors import registration_list_for_partner

    RegistrationFactory(partner=partner, lines={"server": "1234.50", "hci": "1"})
    RegistrationFactory(partner=partner, lines={"storage": "0.05"})
    RegistrationFactory(partner=partner, lines={"server": "10", "storage": "20", "services": "30.33"})
    RegistrationFactory(partner=PartnerFactory(), lines={"server": "999"})  # another partner's: in neither
    RegistrationFactory(partner=partner).lines.all().delete()  # no lines: no total, no product line
    registrations = Registration.objects.filter(partner=partner)

    def figures(whole):
        return {
            row.number: (row.estimated_total, set((row.product_lines or "").split(",")))
            for row in registration_list_for_partner(registrations=registrations, whole=whole)
        }

    page, whole = figures(False), figures(True)
    assert page == whole and len(page) == 4
    assert (None, {""}) in page.values()
    assert sorted(total for total, _lines in page.values() if total is not None) == [
        Decimal("0.05"), Decimal("60.33"), Decimal("1235.50")
    ]  # fmt: skip


# --- detail and actions --------------------------------------------------------------------------------------


def test_the_detail_shows_lines_and_the_timeline(client, partner, member):
    client.post(CREATE, form_data(amount_storage="500"))
    registration = Registration.objects.get()
    response = client.get(detail(registration.number))
    content = response.content.decode()
    assert "12,000.00" in content and "500.00" in content
    assert 'class="timeline"' in content and "Submitted" in content


def test_withdraw_asks_for_confirmation_then_withdraws(client, partner):
    registration = RegistrationFactory(partner=partner)
    confirm = client.get(detail(registration.number, "withdraw"))
    assert confirm.status_code == 200 and b"Withdraw this registration?" in confirm.content
    registration.refresh_from_db()
    assert registration.status == S.SUBMITTED
    response = client.post(detail(registration.number, "withdraw"))
    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.status == S.WITHDRAWN


def test_a_refused_action_shows_the_reason(client, partner):
    registration = RegistrationFactory(partner=partner, status=S.APPROVED)
    response = client.post(detail(registration.number, "withdraw"))
    assert response.status_code == 200 and b"Only a submitted registration" in response.content


def test_mark_lost(client, partner):
    registration = RegistrationFactory(partner=partner, status=S.APPROVED)
    client.post(detail(registration.number, "lost"), {"note": "price"})
    registration.refresh_from_db()
    assert registration.status == S.LOST


def test_request_the_extension_in_the_window(client, partner):
    registration = RegistrationFactory(
        partner=partner,
        status=S.APPROVED,
        approved_on=today() - timedelta(days=80),
        protection_ends_on=today() + timedelta(days=10),
    )
    assert b"Request an extension" in client.get(detail(registration.number)).content
    assert client.post(detail(registration.number, "extension"), {"reason": ""}).status_code == 200
    client.post(detail(registration.number, "extension"), {"reason": "Customer board meets next month"})
    registration.refresh_from_db()
    assert registration.extension == "requested"


def test_the_extension_link_is_hidden_outside_the_window(client, partner):
    registration = RegistrationFactory(
        partner=partner, status=S.APPROVED, approved_on=today(), protection_ends_on=today() + timedelta(days=31)
    )
    assert b"Request an extension" not in client.get(detail(registration.number)).content


def test_a_lower_case_country_code_is_understood(client, partner):
    client.post(CREATE, form_data(customer_country="fr"))
    assert Registration.objects.get().customer.country == "FR"


def test_a_negative_amount_is_not_also_reported_as_under_the_minimum(client, partner):
    response = client.post(CREATE, form_data(amount_server="-500"))
    errors = response.context["form"].errors
    assert "more than zero" in " ".join(errors["amount_server"])
    assert "minimum deal size" not in " ".join(errors.get("__all__", []))


def test_the_expiring_filter_reads_in_french_and_offers_all(client, partner):
    client.post(reverse("language_switch"), {"language": "fr", "next": "/"})
    page = client.get(LIST).content.decode()
    assert "Fin de protection dans les 30 jours" in page
    assert "Inconnu" not in page and "Unknown" not in page


def test_the_extension_form_is_not_offered_once_an_extension_was_asked(client, partner):
    registration = RegistrationFactory(
        partner=partner, status="approved", extension="granted", extension_reason="Board meets next month",
        extension_requested_on=today(),
    )  # fmt: skip
    response = client.get(detail(registration.number, "extension"))
    assert response.status_code == 302 and response.url == detail(registration.number)


@pytest.mark.parametrize(
    ("status", "action", "reason"),
    [
        (S.APPROVED, "withdraw", "Only a submitted registration can be withdrawn."),
        (S.SUBMITTED, "lost", "Only an approved registration can be marked lost."),
        (S.SUBMITTED, "extension", "cannot be extended now"),
        (S.APPROVED, "extension", "cannot be extended now"),  # approved, but not in its last days
    ],
)
def test_an_action_that_does_not_apply_shows_no_form_but_says_why(client, partner, status, action, reason):
    registration = RegistrationFactory(
        partner=partner,
        status=status,
        approved_on=today() if status == S.APPROVED else None,
        protection_ends_on=today() + timedelta(days=80) if status == S.APPROVED else None,
    )
    response = client.get(detail(registration.number, action), follow=True)
    assert response.redirect_chain[-1][0] == detail(registration.number)
    assert reason in response.content.decode()
    assert "deals/registration_confirm.html" not in [template.name for template in response.templates]


@pytest.mark.parametrize("action", ["withdraw", "lost", "extension"])
def test_an_action_that_applies_shows_its_form(client, partner, action):
    status = S.SUBMITTED if action == "withdraw" else S.APPROVED
    registration = RegistrationFactory(
        partner=partner,
        status=status,
        approved_on=today() - timedelta(days=80) if status == S.APPROVED else None,
        protection_ends_on=today() + timedelta(days=5) if status == S.APPROVED else None,
    )
    response = client.get(detail(registration.number, action))
    assert response.status_code == 200
    assert "deals/registration_confirm.html" in [template.name for template in response.templates]


def test_a_lost_registration_no_longer_shows_protected_until(client, partner):
    registration = RegistrationFactory(
        partner=partner, status=S.APPROVED, approved_on=today(), protection_ends_on=today() + timedelta(days=90)
    )
    assert "Protected until" in client.get(detail(registration.number)).content.decode()
    client.post(detail(registration.number, "lost"), {"note": "price"})
    page = client.get(detail(registration.number)).content.decode()
    assert "Protected until" not in page
    listing = client.get(reverse("deals:registration_list")).content.decode()
    assert date_format(registration.protection_ends_on, "SHORT_DATE_FORMAT") not in listing


def test_the_country_is_a_list_of_names_in_the_readers_language_with_the_partners_selected(client, member):
    english = client.get(CREATE).content.decode()
    assert '<option value="DE">Germany</option>' in english
    assert f'<option value="{member.partner.country}" selected>' in english
    assert english.index(">Denmark<") < english.index(">Egypt<") < english.index(">Spain<")
    member.user.language = "fr"
    member.user.save(update_fields=["language"])
    french = client.get(CREATE).content.decode()
    assert '<option value="DE">Allemagne</option>' in french
    assert french.index(">Danemark<") < french.index(">Égypte<") < french.index(">Espagne<")  # accents collate


def test_customer_names_are_suggested_from_the_partners_own_customers_only(client, partner):
    own = CustomerFactory(name="Clinique du Parc")
    OrderFactory(partner=partner, customer=own)
    RegistrationFactory(partner=partner, customer=CustomerFactory(name="Hôtel de la Gare"))
    OrderFactory(partner=PartnerFactory(), customer=CustomerFactory(name="Someone Else's Account"))
    page = client.get(CREATE).content.decode()
    datalist = page[page.index('<datalist id="own-customers">') :].split("</datalist>")[0]
    assert "Clinique du Parc" in datalist and "Hôtel de la Gare" in datalist
    assert "Someone Else" not in page
    assert 'list="own-customers"' in page


def test_the_form_page_queries_are_bounded_whatever_the_customers(client, partner, django_assert_max_num_queries):
    for n in range(30):
        OrderFactory(partner=partner, customer=CustomerFactory(name=f"Account {n}"))
    with django_assert_max_num_queries(12):
        assert client.get(CREATE).status_code == 200
