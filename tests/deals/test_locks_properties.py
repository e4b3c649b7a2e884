"""The channel-lock decisions as one SQL statement (PostgreSQL) equal the Python reference on random programs:
random partner orders, credits and accepted routed orders on awkward dates (month ends, 29 February), random staff
releases and transfers (even ones the admin would refuse), and random sequences of nightly runs, replays of older
dates included — the same rows, the same history, the same counts."""

from datetime import date, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deals.models import ChannelLock, ChannelLockEvent, ChannelLockOverride, Order, OrderLine
from deals.routing.locks import channel_locks_refresh
from tests.factories.routing import customer, order, partner

pytestmark = pytest.mark.django_db
EDGES = [date(2016, 2, 29), date(2017, 1, 31), date(2017, 3, 31), date(2018, 8, 31), date(2019, 2, 28)]
days = st.one_of(st.sampled_from(EDGES), st.dates(min_value=date(2014, 1, 1), max_value=date(2020, 12, 31)))
orders = st.lists(
    st.tuples(
        st.integers(0, 3),  # customer
        st.integers(0, 2),  # partner; 2 = a direct order
        days,
        st.sampled_from(["order", "credit", "routed"]),
    ),
    max_size=14,
)
overrides = st.lists(
    st.tuples(
        st.integers(0, 3),  # customer
        st.sampled_from(["released", "transferred"]),
        days,  # effective on
    ),
    max_size=4,
)
runs = st.lists(st.tuples(days, st.booleans()), min_size=1, max_size=5)  # (as of, only the first customer)


def state():
    locks = sorted(
        ChannelLock.objects.values_list(
            "customer_id", "partner_id", "locked_on", "last_order_id", "last_booked_on", "expires_on", "released_on",
            "applied_on", "override_id",
        )
    )  # fmt: skip
    events = sorted(
        ChannelLockEvent.objects.values_list(
            "customer_id", "kind", "partner_id", "order_id", "override_id", "effective_on", "expires_on", "recorded_on"
        )
    )
    return locks, events


@pytest.fixture
def program():
    return [customer() for _ in range(4)], [partner(), partner()]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=orders, overrides=overrides, runs=runs)
def test_the_sql_decisions_equal_the_python_reference(require_postgresql, program, orders, overrides, runs):
    customers, partners = program
    with transaction.atomic():
        booked = {}
        for customer_index, partner_index, booked_on, kind in orders:
            the_customer = customers[customer_index]
            the_partner = partners[partner_index] if partner_index < 2 else None
            if kind == "credit" and (the_customer.pk, partner_index) in booked:
                credited = booked[the_customer.pk, partner_index]
                order(
                    customer=the_customer,
                    partner=the_partner,
                    booked_on=max(booked_on, credited.booked_on),
                    lines={"server": "-10.00"},
                    credits=credited,
                )
                continue
            made = order(customer=the_customer, partner=the_partner, booked_on=booked_on)
            booked[the_customer.pk, partner_index] = made
            if kind == "routed" and the_partner is not None:  # an accepted routed order: direct, counting for it
                Order.objects.filter(pk=made.pk).update(channel="direct")
                OrderLine.objects.filter(order=made).update(channel="direct")
        for customer_index, kind, effective_on in overrides:
            transferred = kind == ChannelLockOverride.Kind.TRANSFERRED
            ChannelLockOverride.objects.create(
                customer=customers[customer_index],
                kind=kind,
                from_partner=partners[0],
                to_partner=partners[1] if transferred else None,
                effective_on=effective_on,
                reason="property test",
            )

        for as_of, one_customer in runs:
            ids = [customers[0].pk] if one_customer else None
            with transaction.atomic():
                reference = channel_locks_refresh(as_of=as_of, customer_ids=ids, reference=True)
                expected = state()
                transaction.set_rollback(True)
            result = channel_locks_refresh(as_of=as_of, customer_ids=ids)

            assert result == reference
            assert state() == expected
            as_of += timedelta(days=1)
        transaction.set_rollback(True)
