"""Deal registration services (DESIGN §4): validation, duplicates, conflicts first-in-time, auto-approval and
protection by tier, staff decisions and arbitration, partner actions and the extension window."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from deals.matching import CustomerIdentity
from deals.models import Registration, RegistrationEvent
from deals.registrations.services import (
    registration_approve,
    registration_arbitrate,
    registration_decide_extension,
    registration_mark_lost,
    registration_reject,
    registration_request_extension,
    registration_submit,
    registration_withdraw,
)
from partners.models import Membership, Tier, Zone
from portal.emails import outbox_render
from portal.models import OutboxEmail
from tests.factories import MembershipFactory, PartnerFactory, UserFactory
from tests.factories.deals_pages import CustomerFactory
from tests.factories.partners import tier_set
from tests.factories.registrations import TODAY, RegistrationFactory, submit

pytestmark = pytest.mark.django_db
S = Registration.Status


def tier(code):
    return Tier.objects.get(code=code)


@pytest.fixture
def staff():
    return UserFactory(is_staff=True)


def messages_of(error: ValidationError) -> str:
    return " ".join(str(message) for messages in error.message_dict.values() for message in messages)


# --- submission and validation --------------------------------------------------------------------------------


def test_a_submission_is_submitted_with_its_lines_customer_and_a_draft_to_submitted_event():
    result = submit(lines={"server": "1000.00", "storage": "2500.50"})
    registration = result.registration
    assert result.created and registration.status == S.SUBMITTED
    assert registration.number.startswith("DR-") and len(registration.number) == 11
    assert {line.product_line: line.estimated_amount for line in registration.lines.all()} == {
        "server": Decimal("1000.00"),
        "storage": Decimal("2500.50"),
    }
    assert registration.total == Decimal("3500.50")
    [event] = registration.events.all()
    assert (event.from_status, event.to_status, event.actor) == ("draft", "submitted", registration.submitted_by)


def test_the_customer_is_found_through_the_shared_matching_not_duplicated():
    customer = CustomerFactory(name="Dupont Industries SA", vat="FR 123 456 789", country="FR")
    identity = CustomerIdentity(name="DUPONT INDUSTRIES", country="FR", vat="fr123456789")
    assert submit(identity=identity).registration.customer == customer


def test_a_new_customer_is_created_when_nothing_matches():
    identity = CustomerIdentity(name="Brand New Ltd", country="GB", domain="www.brandnew.example")
    registration = submit(identity=identity).registration
    assert (registration.customer.name, registration.customer.domain_key) == ("Brand New Ltd", "brandnew.example")


@pytest.mark.parametrize(
    ("close_on", "field"),
    [
        (TODAY - timedelta(days=1), "expected_close_on"),
        (TODAY, "expected_close_on"),
        (date(2018, 6, 2), "expected_close_on"),  # 12 months and a day
    ],
)
def test_the_close_date_must_be_in_the_future_and_at_most_12_months_out(close_on, field):
    with pytest.raises(ValidationError) as error:
        submit(expected_close_on=close_on)
    assert field in error.value.message_dict
    assert not Registration.objects.exists()


def test_a_close_date_exactly_12_months_out_is_accepted():
    assert submit(expected_close_on=date(2018, 6, 1)).registration.status == S.SUBMITTED


def test_at_least_one_product_line_is_required():
    with pytest.raises(ValidationError) as error:
        registration_submit(
            partner=PartnerFactory(),
            user=None,
            identity=CustomerIdentity(name="Acme", country="FR"),
            opportunity_name="Refresh",
            expected_close_on=TODAY + timedelta(days=10),
            lines={},
            today=TODAY,
        )
    assert "at least one product line" in messages_of(error.value)
    assert not Registration.objects.exists()


@pytest.mark.parametrize("amount", ["0", "-5.00"])
def test_every_amount_must_be_more_than_zero(amount):
    with pytest.raises(ValidationError) as error:
        submit(lines={"server": "100.00", "storage": amount})
    assert "amount_storage" in error.value.message_dict


def test_the_total_must_reach_the_zone_minimum():
    Zone.objects.filter(code="EMEA-1").update(min_deal_size=Decimal("5000.00"))
    with pytest.raises(ValidationError) as error:
        submit(lines={"server": "4999.99"})
    assert "minimum deal size" in messages_of(error.value)
    assert submit(lines={"server": "5000.00"}).created


def test_a_double_submit_with_the_same_form_token_creates_one_registration():
    partner = PartnerFactory()
    user = MembershipFactory(partner=partner).user
    customer = CustomerFactory()
    token = uuid.uuid4()
    first = submit(partner, customer=customer, user=user, token=token)
    second = submit(partner, customer=customer, user=user, token=token)
    assert first.created and not second.created
    assert second.registration == first.registration
    assert Registration.objects.count() == 1


# --- duplicates (same partner) and conflicts (other partners) ---------------------------------------------------


def test_the_same_partner_cannot_register_the_same_customer_and_product_line_twice_and_gets_a_link():
    partner, customer = PartnerFactory(), CustomerFactory()
    first = submit(partner, customer=customer, lines={"server": "100", "storage": "100"}).registration
    with pytest.raises(ValidationError) as error:
        submit(partner, customer=customer, lines={"storage": "100"})
    text = messages_of(error.value)
    assert first.number in text and f"/deals/registrations/{first.number}/" in text
    assert Registration.objects.count() == 1


def test_the_same_partner_may_register_another_product_line_or_again_after_withdrawing():
    partner, customer = PartnerFactory(), CustomerFactory()
    first = submit(partner, customer=customer, lines={"server": "100"}).registration
    assert submit(partner, customer=customer, lines={"storage": "100"}).created
    registration_withdraw(registration=first, actor=None)
    assert submit(partner, customer=customer, lines={"server": "100"}).created


def test_a_later_registration_of_another_partner_is_flagged_and_never_auto_approved():
    customer = CustomerFactory()
    first = submit(PartnerFactory(), customer=customer, lines={"server": "1000"}).registration
    later_partner = PartnerFactory(tier=tier("titanium"))
    later = submit(later_partner, customer=customer, lines={"server": "10", "storage": "10"})
    assert later.conflicted and later.registration.conflict_with == first
    assert later.registration.status == S.SUBMITTED  # under Titanium's limit, still not approved
    first.refresh_from_db()
    assert first.conflict_with is None and first.status == S.SUBMITTED


def test_a_protected_approved_registration_also_takes_precedence():
    customer = CustomerFactory()
    first = RegistrationFactory(customer=customer, status=S.APPROVED, approved_on=TODAY - timedelta(days=10))
    later = submit(PartnerFactory(tier=tier("gold")), customer=customer)
    assert later.registration.conflict_with == first and later.registration.status == S.SUBMITTED


@pytest.mark.parametrize(
    "earlier",
    [
        {"status": S.REJECTED},
        {"status": S.WITHDRAWN},
        {"status": S.EXPIRED},
        {"status": S.LOST},
        {"status": S.APPROVED, "approved_on": TODAY - timedelta(days=100)},  # protection over, not yet expired
    ],
)
def test_registrations_that_no_longer_hold_the_opportunity_do_not_conflict(earlier):
    customer = CustomerFactory()
    RegistrationFactory(customer=customer, **earlier)
    assert not submit(PartnerFactory(), customer=customer).conflicted


def test_no_conflict_without_an_overlapping_product_line():
    customer = CustomerFactory()
    submit(PartnerFactory(), customer=customer, lines={"server": "100"})
    assert not submit(PartnerFactory(), customer=customer, lines={"storage": "100"}).conflicted


def test_the_conflict_points_at_the_first_in_time_of_several():
    customer = CustomerFactory()
    first = submit(PartnerFactory(), customer=customer).registration
    submit(PartnerFactory(), customer=customer)
    third = submit(PartnerFactory(), customer=customer).registration
    assert third.conflict_with == first


# --- auto-approval and protection by tier ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "limit"),
    [("gold", "50000.00"), ("platinum", "100000.00"), ("titanium", "250000.00"), ("titanium_black", "250000.00")],
)
def test_auto_approval_at_the_tier_limit_but_not_one_cent_over(code, limit):
    at_limit = submit(PartnerFactory(tier=tier(code)), lines={"server": limit}).registration
    over = submit(PartnerFactory(tier=tier(code)), lines={"server": str(Decimal(limit) + Decimal("0.01"))})
    assert at_limit.status == S.APPROVED and at_limit.approved_on == TODAY
    event = at_limit.events.last()
    assert event.actor is None and event.kind == "auto_approved" and event.params["limit"] == limit
    assert over.registration.status == S.SUBMITTED


def test_an_authorized_partner_is_never_auto_approved():
    assert submit(PartnerFactory(tier=tier("authorized")), lines={"server": "0.01"}).registration.status == S.SUBMITTED


def test_auto_approval_and_protection_follow_the_tier_on_the_day_not_the_cached_tier(staff):
    """The tier history decides: Gold on the submission date, Authorized from the day after (so the cached
    ``Partner.tier``, which is today's, says Authorized)."""
    partner = PartnerFactory(tier="gold")
    tier_set(partner, "authorized", TODAY + timedelta(days=1))
    partner.refresh_from_db()
    assert partner.tier.code == "authorized"
    registration = submit(partner, lines={"server": "50000.00"}).registration
    assert registration.status == S.APPROVED
    assert registration.events.last().params["tier"] == "Gold"
    assert registration.protection_ends_on == TODAY + timedelta(days=90)
    later = submit(partner, lines={"storage": "10.00"}, today=TODAY + timedelta(days=1)).registration
    assert later.status == S.SUBMITTED


def test_protection_days_are_those_of_the_tier_on_the_approval_date(staff):
    partner = PartnerFactory(tier="platinum")
    tier_set(partner, "titanium", TODAY + timedelta(days=2))
    registration = submit(partner, lines={"server": "900000"}).registration
    registration_approve(registration=registration, actor=staff, today=TODAY + timedelta(days=1))
    registration.refresh_from_db()
    assert registration.protection_ends_on == TODAY + timedelta(days=1 + 120)


@pytest.mark.parametrize(
    ("code", "days"), [("authorized", 90), ("gold", 90), ("platinum", 120), ("titanium", 180), ("titanium_black", 180)]
)
def test_protection_runs_from_approval_for_the_tier_days(code, days, staff):
    registration = submit(PartnerFactory(tier=tier(code)), lines={"server": "900000"}).registration
    approved_on = TODAY + timedelta(days=2)
    registration_approve(registration=registration, actor=staff, today=approved_on)
    registration.refresh_from_db()
    assert registration.status == S.APPROVED
    assert (registration.approved_on, registration.protection_ends_on) == (
        approved_on,
        approved_on + timedelta(days=days),
    )


# --- staff decisions -----------------------------------------------------------------------------------------


REFUSED_FOR_DECISION = [S.APPROVED, S.REJECTED, S.WITHDRAWN, S.WON, S.LOST, S.EXPIRED]


def test_staff_approval_writes_an_event_and_emails_the_submitter_and_admins(staff):
    registration = submit(PartnerFactory()).registration
    admin = MembershipFactory(partner=registration.partner, role=Membership.Role.ADMIN).user
    registration_approve(registration=registration, actor=staff, note="ok", today=TODAY)
    event = registration.events.last()
    assert (event.actor, event.from_status, event.to_status, event.note) == (staff, "submitted", "approved", "ok")
    outbox_render()  # rendered as the send task renders it (not sent)
    recipients = sorted(email.to[0] for email in OutboxEmail.objects.all())
    assert recipients == sorted([registration.submitted_by.email, admin.email])
    assert registration.number in OutboxEmail.objects.first().subject


@pytest.mark.parametrize("status", REFUSED_FOR_DECISION)
def test_only_a_submitted_registration_can_be_approved_or_rejected(status, staff):
    registration = RegistrationFactory(status=status)
    with pytest.raises(ValidationError):
        registration_approve(registration=registration, actor=staff, today=TODAY)
    with pytest.raises(ValidationError):
        registration_reject(registration=registration, actor=staff, reason="no")
    registration.refresh_from_db()
    assert registration.status == status


def test_a_rejection_needs_a_reason_and_sends_it(staff):
    registration = submit(PartnerFactory()).registration
    with pytest.raises(ValidationError):
        registration_reject(registration=registration, actor=staff, reason="  ")
    registration_reject(registration=registration, actor=staff, reason="Customer already covered by direct sales")
    registration.refresh_from_db()
    assert registration.status == S.REJECTED and registration.decision_note.startswith("Customer already")
    outbox_render()  # rendered as the send task renders it (not sent)
    assert "Customer already covered" in OutboxEmail.objects.get().body


def test_a_flagged_registration_cannot_simply_be_approved_it_goes_to_arbitration(staff):
    customer = CustomerFactory()
    submit(PartnerFactory(), customer=customer)
    later = submit(PartnerFactory(), customer=customer).registration
    with pytest.raises(ValidationError, match="arbitration"):
        registration_approve(registration=later, actor=staff, today=TODAY)


def test_arbitration_approves_the_chosen_one_and_rejects_the_others(staff):
    customer = CustomerFactory()
    first = submit(PartnerFactory(), customer=customer).registration
    second = submit(PartnerFactory(), customer=customer).registration
    other_line = submit(PartnerFactory(), customer=customer, lines={"hci": "100"}).registration
    winner, losers = registration_arbitrate(winner=second, actor=staff, winner_note="customer confirmed", today=TODAY)
    first.refresh_from_db(), second.refresh_from_db(), other_line.refresh_from_db()
    assert (second.status, first.status, other_line.status) == (S.APPROVED, S.REJECTED, S.SUBMITTED)
    assert losers == [first] and second.conflict_with is None
    assert first.events.last().kind == "arbitration_lost" and second.events.last().note == "customer confirmed"
    keys = set(OutboxEmail.objects.values_list("key", flat=True))
    assert any(key.startswith(f"registration:{first.pk}:registration_arbitrated") for key in keys)
    assert any(key.startswith(f"registration:{second.pk}:registration_arbitrated") for key in keys)


def test_arbitration_may_take_the_protection_from_an_approved_first_registration(staff):
    customer = CustomerFactory()
    first = submit(PartnerFactory(tier=tier("gold")), customer=customer).registration
    assert first.status == S.APPROVED
    later = submit(PartnerFactory(), customer=customer).registration
    registration_arbitrate(winner=later, actor=staff, today=TODAY)
    first.refresh_from_db(), later.refresh_from_db()
    assert (first.status, later.status) == (S.REJECTED, S.APPROVED)
    assert first.events.last().from_status == S.APPROVED


@pytest.mark.parametrize("status", [S.REJECTED, S.WITHDRAWN, S.WON, S.EXPIRED, S.LOST])
def test_a_closed_registration_cannot_win_an_arbitration(status, staff):
    with pytest.raises(ValidationError):
        registration_arbitrate(winner=RegistrationFactory(status=status), actor=staff, today=TODAY)


# --- partner actions -----------------------------------------------------------------------------------------


def test_withdraw_a_submitted_registration():
    registration = submit(PartnerFactory()).registration
    registration_withdraw(registration=registration, actor=registration.submitted_by)
    registration.refresh_from_db()
    assert registration.status == S.WITHDRAWN
    assert (registration.events.last().from_status, registration.events.last().to_status) == ("submitted", "withdrawn")


@pytest.mark.parametrize("status", [S.APPROVED, S.REJECTED, S.WITHDRAWN, S.WON, S.LOST, S.EXPIRED])
def test_withdraw_is_refused_unless_submitted(status):
    registration = RegistrationFactory(status=status)
    with pytest.raises(ValidationError):
        registration_withdraw(registration=registration, actor=None)
    registration.refresh_from_db()
    assert registration.status == status


def test_mark_an_approved_registration_lost():
    registration = RegistrationFactory(status=S.APPROVED)
    registration_mark_lost(registration=registration, actor=None, note="price")
    registration.refresh_from_db()
    assert registration.status == S.LOST and registration.events.last().to_status == S.LOST


@pytest.mark.parametrize("status", [S.SUBMITTED, S.REJECTED, S.WITHDRAWN, S.WON, S.LOST, S.EXPIRED])
def test_mark_lost_is_refused_unless_approved(status):
    with pytest.raises(ValidationError):
        registration_mark_lost(registration=RegistrationFactory(status=status), actor=None)


# --- extension -----------------------------------------------------------------------------------------------


def protected_until(end: date) -> Registration:
    return RegistrationFactory(status=S.APPROVED, approved_on=end - timedelta(days=90), protection_ends_on=end)


END = date(2017, 9, 30)


@pytest.mark.parametrize(
    ("today", "allowed"),
    [
        (END - timedelta(days=31), False),
        (END - timedelta(days=30), True),
        (END, True),
        (END + timedelta(days=1), False),
    ],
)
def test_the_extension_can_be_requested_only_in_the_last_30_days(today, allowed):
    registration = protected_until(END)
    if allowed:
        registration_request_extension(registration=registration, actor=None, reason="PO delayed", today=today)
        registration.refresh_from_db()
        assert registration.extension == "requested" and registration.extension_requested_on == today
    else:
        with pytest.raises(ValidationError, match="only from"):
            registration_request_extension(registration=registration, actor=None, reason="PO delayed", today=today)


def test_the_extension_needs_a_reason_and_is_asked_once():
    registration = protected_until(END)
    with pytest.raises(ValidationError):
        registration_request_extension(registration=registration, actor=None, reason="", today=END)
    registration_request_extension(registration=registration, actor=None, reason="PO delayed", today=END)
    with pytest.raises(ValidationError, match="only one"):
        registration_request_extension(registration=registration, actor=None, reason="again", today=END)


@pytest.mark.parametrize("status", [S.SUBMITTED, S.WON, S.LOST, S.EXPIRED, S.REJECTED, S.WITHDRAWN])
def test_the_extension_is_refused_unless_approved(status):
    with pytest.raises(ValidationError):
        registration_request_extension(
            registration=RegistrationFactory(status=status), actor=None, reason="x", today=TODAY
        )


def test_staff_grant_60_more_days_once(staff):
    registration = protected_until(END)
    registration_request_extension(registration=registration, actor=None, reason="PO delayed", today=END)
    registration_decide_extension(registration=registration, actor=staff, grant=True, today=END)
    registration.refresh_from_db()
    assert (registration.extension, registration.protection_ends_on) == ("granted", END + timedelta(days=60))
    assert registration.events.last().kind == "extension_granted"
    with pytest.raises(ValidationError):
        registration_decide_extension(registration=registration, actor=staff, grant=True, today=END)
    with pytest.raises(ValidationError):
        registration_request_extension(
            registration=registration, actor=None, reason="more", today=END + timedelta(days=59)
        )


def test_a_refusal_after_the_end_expires_the_registration(staff):
    registration = protected_until(END)
    registration_request_extension(registration=registration, actor=None, reason="PO delayed", today=END)
    registration_decide_extension(registration=registration, actor=staff, grant=False, today=END + timedelta(days=2))
    registration.refresh_from_db()
    assert (registration.extension, registration.status, registration.protection_ends_on) == ("refused", "expired", END)
    assert list(registration.events.values_list("to_status", flat=True))[-2:] == ["approved", "expired"]


def test_an_extension_decision_without_a_request_is_refused(staff):
    with pytest.raises(ValidationError):
        registration_decide_extension(registration=protected_until(END), actor=staff, grant=True, today=END)


# --- the database holds the rules too -------------------------------------------------------------------------


def test_the_database_refuses_an_approved_registration_without_protection():
    from django.db import IntegrityError, transaction

    registration = RegistrationFactory(status=S.SUBMITTED)
    with pytest.raises(IntegrityError), transaction.atomic():
        Registration.objects.filter(pk=registration.pk).update(status=S.APPROVED)


def test_the_database_refuses_a_token_used_twice_by_one_partner():
    from django.db import IntegrityError, transaction

    token = uuid.uuid4()
    first = RegistrationFactory(submission_token=token)
    with pytest.raises(IntegrityError), transaction.atomic():
        RegistrationFactory(partner=first.partner, submission_token=token)


def test_every_transition_wrote_one_event():
    registration = submit(PartnerFactory(tier=tier("gold"))).registration
    assert list(
        RegistrationEvent.objects.filter(registration=registration).values_list("from_status", "to_status")
    ) == [
        ("draft", "submitted"),
        ("submitted", "approved"),
    ]


def test_decision_emails_carry_an_absolute_link_to_the_registration(settings, django_capture_on_commit_callbacks):
    from django.core import mail

    settings.PORTAL_BASE_URL = "https://partners.example.com"
    partner = PartnerFactory(country="FR", tier=Tier.objects.get(code="gold"))
    user = MembershipFactory(partner=partner, role="sales").user
    with django_capture_on_commit_callbacks(execute=True):
        registration = submit(partner, user=user, lines={"server": "1000.00"}).registration
    assert registration.status == "approved"
    body = mail.outbox[-1].body
    assert f"https://partners.example.com/deals/registrations/{registration.number}/" in body
