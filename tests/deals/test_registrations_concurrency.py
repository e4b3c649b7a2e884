"""Two partners submit for the same customer at the same moment, on two database connections: exactly one is
first, the other is flagged (PostgreSQL; SQLite serialises writers by itself and cannot show the race)."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from deals.matching import CustomerIdentity
from deals.models import Customer, Registration
from deals.registrations.services import registration_reject, registration_submit
from partners.models import Tier
from tests.factories import MembershipFactory, PartnerFactory, UserFactory
from tests.factories.deals_pages import CustomerFactory
from tests.factories.registrations import TODAY, identity_of

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def race(identity: CustomerIdentity, rounds_of: int = 2):
    """Submit for ``rounds_of`` partners at once (Gold: each would be auto-approved if alone)."""
    gold = Tier.objects.get(code="gold")
    members = [MembershipFactory(partner=PartnerFactory(tier=gold), role="sales") for _index in range(rounds_of)]
    barrier = threading.Barrier(len(members))
    errors = []

    def submit(member):
        try:
            barrier.wait(timeout=10)
            registration_submit(
                partner=member.partner,
                user=member.user,
                identity=identity,
                opportunity_name="Race",
                expected_close_on=TODAY + timedelta(days=30),
                lines={"server": Decimal("1000.00")},
                today=TODAY,
            )
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=submit, args=(member,)) for member in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return list(Registration.objects.order_by("submitted_at", "pk"))


def assert_exactly_one_first(registrations):
    first = [r for r in registrations if r.conflict_with_id is None]
    assert len(first) == 1
    assert first[0].status == Registration.Status.APPROVED
    for later in registrations:
        if later != first[0]:
            assert later.conflict_with_id == first[0].pk and later.status == Registration.Status.SUBMITTED


def test_two_partners_at_once_for_an_existing_customer(require_postgresql):
    customer = CustomerFactory(name="Race Existing SA", vat="FR00011122233")
    registrations = race(CustomerIdentity(name=customer.name, country="FR", vat=customer.vat))
    assert len(registrations) == 2
    assert_exactly_one_first(registrations)


def test_two_partners_at_once_for_a_customer_new_to_the_portal(require_postgresql):
    """No customer row to lock yet: the identity lock still makes one customer and one first."""
    registrations = race(CustomerIdentity(name="Brand New Race", country="FR", domain="race.example"), rounds_of=3)
    assert Customer.objects.filter(domain_key="race.example").count() == 1
    assert len(registrations) == 3
    assert_exactly_one_first(registrations)


def test_a_resubmission_racing_another_partners_submission_has_exactly_one_first(require_postgresql):
    """A rejected registration resubmitted at the very moment another partner registers the customer: the
    resubmission keeps no priority of its own, and exactly one of the two is first (the same customer lock)."""
    gold = Tier.objects.get(code="gold")
    customer = CustomerFactory(name="Race Resubmit SA", vat="FR00099988877")
    identity = identity_of(customer)
    resubmitter = MembershipFactory(partner=PartnerFactory(tier=gold), role="sales")
    rejected = registration_submit(partner=resubmitter.partner, user=resubmitter.user, identity=identity,
                                   opportunity_name="Before", expected_close_on=TODAY + timedelta(days=30),
                                   lines={"server": Decimal("90000.00")}, today=TODAY).registration  # fmt: skip
    registration_reject(registration=rejected, actor=UserFactory(is_staff=True), reason="Amount too high")
    other = MembershipFactory(partner=PartnerFactory(tier=gold), role="sales")
    barrier = threading.Barrier(2)
    errors = []

    def go(member, registration):
        try:
            barrier.wait(timeout=10)
            registration_submit(partner=member.partner, user=member.user, identity=identity, opportunity_name="Race",
                                expected_close_on=TODAY + timedelta(days=30), lines={"server": Decimal("1000.00")},
                                today=TODAY, registration=registration)  # fmt: skip
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=go, args=(resubmitter, rejected)),
        threading.Thread(target=go, args=(other, None)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    registrations = list(Registration.objects.order_by("submitted_at", "pk"))
    assert len(registrations) == 2 and rejected.pk in {r.pk for r in registrations}
    assert_exactly_one_first(registrations)
