"""One bad item never stops a nightly job (issue 10, item 9): routing, channel locks, registration expiry and
reminders each process the other items, record the failing one with its error for staff, and a re-run after
the data is fixed completes it."""

from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from django.db import connection

from deals.models import ChannelLock, OrderLine, Registration, RoutingCase
from deals.registrations.services import EXPIRE_JOB, registrations_expire_once
from deals.routing.locks import JOB_NAME as LOCKS_JOB
from deals.routing.locks import channel_locks_apply
from deals.routing.services import JOB_NAME as ROUTING_JOB
from deals.routing.services import route_direct_orders
from portal.models import JobItemFailure, JobRun, OutboxEmail
from tests.factories import MembershipFactory
from tests.factories.registrations import RegistrationFactory
from tests.factories.routing import customer, order, partner

pytestmark = pytest.mark.django_db
BOOKED = date(2017, 3, 15)
AS_OF = date(2017, 3, 20)
# Each line fits ``OrderLine.net_amount`` (16 digits); their sum does not fit ``RoutingCase.order_total``.
OVERFLOW = {"server": "60000000000000.00", "storage": "60000000000000.00"}


def failure(job: str) -> JobItemFailure:
    return JobItemFailure.objects.get(job=job)


def literal(value: str) -> str:
    """A quoted SQL string literal (SQLite triggers take no parameters)."""
    return "'" + str(value).replace("'", "''") + "'"


@contextmanager
def refused_update(table: str, column: str, value):
    """Make the database refuse to update the one row of ``table`` whose ``column`` is ``value`` (a trigger, on
    SQLite and PostgreSQL): an item that fails for a reason nobody foresaw."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                f"CREATE TRIGGER poisoned BEFORE UPDATE ON {table} WHEN OLD.{column} = {literal(value)} "
                "BEGIN SELECT RAISE(ABORT, 'poisoned row'); END"
            )
        else:
            cursor.execute(
                "CREATE FUNCTION poisoned() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'poisoned row'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER poisoned BEFORE UPDATE ON {table} FOR EACH ROW "
                f"WHEN (OLD.{column} = %s) EXECUTE FUNCTION poisoned()",
                [value],
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER poisoned" + ("" if connection.vendor == "sqlite" else f" ON {table}"))
            if connection.vendor != "sqlite":
                cursor.execute("DROP FUNCTION poisoned()")


@contextmanager
def refused_insert(table: str, column: str, pattern: str):
    """Make the database refuse to insert into ``table`` a row whose ``column`` is LIKE ``pattern``."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                f"CREATE TRIGGER poisoned BEFORE INSERT ON {table} WHEN NEW.{column} LIKE {literal(pattern)} "
                "BEGIN SELECT RAISE(ABORT, 'poisoned row'); END"
            )
        else:
            cursor.execute(
                "CREATE FUNCTION poisoned() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'poisoned row'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER poisoned BEFORE INSERT ON {table} FOR EACH ROW "
                f"WHEN (NEW.{column} LIKE %s) EXECUTE FUNCTION poisoned()",
                [pattern],
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER poisoned" + ("" if connection.vendor == "sqlite" else f" ON {table}"))
            if connection.vendor != "sqlite":
                cursor.execute("DROP FUNCTION poisoned()")


class TestRouting:
    def test_an_order_whose_total_overflows_is_recorded_and_the_others_are_routed(self):
        first, second = partner("FR"), partner("FR")
        before = order(customer=customer("FR"), booked_on=BOOKED - timedelta(days=1))
        poisoned = order(customer=customer("FR"), booked_on=BOOKED, lines=OVERFLOW)
        after = order(customer=customer("FR"), booked_on=BOOKED + timedelta(days=1))

        result = route_direct_orders(as_of=AS_OF)

        assert result["failed_items"] == 1 and result["offers"] == 2
        assert not RoutingCase.objects.filter(order=poisoned).exists()
        # The fair share is what it would be without the bad order: one offer each, in booked order.
        assert RoutingCase.objects.get(order=before).offers.get().partner == first
        assert RoutingCase.objects.get(order=after).offers.get().partner == second
        recorded = failure(ROUTING_JOB)
        assert recorded.item == f"order {poisoned.number}"
        assert "does not fit" in recorded.error and recorded.period == AS_OF.isoformat()
        assert recorded.resolved_at is None
        assert JobRun.objects.get(name=ROUTING_JOB, period=AS_OF.isoformat()).result["failed_items"] == 1

    def test_fixing_the_order_and_running_the_date_again_routes_it_and_resolves_the_failure(self):
        partner("FR")
        poisoned = order(customer=customer("FR"), booked_on=BOOKED, lines=OVERFLOW)
        route_direct_orders(as_of=AS_OF)
        assert route_direct_orders(as_of=AS_OF) is not None  # still a failure: the date is run again
        assert failure(ROUTING_JOB).attempts == 2

        OrderLine.objects.filter(order=poisoned).update(net_amount="1000.00")
        result = route_direct_orders(as_of=AS_OF)

        assert result["under_ceiling"] == 1 and "failed_items" not in result
        assert RoutingCase.objects.get(order=poisoned).status == RoutingCase.Status.OFFERED
        assert failure(ROUTING_JOB).resolved_at is not None
        assert route_direct_orders(as_of=AS_OF) is None  # nothing left to retry: claimed once again


class TestLocks:
    def test_a_customer_whose_stored_lock_is_corrupt_is_recorded_and_the_others_are_locked(self):
        p = partner()
        good, bad = customer(), customer()
        order(customer=good, partner=p, booked_on=date(2017, 2, 10))
        old = order(customer=bad, partner=p, booked_on=date(2017, 2, 1))
        order(customer=bad, partner=p, booked_on=date(2017, 2, 20))
        channel_locks_apply(as_of=date(2017, 2, 5))
        # Edited by hand: a lock said to start after the order that extends it (the database refuses that row).
        ChannelLock.objects.filter(customer=bad).update(locked_on=date(2017, 2, 25), last_booked_on=date(2017, 2, 25))

        result = channel_locks_apply(as_of=date(2017, 3, 1))

        assert result["locked"] == 1 and result["failed_items"] == 1
        assert ChannelLock.objects.get(customer=good).last_booked_on == date(2017, 2, 10)
        assert ChannelLock.objects.get(customer=bad).last_order == old  # left as it was
        recorded = failure(LOCKS_JOB)
        assert recorded.item == f"customer {bad.pk}" and "IntegrityError" in recorded.error

        ChannelLock.objects.filter(customer=bad).update(locked_on=date(2017, 2, 1), last_booked_on=date(2017, 2, 1))
        again = channel_locks_apply(as_of=date(2017, 3, 1))

        assert again["extended"] == 1 and "failed_items" not in again
        assert ChannelLock.objects.get(customer=bad).last_booked_on == date(2017, 2, 20)
        assert failure(LOCKS_JOB).resolved_at is not None


class TestRegistrations:
    def test_a_registration_that_cannot_be_expired_is_recorded_and_the_others_expire(self):
        kwargs = {"status": "approved", "approved_on": date(2017, 3, 1), "protection_ends_on": date(2017, 5, 30)}
        good, bad = RegistrationFactory(**kwargs), RegistrationFactory(**kwargs)

        with refused_update("deals_registration", "number", bad.number):
            result = registrations_expire_once(as_of=date(2017, 6, 1))

        assert result["expired"] == 1 and result["failed_items"] == 1
        assert Registration.objects.get(pk=good.pk).status == "expired"
        assert Registration.objects.get(pk=bad.pk).status == "approved"
        recorded = failure(EXPIRE_JOB)
        assert recorded.item == f"registration {bad.number}" and "poisoned row" in recorded.error

        again = registrations_expire_once(as_of=date(2017, 6, 1))

        assert again["expired"] == 1 and "failed_items" not in again
        assert Registration.objects.get(pk=bad.pk).status == "expired"
        assert failure(EXPIRE_JOB).resolved_at is not None

    def test_a_reminder_that_cannot_be_queued_is_recorded_and_the_others_are_sent(self):
        kwargs = {"status": "approved", "approved_on": date(2017, 3, 1), "protection_ends_on": date(2017, 5, 30)}
        good, bad = RegistrationFactory(**kwargs), RegistrationFactory(**kwargs)
        for registration in (good, bad):
            MembershipFactory(partner=registration.partner, role="admin")
        as_of = date(2017, 5, 30) - timedelta(days=14)

        with refused_insert("portal_outboxemail", "key", f"registration:{bad.pk}:%"):
            result = registrations_expire_once(as_of=as_of)

        assert result["reminders"] == 1 and result["failed_items"] == 1
        assert OutboxEmail.objects.filter(key__startswith=f"registration:{good.pk}:registration_reminder").count() == 1
        assert not OutboxEmail.objects.filter(key__startswith=f"registration:{bad.pk}:").exists()
        assert failure(EXPIRE_JOB).item == f"reminder of registration {bad.number}"

        again = registrations_expire_once(as_of=as_of)

        assert again["reminders"] == 1
        assert OutboxEmail.objects.filter(key__startswith=f"registration:{bad.pk}:registration_reminder").count() == 1
        assert failure(EXPIRE_JOB).resolved_at is not None
