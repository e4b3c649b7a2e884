"""Routing of direct orders (DESIGN §5): reasons and their precedence, targets in order (registration holder,
incumbent, fair weighted share), 5 days to answer, decline and timeout chains, acceptance, staff reassignment,
and a job that is deterministic and safe to run twice — and twice at once."""

import threading
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from deals.models import ChannelLock, Order, OrderLine, Registration, RoutingCase, RoutingOffer
from deals.routing.locks import channel_lock_on
from deals.routing.services import (
    RoutingError,
    route_direct_orders,
    routed_offer_accept,
    routed_offer_decline,
    routing_reassign,
    routing_run,
)
from partners.models import Zone
from partners.tiers.engine import tier_raw_figures
from portal.emails import outbox_render
from portal.models import OutboxEmail, Program
from tests.factories import UserFactory
from tests.factories.partners import tier_set
from tests.factories.registrations import RegistrationFactory
from tests.factories.routing import customer, order, partner, partner_user

pytestmark = pytest.mark.django_db
R = RoutingCase.Reason
BOOKED = date(2017, 3, 15)
AS_OF = date(2017, 3, 20)
OVER = {"server": "250000.00"}  # over every ceiling: only a lock or a registration routes it


def case_of(the_order) -> RoutingCase:
    return RoutingCase.objects.get(order=the_order)


def open_offer(the_order) -> RoutingOffer | None:
    return RoutingOffer.objects.filter(case__order=the_order, status="offered").select_related("partner").first()


def trail(the_order) -> list[tuple[str, str, str]]:
    return list(
        RoutingOffer.objects.filter(case__order=the_order)
        .order_by("id")
        .values_list("partner__code", "source", "status")
    )


def registration(holder, the_customer, *, lines=None, approved_on=date(2017, 3, 1), days=90, status="approved"):
    return RegistrationFactory(
        partner=holder,
        customer=the_customer,
        status=status,
        approved_on=approved_on,
        protection_ends_on=approved_on + timedelta(days=days),
        lines=lines or {"server": "1000.00"},
    )


class TestReasons:
    def test_one_cent_under_the_ceiling_is_routed_exactly_at_the_ceiling_is_not(self):
        p = partner("FR")
        under = order(customer=customer("FR"), booked_on=BOOKED, lines={"server": "60000.00", "storage": "39999.99"})
        at = order(customer=customer("FR"), booked_on=BOOKED, lines={"server": "60000.00", "storage": "40000.00"})

        routing_run(as_of=AS_OF)

        assert case_of(under).reason == R.UNDER_CEILING
        assert open_offer(under).partner == p
        assert (case_of(at).reason, case_of(at).status) == (R.NOT_ROUTED, RoutingCase.Status.DIRECT)
        assert "100000.00" in case_of(at).outcome
        assert open_offer(at) is None

    def test_the_ceiling_is_the_zone_of_the_customers_country_and_is_data(self):
        Zone.objects.filter(code="NA-1").update(hard_deck_ceiling=Decimal("50000.00"))
        partner("US")
        us = order(customer=customer("US"), booked_on=BOOKED, lines={"server": "60000.00"})
        fr = order(customer=customer("FR"), booked_on=BOOKED, lines={"server": "60000.00"})
        partner("FR")

        routing_run(as_of=AS_OF)

        assert case_of(us).reason == R.NOT_ROUTED
        assert case_of(fr).reason == R.UNDER_CEILING

    def test_a_locked_customer_goes_to_the_incumbent_whatever_the_total(self):
        incumbent, other = partner("FR"), partner("FR")
        c = customer("FR")
        order(customer=c, partner=incumbent, booked_on=date(2016, 1, 10))
        direct = order(customer=c, booked_on=BOOKED, lines=OVER)

        routing_run(as_of=AS_OF)

        assert case_of(direct).reason == R.LOCKED
        assert case_of(direct).incumbent == incumbent
        assert trail(direct) == [(incumbent.code, "incumbent", "offered")]
        assert other.routing_offers.count() == 0

    def test_lock_window_on_the_booked_date_36_months_exactly_is_over_one_day_later_still_locked(self):
        p = partner("FR")
        expired_customer, locked_customer = customer("FR"), customer("FR")
        order(customer=expired_customer, partner=p, booked_on=date(2014, 3, 15))
        order(customer=locked_customer, partner=p, booked_on=date(2014, 3, 16))
        expired = order(customer=expired_customer, booked_on=BOOKED, lines=OVER)
        locked = order(customer=locked_customer, booked_on=BOOKED, lines=OVER)

        routing_run(as_of=AS_OF)

        assert case_of(expired).reason == R.NOT_ROUTED
        assert case_of(locked).reason == R.LOCKED

    def test_the_lock_is_judged_on_the_booked_date_not_on_the_run_date(self):
        p = partner("FR")
        c = customer("FR")
        direct = order(customer=c, booked_on=BOOKED, lines=OVER)
        order(customer=c, partner=p, booked_on=BOOKED + timedelta(days=1))  # after the direct order

        routing_run(as_of=AS_OF)

        assert case_of(direct).reason == R.NOT_ROUTED

    def test_a_protected_registration_on_one_of_the_order_lines_routes_to_its_holder(self):
        holder, _other = partner("FR"), partner("FR")
        c = customer("FR")
        registration(holder, c, lines={"storage": "5000.00", "server": "1000.00"})
        direct = order(customer=c, booked_on=BOOKED, lines={"networking": "200000.00", "server": "50000.00"})

        routing_run(as_of=AS_OF)

        assert case_of(direct).reason == R.REGISTRATION
        assert trail(direct) == [(holder.code, "registration", "offered")]

    def test_a_registration_on_other_product_lines_or_outside_its_protection_does_not_route(self):
        holder = partner("FR")
        other_lines, ended, not_yet = customer("FR"), customer("FR"), customer("FR")
        registration(holder, other_lines, lines={"storage": "5000.00"})
        registration(holder, ended, approved_on=date(2016, 11, 1), days=30)
        registration(holder, not_yet, approved_on=BOOKED + timedelta(days=1))
        orders = [order(customer=c, booked_on=BOOKED, lines=OVER) for c in (other_lines, ended, not_yet)]

        routing_run(as_of=AS_OF)

        assert [case_of(o).reason for o in orders] == [R.NOT_ROUTED] * 3

    def test_a_registration_expired_since_still_protected_the_booked_date(self):
        holder = partner("FR")
        c = customer("FR")
        registration(holder, c, status=Registration.Status.EXPIRED, approved_on=date(2016, 12, 20), days=90)
        direct = order(customer=c, booked_on=BOOKED, lines=OVER)  # 2017-03-15 <= 2017-03-20, the last day

        routing_run(as_of=date(2017, 4, 1))

        assert case_of(direct).reason == R.REGISTRATION

    def test_locked_and_registered_reason_is_the_lock_but_the_registration_holder_comes_first(self):
        incumbent, holder, third = partner("FR"), partner("FR"), partner("FR")
        c = customer("FR")
        order(customer=c, partner=incumbent, booked_on=date(2016, 6, 1))
        registration(holder, c)
        direct = order(customer=c, booked_on=BOOKED, lines={"server": "1000.00"})

        routing_run(as_of=AS_OF)
        first = open_offer(direct)
        routed_offer_decline(offer=first, user=partner_user(holder), reason="No capacity", today=AS_OF)
        routed_offer_decline(offer=open_offer(direct), user=partner_user(incumbent), reason="Not ours", today=AS_OF)

        assert case_of(direct).reason == R.LOCKED
        assert trail(direct) == [
            (holder.code, "registration", "declined"),
            (incumbent.code, "incumbent", "declined"),
            (third.code, "fair_share", "offered"),
        ]

    def test_credits_history_and_future_orders_are_not_routed(self):
        partner("FR")
        c = customer("FR")
        original = order(customer=c, booked_on=date(2017, 3, 1))
        credit = order(customer=c, booked_on=BOOKED, lines={"server": "-100.00"}, credits=original)
        history = order(customer=customer("FR"), booked_on=date(2017, 1, 31))
        future = order(customer=customer("FR"), booked_on=AS_OF + timedelta(days=1))

        routing_run(as_of=AS_OF)

        assert case_of(credit).reason == R.NOT_ROUTED
        assert not RoutingCase.objects.filter(order__in=[history, future]).exists()
        assert Program.current().start_date == date(2017, 2, 1)


class TestFairShare:
    def test_offers_follow_the_tier_weights_over_many_orders(self):
        """Tolerance: after N offers each partner is within one offer of N × weight ÷ total weight."""
        weights = {"authorized": 1, "gold": 2, "platinum": 3, "titanium": 4, "titanium_black": 5}
        partners = {code: partner("DE", code) for code in weights}
        n = 150
        for _ in range(n):
            order(customer=customer("DE"), booked_on=BOOKED, lines={"server": "5000.00"})

        routing_run(as_of=AS_OF)

        counts = Counter(RoutingOffer.objects.values_list("partner_id", flat=True))
        assert sum(counts.values()) == n
        for code, weight in weights.items():
            assert abs(counts[partners[code].pk] - Decimal(n * weight) / 15) <= 1, code

    def test_the_weight_is_that_of_the_tier_on_the_run_day_not_the_cached_tier(self):
        """A is Authorized (weight 1) on the run day and Titanium (4) from the day after, which is what its
        cached ``Partner.tier`` says today; B is Gold (2). By the history: A, B, B; by the cache it would be A, B, A."""
        a, b = partner("BE"), partner("BE", "gold")
        tier_set(a, "titanium", AS_OF + timedelta(days=1))
        a.refresh_from_db()
        assert a.tier.code == "titanium"
        orders = [order(customer=customer("BE"), booked_on=BOOKED) for _ in range(3)]

        routing_run(as_of=AS_OF)

        assert [open_offer(o).partner for o in orders] == [a, b, b]

    def test_ties_go_to_the_lowest_id_and_inactive_or_foreign_partners_get_nothing(self):
        first, second = partner("BE"), partner("BE")
        partner("BE", active=False)
        partner("FR")
        orders = [order(customer=customer("BE"), booked_on=BOOKED) for _ in range(3)]

        routing_run(as_of=AS_OF)

        assert [open_offer(o).partner for o in orders] == [first, second, first]

    def test_with_no_active_partner_in_the_country_the_order_stays_direct_with_the_reason(self):
        partner("IT", active=False)
        lonely = order(customer=customer("IT"), booked_on=BOOKED)

        result = routing_run(as_of=AS_OF)

        case = case_of(lonely)
        assert (case.reason, case.status, result["unassigned"]) == (R.UNDER_CEILING, "direct", 1)
        assert "no active partner in IT" in case.outcome

    def test_the_count_is_per_quarter(self):
        busy, fresh = partner("BE"), partner("BE")
        previous_quarter = order(customer=customer("BE"), booked_on=date(2017, 4, 10))
        routing_run(as_of=date(2017, 4, 20))  # FY2018-Q1: goes to busy (lowest id)
        offer = open_offer(previous_quarter)
        assert offer.partner == busy
        routed_offer_accept(offer=offer, user=partner_user(busy), today=date(2017, 4, 21))

        next_quarter = order(customer=customer("BE"), booked_on=date(2017, 5, 2))
        routing_run(as_of=date(2017, 5, 3))  # FY2018-Q2 starts from zero: busy again (lowest id)

        assert open_offer(next_quarter).partner == busy
        assert fresh.routing_offers.count() == 0

    def test_the_same_data_gives_the_same_assignments(self):
        for code in ("authorized", "gold", "gold", "platinum"):
            partner("GB", code)
        for amount in ("1000.00", "2000.00", "3000.00") * 7:
            order(customer=customer("GB"), booked_on=BOOKED, lines={"server": amount})

        routing_run(as_of=AS_OF)
        first = sorted(RoutingOffer.objects.values_list("case__order__number", "partner__code"))
        RoutingOffer.objects.all().delete()
        RoutingCase.objects.all().delete()
        routing_run(as_of=AS_OF)

        assert sorted(RoutingOffer.objects.values_list("case__order__number", "partner__code")) == first


class TestAnswers:
    def setup_method(self):
        self.a, self.b = partner("FR", "gold"), partner("FR")
        self.c = customer("FR")
        self.direct = order(customer=self.c, booked_on=BOOKED, lines={"server": "30000.00", "storage": "5000.00"})

    def test_accept_makes_it_the_partners_order_from_its_booked_date_and_locks_the_customer(self):
        routing_run(as_of=AS_OF)
        offer = open_offer(self.direct)
        assert offer.partner == self.a  # gold weight 2 vs 1, both at zero: lowest id

        routed_offer_accept(offer=offer, user=partner_user(self.a), today=AS_OF)

        self.direct.refresh_from_db()
        assert self.direct.partner == self.a
        assert self.direct.channel == Order.Channel.DIRECT
        assert set(OrderLine.objects.filter(order=self.direct).values_list("partner_id", flat=True)) == {self.a.pk}
        case = case_of(self.direct)
        assert (case.status, case.accepted_partner, case.closed_on) == ("accepted", self.a, AS_OF)
        assert tier_raw_figures(as_of=BOOKED, program=Program.current())[self.a.pk].qualifying_revenue == Decimal(
            "35000.00"
        )
        lock = ChannelLock.objects.get(customer=self.c)
        assert (lock.partner, lock.locked_on, lock.last_order) == (self.a, BOOKED, self.direct)
        assert channel_lock_on([self.c.pk], BOOKED)[self.c.pk].partner_id == self.a.pk

    def test_credits_of_the_order_follow_it_to_the_accepting_partner(self):
        credit = order(
            customer=self.c, booked_on=BOOKED + timedelta(days=3), lines={"server": "-1000.00"}, credits=self.direct
        )
        routing_run(as_of=AS_OF)
        routed_offer_accept(offer=open_offer(self.direct), user=partner_user(self.a), today=AS_OF)
        credit.refresh_from_db()
        assert credit.partner == self.a
        assert set(OrderLine.objects.filter(order=credit).values_list("partner_id", flat=True)) == {self.a.pk}
        figures = tier_raw_figures(as_of=AS_OF, program=Program.current())[self.a.pk]
        assert figures.qualifying_revenue == Decimal("34000.00")  # 35,000 less the 1,000 credit

    def test_a_credit_imported_after_acceptance_counts_for_the_accepting_partner(self):
        from deals.imports import ORDER_HEADER
        from portal.csvimport import import_file

        routing_run(as_of=AS_OF)
        routed_offer_accept(offer=open_offer(self.direct), user=partner_user(self.a), today=AS_OF)
        row = [
            "CR-LATE", (AS_OF + timedelta(days=1)).isoformat(), "direct", "", self.c.name, self.c.country,
            self.c.vat, self.c.domain, "1", "server", "SKU", "credit", "1", "-500.00", "", "", self.direct.number,
        ]  # fmt: skip
        data = (",".join(ORDER_HEADER) + "\n" + ",".join(row) + "\n").encode()
        import_file(kind="orders", data=data, name="late.csv")
        assert OrderLine.objects.get(order__number="CR-LATE").partner == self.a
        assert Order.objects.get(number="CR-LATE").partner == self.a

    def test_accept_twice_is_one_acceptance(self):
        routing_run(as_of=AS_OF)
        offer = open_offer(self.direct)
        user = partner_user(self.a)

        routed_offer_accept(offer=offer, user=user, today=AS_OF)
        again = routed_offer_accept(offer=offer, user=user, today=AS_OF)

        assert again.status == "accepted"
        assert RoutingOffer.objects.filter(status="accepted").count() == 1
        assert ChannelLock.objects.count() == 1

    def test_an_answer_after_the_deadline_or_to_a_closed_offer_is_refused(self):
        routing_run(as_of=AS_OF)
        offer = open_offer(self.direct)
        assert offer.respond_by == AS_OF + timedelta(days=5)

        with pytest.raises(RoutingError):
            routed_offer_accept(offer=offer, user=partner_user(self.a), today=AS_OF + timedelta(days=6))
        routed_offer_decline(offer=offer, user=partner_user(self.a), reason="No", today=AS_OF)
        with pytest.raises(RoutingError):
            routed_offer_accept(offer=offer, user=partner_user(self.a), today=AS_OF)
        with pytest.raises(RoutingError):
            routed_offer_decline(offer=open_offer(self.direct), user=partner_user(self.b), reason="  ", today=AS_OF)

    def test_decline_chain_ends_direct_with_the_reason(self):
        routing_run(as_of=AS_OF)
        routed_offer_decline(offer=open_offer(self.direct), user=partner_user(self.a), reason="Too small", today=AS_OF)
        second = open_offer(self.direct)
        assert second.partner == self.b
        again = routed_offer_decline(offer=second, user=partner_user(self.b), reason="Not our field", today=AS_OF)
        routed_offer_decline(offer=second, user=partner_user(self.b), reason="double click", today=AS_OF)

        case = case_of(self.direct)
        assert again.decline_reason == "Not our field"
        assert (case.status, case.closed_on) == (RoutingCase.Status.DIRECT, AS_OF)
        assert "no partner left" in case.outcome
        assert trail(self.direct) == [(self.a.code, "fair_share", "declined"), (self.b.code, "fair_share", "declined")]
        self.direct.refresh_from_db()
        assert self.direct.partner is None

    def test_timeout_chain_on_the_nightly_run(self):
        routing_run(as_of=AS_OF)
        deadline = AS_OF + timedelta(days=5)

        routing_run(as_of=deadline)  # the partner can still answer on its deadline
        assert open_offer(self.direct).partner == self.a
        result = routing_run(as_of=deadline + timedelta(days=1))
        second = open_offer(self.direct)
        routing_run(as_of=second.respond_by + timedelta(days=1))

        assert result["expired_offers"] == 1
        assert (second.partner, second.offered_on) == (self.b, deadline + timedelta(days=1))
        assert trail(self.direct) == [(self.a.code, "fair_share", "expired"), (self.b.code, "fair_share", "expired")]
        assert case_of(self.direct).status == RoutingCase.Status.DIRECT

    def test_staff_reassignment_withdraws_the_open_offer(self):
        staff = UserFactory(is_staff=True)
        routing_run(as_of=AS_OF)

        offer = routing_reassign(
            case=case_of(self.direct), partner=self.b, reason="Customer asked", staff_user=staff, today=AS_OF
        )

        assert trail(self.direct) == [(self.a.code, "fair_share", "withdrawn"), (self.b.code, "staff", "offered")]
        assert "Customer asked" in case_of(self.direct).outcome
        routed_offer_accept(offer=offer, user=partner_user(self.b), today=AS_OF)
        with pytest.raises(RoutingError):
            routing_reassign(case=case_of(self.direct), partner=self.a, reason="x", staff_user=staff, today=AS_OF)

    def test_offer_emails_go_to_admin_and_sales_users_once(self):
        admin, sales = partner_user(self.a, "admin"), partner_user(self.a, "sales")
        partner_user(self.a, "finance")

        routing_run(as_of=AS_OF)
        route_direct_orders(as_of=AS_OF, force=True)

        outbox_render()  # rendered as the send task renders it (not sent)
        emails = OutboxEmail.objects.filter(key__startswith="routing-offer:")
        assert sorted(email.to[0] for email in emails) == sorted([admin.email, sales.email])
        assert self.direct.number in emails[0].subject


class TestJob:
    def test_the_number_of_queries_does_not_grow_with_the_orders(self, django_assert_max_num_queries):
        for code in ("authorized", "gold"):
            partner("FR", code)
        incumbent = partner("DE")
        locked = customer("DE")
        order(customer=locked, partner=incumbent, booked_on=date(2016, 5, 1))
        for index in range(60):
            booked_on = BOOKED - timedelta(days=index % 5)
            order(customer=locked if index % 3 == 0 else customer("FR"), booked_on=booked_on)

        # 22: one of them is the webhook subscriptions of the offers' partners (portal.events, the API's webhooks),
        # one the staff overrides of the locked customers' locks.
        with django_assert_max_num_queries(22):
            result = routing_run(as_of=AS_OF)

        assert (result["locked"], result["under_ceiling"], result["offers"]) == (20, 40, 60)

    def test_claimed_once_per_date_and_a_second_run_changes_nothing(self):
        partner("FR"), partner("FR")
        for _ in range(4):
            order(customer=customer("FR"), booked_on=BOOKED)

        first = route_direct_orders(as_of=AS_OF)
        state = sorted(RoutingOffer.objects.values_list("case__order_id", "partner_id", "status", "respond_by"))

        assert first["under_ceiling"] == 4 and first["offers"] == 4
        assert route_direct_orders(as_of=AS_OF) is None
        assert route_direct_orders(as_of=AS_OF, force=True)["offers"] == 0
        assert sorted(RoutingOffer.objects.values_list("case__order_id", "partner_id", "status", "respond_by")) == state

    def test_command_rejects_a_bad_date_and_changes_nothing(self):
        partner("FR")
        order(customer=customer("FR"), booked_on=BOOKED)

        with pytest.raises(CommandError, match="as-of"):
            call_command("route_direct_orders", "--as-of", "20-03-2017")

        assert not RoutingCase.objects.exists()

    def test_command_routes_and_reports(self, capsys):
        partner("FR")
        order(customer=customer("FR"), booked_on=BOOKED)

        call_command("route_direct_orders", "--as-of", AS_OF.isoformat())

        assert "1 under the ceiling" in capsys.readouterr().out

    def test_the_nightly_task_takes_an_iso_date(self):
        from deals.tasks import route_direct_orders_nightly

        partner("FR")
        order(customer=customer("FR"), booked_on=BOOKED)

        route_direct_orders_nightly.delay(AS_OF.isoformat())

        assert RoutingCase.objects.count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_routing_the_same_orders_at_once_assign_each_order_once(require_postgresql):
    """Two threads, each with its own connection, run the routing of the same date at the same time."""
    for _ in range(3):
        partner("FR")
    orders = [order(customer=customer("FR"), booked_on=BOOKED) for _ in range(60)]
    barrier = threading.Barrier(2)
    errors = []

    def worker(force):
        try:
            barrier.wait()
            if force:
                route_direct_orders(as_of=AS_OF, force=True)
            else:
                routing_run(as_of=AS_OF)
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(force,)) for force in (True, False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert connection.vendor == "postgresql"
    assert RoutingCase.objects.filter(order__in=orders).count() == 60
    assert RoutingOffer.objects.filter(status="offered").count() == 60
    assert len(set(RoutingOffer.objects.values_list("case__order_id", flat=True))) == 60
