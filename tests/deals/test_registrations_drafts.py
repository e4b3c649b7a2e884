"""Drafts (issue #12): "Save as draft" keeps the form without submitting it — only the customer's name is
needed; no matching, conflict, protection, email or staff queue — and submitting a draft is the normal
submission, its time priority the submission's. Drafts are the partner's own: never staff's, never another's."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from deals.models import Customer, Registration
from deals.registrations.selectors import REGISTRATION_QUEUES, registration_queue
from portal.models import OutboxEmail
from tests.factories import MembershipFactory, PartnerFactory, UserFactory
from tests.factories.deals_pages import CustomerFactory
from tests.factories.registrations import submit

pytestmark = pytest.mark.django_db
S = Registration.Status
CREATE = reverse("deals:registration_create")
LIST = reverse("deals:registration_list")


def page(number, action="detail"):
    return reverse(f"deals:registration_{action}", kwargs={"number": number})


@pytest.fixture
def member(client):
    membership = MembershipFactory(role="sales", partner=PartnerFactory(name="Alpha Reseller SAS", code="ALPHA"))
    client.force_login(membership.user)
    return membership


def form_data(**overrides):
    data = {
        "token": str(uuid.uuid4()),
        "customer_name": "Dupont Industries SA",
        "customer_country": "FR",
        "customer_vat": "FR11222333444",
        "customer_domain": "dupont.example",
        "opportunity_name": "Datacenter refresh",
        "expected_close_on": (timezone.localdate() + timedelta(days=60)).isoformat(),
        "amount_server": "12000.00",
    }
    data.update(overrides)
    return data


def save_draft(client, **overrides):
    return client.post(CREATE, {**form_data(**overrides), "save_draft": "1"})


def only_the_name(**overrides):
    return {"customer_country": "", "customer_vat": "", "customer_domain": "", "opportunity_name": "",
            "expected_close_on": "", "amount_server": "", **overrides}  # fmt: skip


def test_a_draft_needs_only_the_customers_name_and_starts_nothing(client, member):
    customers = Customer.objects.count()
    response = save_draft(client, **only_the_name())
    draft = Registration.objects.get()
    assert response.status_code == 302 and response["Location"] == page(draft.number, "edit")
    assert draft.status == S.DRAFT and draft.partner == member.partner and draft.submitted_at is None
    assert draft.customer is None and Customer.objects.count() == customers  # no matching, no customer row
    assert draft.customer_name == "Dupont Industries SA"
    assert draft.conflict_with is None and draft.protection_ends_on is None and not draft.lines.exists()
    assert not OutboxEmail.objects.exists()
    assert [(e.from_status, e.to_status) for e in draft.events.all()] == [("", "draft")]


def test_a_draft_saved_without_a_country_reopens_on_the_partners_country_like_a_new_form(client, member):
    save_draft(client, **only_the_name())
    draft = Registration.objects.get()
    assert client.get(page(draft.number, "edit")).context["form"].initial["customer_country"] == "FR"


def test_a_draft_without_the_customers_name_is_refused(client, member):
    response = save_draft(client, **only_the_name(customer_name=""))
    assert response.status_code == 200 and "customer_name" in response.context["form"].errors
    assert not Registration.objects.exists()


def test_a_draft_keeps_what_was_typed_even_what_submission_would_refuse(client, member):
    past = (timezone.localdate() - timedelta(days=3)).isoformat()
    save_draft(client, expected_close_on=past, amount_server="-5", amount_storage="300")
    draft = Registration.objects.get()
    form = client.get(page(draft.number, "edit")).context["form"]
    assert form.initial["expected_close_on"].isoformat() == past
    assert (form.initial["amount_server"], form.initial["amount_storage"]) == ("-5", "300")


def test_a_double_click_on_save_as_draft_makes_one_draft(client, member):
    data = {**form_data(), "save_draft": "1"}
    client.post(CREATE, data)
    client.post(CREATE, {**data, "opportunity_name": "Renamed"})
    assert Registration.objects.get().opportunity_name == "Renamed"


def test_a_draft_is_listed_apart_with_edit_and_delete_and_its_detail_is_its_form(client, member):
    save_draft(client)
    draft = Registration.objects.get()
    submitted = submit(member.partner).registration
    response = client.get(LIST)
    assert [row.record for row in response.context["table"].page.object_list] == [submitted]
    assert response.context["drafts"] == [draft]
    content = response.content.decode()
    assert page(draft.number, "edit") in content and page(draft.number, "delete_draft") in content
    assert client.get(page(draft.number))["Location"] == page(draft.number, "edit")
    form = client.get(page(draft.number, "edit")).content.decode()
    assert 'name="save_draft"' in form and "Delete draft" in form and "Submit the registration" in form


def test_saving_a_draft_again_updates_it(client, member):
    save_draft(client, **only_the_name())
    draft = Registration.objects.get()
    client.post(page(draft.number, "edit"), {**form_data(opportunity_name="Now named"), "save_draft": "1"})
    draft.refresh_from_db()
    assert (
        draft.status == S.DRAFT
        and draft.opportunity_name == "Now named"
        and draft.draft["lines"] == {"server": "12000.00"}
    )
    assert Registration.objects.count() == 1


def test_submitting_a_draft_is_the_normal_submission_with_the_same_number(client, member):
    save_draft(client)
    draft = Registration.objects.get()
    response = client.post(page(draft.number, "edit"), form_data())
    assert response.status_code == 302 and response["Location"] == page(draft.number)
    draft.refresh_from_db()
    assert draft.status == S.SUBMITTED and draft.customer.name == "Dupont Industries SA" and draft.draft == {}
    assert draft.submitted_at > draft.created_at
    assert [(e.from_status, e.to_status) for e in draft.events.order_by("created_at", "pk")] == [
        ("", "draft"),
        ("draft", "submitted"),
    ]


def test_submitting_a_draft_applies_the_rules(client, member):
    save_draft(client, expected_close_on=(timezone.localdate() - timedelta(days=1)).isoformat())
    draft = Registration.objects.get()
    response = client.post(page(draft.number, "edit"), form_data(expected_close_on=timezone.localdate().isoformat()))
    assert response.status_code == 200 and "expected_close_on" in response.context["form"].errors
    draft.refresh_from_db()
    assert draft.status == S.DRAFT


def test_a_drafts_time_priority_is_its_submission_not_its_saving(client, member):
    """Saved first, submitted after another partner's registration: the draft is the later one."""
    customer = CustomerFactory(name="Dupont Industries SA", country="FR", vat="FR11222333444")
    save_draft(client)
    draft = Registration.objects.get()
    other = submit(PartnerFactory(), customer=customer, today=timezone.localdate()).registration
    assert other.conflict_with is None  # a draft holds nothing
    client.post(page(draft.number, "edit"), form_data())
    draft.refresh_from_db()
    assert draft.conflict_with == other and draft.status == S.SUBMITTED


def test_delete_a_draft_after_confirmation(client, member):
    save_draft(client)
    draft = Registration.objects.get()
    confirm = client.get(page(draft.number, "delete_draft"))
    assert confirm.status_code == 200 and "Delete draft" in confirm.content.decode()
    response = client.post(page(draft.number, "delete_draft"), {"confirm": "on"})
    assert response.status_code == 302 and response["Location"] == LIST
    assert not Registration.objects.exists()


def test_only_a_draft_can_be_deleted(client, member):
    registration = submit(member.partner).registration
    response = client.get(page(registration.number, "delete_draft"), follow=True)
    assert response.redirect_chain == [(page(registration.number), 302)]
    assert "Only a draft can be deleted." in response.content.decode()
    client.post(page(registration.number, "delete_draft"), {"confirm": "on"})
    assert Registration.objects.filter(pk=registration.pk).exists()


def test_another_partner_never_sees_nor_touches_a_draft(client, member):
    save_draft(client)
    draft = Registration.objects.get()
    other = MembershipFactory(role="sales", partner=PartnerFactory())
    client.force_login(other.user)
    assert client.get(LIST).context["drafts"] == []
    for action in ("detail", "edit", "delete_draft"):
        assert client.get(page(draft.number, action)).status_code == 404
    assert client.post(page(draft.number, "delete_draft"), {"confirm": "on"}).status_code == 404
    assert client.post(page(draft.number, "edit"), form_data()).status_code == 404
    assert Registration.objects.get().status == S.DRAFT


def test_drafts_are_in_no_staff_queue_count_or_list(client, member):
    save_draft(client)
    draft = Registration.objects.get()
    for name in REGISTRATION_QUEUES:
        assert not Registration.objects.filter(registration_queue(name)).exists()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    home = client.get(reverse("admin:index"))
    counts = {item["key"]: item["count"] for item in home.context["staff_actions"]}
    assert counts["registrations_pending"] == 0
    changelist = reverse("admin:deals_registration_changelist")
    for query in ({"queue": "all"}, {"queue": "all", "status__exact": "draft"}):
        assert draft not in client.get(changelist, query).context["cl"].result_list
    assert client.get(reverse("admin:deals_registration_change", args=[draft.pk])).status_code in (302, 404)


def test_the_api_does_not_list_drafts(client, member):
    from api.services import api_token_create
    from tests.api.conftest import bearer

    save_draft(client)
    draft = Registration.objects.get()
    secret = api_token_create(user=member.user, name="crm").secret
    listed = client.get(reverse("api:registrations"), **bearer(secret)).json()
    assert listed["results"] == []
    assert client.get(reverse("api:registration", kwargs={"number": draft.number}), **bearer(secret)).status_code == 404


def test_the_list_with_drafts_runs_a_bounded_number_of_queries(client, member, django_assert_max_num_queries):
    save_draft(client)
    client.get(LIST)
    with django_assert_max_num_queries(13) as few:
        client.get(LIST)
    bound = len(few.captured_queries)  # now: each request of the client resets the connection's query log
    for index in range(10):
        save_draft(client, customer_name=f"Draft customer {index}")
    with django_assert_max_num_queries(bound):
        response = client.get(LIST)
    assert len(response.context["drafts"]) == 11
