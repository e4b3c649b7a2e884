"""Staff overrides of channel locks (issue #12): a release ends the lock from its effective date until a qualifying
order booked after it locks the customer again; a transfer makes another partner the incumbent from its effective
date, with the running expiry kept, until a later qualifying order decides again. The derivation
(``channel_lock_on`` / ``channel_locks_on_dates``), the nightly job and routing all read the overrides, for any
replayed date; the history keeps who overrode the lock and why; only staff with the permission can do it."""

from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from deals.models import ChannelLock, ChannelLockEvent, ChannelLockOverride, RoutingCase, RoutingOffer
from deals.routing.locks import channel_lock_on, channel_locks_apply, channel_locks_on_dates, channel_locks_refresh
from deals.routing.services import (
    ChannelLockError,
    channel_lock_release,
    channel_lock_transfer,
    routing_run,
)
from tests.factories import UserFactory
from tests.factories.routing import customer, order, partner, partner_user

pytestmark = pytest.mark.django_db
K = ChannelLockEvent.Kind
LOCKED_ON = date(2017, 2, 10)
TODAY = date(2017, 6, 1)
EFFECTIVE = date(2017, 5, 15)


def events(the_customer):
    return list(
        ChannelLockEvent.objects.filter(customer=the_customer)
        .order_by("effective_on", "id")
        .values_list("kind", "partner__code", "effective_on")
    )


@pytest.fixture
def locked():
    """A customer locked to ``first`` since 2017-02-10 (applied), and ``second``, another partner of its zone."""
    c, first, second = customer("FR"), partner("FR"), partner("DE")
    order(customer=c, partner=first, booked_on=LOCKED_ON)
    channel_locks_apply(as_of=date(2017, 3, 1))
    return c, first, second


@pytest.fixture
def staff():
    return UserFactory(is_staff=True)


@pytest.fixture
def freeze_today(monkeypatch):
    """The admin works on today's date: make it ``TODAY``."""
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args, **kwargs: TODAY)


def release(c, staff, effective_on=EFFECTIVE, today=TODAY, reason="Customer asked to buy direct"):
    return channel_lock_release(customer=c, reason=reason, effective_on=effective_on, staff_user=staff, today=today)


def transfer(c, to, staff, effective_on=EFFECTIVE, today=TODAY, reason="Incumbent ceased trading"):
    return channel_lock_transfer(
        customer=c, to_partner=to, reason=reason, effective_on=effective_on, staff_user=staff, today=today
    )


class TestRelease:
    def test_the_lock_ends_on_the_effective_date_and_not_before(self, locked, staff):
        c, first, _second = locked
        release(c, staff)

        assert channel_lock_on([c.pk], date(2017, 5, 14))[c.pk].partner_id == first.pk
        assert channel_lock_on([c.pk], EFFECTIVE) == {}
        assert channel_lock_on([c.pk], date(2018, 1, 1)) == {}
        on_dates = channel_locks_on_dates([(c.pk, date(2017, 5, 14)), (c.pk, EFFECTIVE), (c.pk, date(2018, 1, 1))])
        assert set(on_dates) == {(c.pk, date(2017, 5, 14))}

    def test_the_stored_lock_is_released_at_once_with_a_staff_event(self, locked, staff):
        c, first, _second = locked
        override = release(c, staff)

        lock = ChannelLock.objects.get(customer=c)
        assert (lock.released_on, lock.partner, lock.override) == (EFFECTIVE, first, override)
        assert events(c) == [(K.LOCKED, first.code, LOCKED_ON), (K.STAFF_RELEASED, first.code, EFFECTIVE)]
        assert ChannelLockEvent.objects.get(kind=K.STAFF_RELEASED).override == override

    def test_the_nightly_job_run_twice_writes_nothing_more(self, locked, staff):
        c, _first, _second = locked
        release(c, staff)
        before = (list(ChannelLock.objects.values()), list(ChannelLockEvent.objects.values()))

        channel_locks_apply(as_of=TODAY)
        channel_locks_apply(as_of=TODAY, force=True)
        channel_locks_apply(as_of=date(2017, 6, 2))

        assert (list(ChannelLock.objects.values()), list(ChannelLockEvent.objects.values())) == before

    def test_a_replay_from_scratch_releases_on_the_effective_date_not_before(self, locked, staff):
        c, first, _second = locked
        release(c, staff)
        ChannelLockEvent.objects.all().delete()
        ChannelLock.objects.all().delete()

        channel_locks_apply(as_of=date(2017, 5, 14), force=True)
        assert ChannelLock.objects.get(customer=c).released_on is None
        result = channel_locks_apply(as_of=EFFECTIVE, force=True)

        assert result["staff_released"] == 1
        assert ChannelLock.objects.get(customer=c).released_on == EFFECTIVE
        assert events(c) == [(K.LOCKED, first.code, LOCKED_ON), (K.STAFF_RELEASED, first.code, EFFECTIVE)]

    def test_an_order_booked_after_the_release_locks_again_as_a_new_lock(self, locked, staff):
        c, first, second = locked
        release(c, staff)
        order(customer=c, partner=second, booked_on=date(2017, 7, 1))

        assert channel_lock_on([c.pk], date(2017, 6, 30)) == {}
        assert channel_lock_on([c.pk], date(2017, 7, 1))[c.pk].partner_id == second.pk
        channel_locks_apply(as_of=date(2017, 7, 2))
        lock = ChannelLock.objects.get(customer=c)
        assert (lock.partner, lock.locked_on, lock.released_on, lock.expires_on, lock.override) == (
            second,
            date(2017, 7, 1),
            None,
            date(2020, 7, 1),
            None,
        )
        assert events(c)[-1] == (K.LOCKED, second.code, date(2017, 7, 1))

    def test_an_order_booked_on_or_before_the_effective_date_does_not_undo_it(self, locked, staff):
        c, first, _second = locked
        order(customer=c, partner=first, booked_on=EFFECTIVE)  # imported late, booked on the release day
        release(c, staff)

        assert channel_lock_on([c.pk], date(2017, 6, 10)) == {}

    def test_a_direct_order_after_the_release_is_not_routed_as_locked(self, locked, staff):
        c, first, second = locked
        release(c, staff)
        direct = order(customer=c, booked_on=date(2017, 5, 20), lines={"server": "500000.00"})
        before = order(customer=c, booked_on=date(2017, 5, 10), lines={"server": "500000.00"})

        routing_run(as_of=date(2017, 5, 21))

        assert RoutingCase.objects.get(order=direct).reason == RoutingCase.Reason.NOT_ROUTED
        case = RoutingCase.objects.get(order=before)
        assert (case.reason, case.incumbent) == (RoutingCase.Reason.LOCKED, first)

    def test_a_reason_is_required_and_the_customer_must_be_locked(self, locked, staff):
        c, _first, _second = locked
        with pytest.raises(ChannelLockError):
            release(c, staff, reason="  ")
        with pytest.raises(ChannelLockError):
            release(customer("FR"), staff)
        with pytest.raises(ChannelLockError):
            release(c, staff, effective_on=date(2017, 2, 9))  # before the lock's order
        with pytest.raises(ChannelLockError):
            release(c, staff, effective_on=date(2017, 6, 2))  # in the future
        assert not ChannelLockOverride.objects.exists()


class TestTransfer:
    def test_the_new_partner_is_incumbent_from_the_effective_date_with_the_expiry_kept(self, locked, staff):
        c, first, second = locked
        transfer(c, second, staff)

        assert channel_lock_on([c.pk], date(2017, 5, 14))[c.pk].partner_id == first.pk
        state = channel_lock_on([c.pk], EFFECTIVE)[c.pk]
        assert (state.partner_id, state.expires_on) == (second.pk, date(2020, 2, 10))
        assert channel_lock_on([c.pk], date(2020, 2, 9))[c.pk].partner_id == second.pk
        assert channel_lock_on([c.pk], date(2020, 2, 10)) == {}
        on_dates = channel_locks_on_dates([(c.pk, date(2017, 5, 14)), (c.pk, EFFECTIVE)])
        assert (on_dates[(c.pk, date(2017, 5, 14))].partner_id, on_dates[(c.pk, EFFECTIVE)].partner_id) == (
            first.pk,
            second.pk,
        )

    def test_the_stored_lock_and_history_follow_and_a_rerun_writes_nothing_twice(self, locked, staff):
        c, first, second = locked
        override = transfer(c, second, staff)
        lock = ChannelLock.objects.get(customer=c)
        assert (lock.partner, lock.locked_on, lock.expires_on, lock.released_on, lock.override) == (
            second,
            LOCKED_ON,
            date(2020, 2, 10),
            None,
            override,
        )
        before = (list(ChannelLock.objects.values()), list(ChannelLockEvent.objects.values()))

        channel_locks_apply(as_of=TODAY)
        channel_locks_apply(as_of=TODAY, force=True)

        assert (list(ChannelLock.objects.values()), list(ChannelLockEvent.objects.values())) == before
        assert events(c) == [(K.LOCKED, first.code, LOCKED_ON), (K.STAFF_TRANSFERRED, second.code, EFFECTIVE)]

        channel_locks_apply(as_of=date(2020, 2, 11))
        lock.refresh_from_db()
        assert (lock.released_on, lock.partner) == (date(2020, 2, 10), second)
        assert events(c)[-1] == (K.RELEASED, second.code, date(2020, 2, 10))

    def test_a_later_order_decides_again_by_the_normal_rules(self, locked, staff):
        c, first, second = locked
        transfer(c, second, staff)
        order(customer=c, partner=first, booked_on=date(2017, 8, 1))

        state = channel_lock_on([c.pk], date(2017, 8, 1))[c.pk]
        assert (state.partner_id, state.expires_on, state.override_id) == (first.pk, date(2020, 8, 1), None)
        channel_locks_apply(as_of=date(2017, 8, 2))
        lock = ChannelLock.objects.get(customer=c)
        assert (lock.partner, lock.locked_on, lock.expires_on, lock.override) == (
            first,
            LOCKED_ON,
            date(2020, 8, 1),
            None,
        )
        assert events(c)[-1] == (K.TRANSFERRED, first.code, date(2017, 8, 1))

    def test_an_order_booked_on_or_before_the_effective_date_keeps_the_new_incumbent(self, locked, staff):
        c, first, second = locked
        transfer(c, second, staff)
        order(customer=c, partner=first, booked_on=date(2017, 4, 1))  # imported late, booked before the transfer

        state = channel_lock_on([c.pk], TODAY)[c.pk]
        # The incumbent stays the one staff chose; the running expiry follows the orders up to the effective date.
        assert (state.partner_id, state.expires_on) == (second.pk, date(2020, 4, 1))

    def test_a_direct_order_after_the_transfer_is_offered_to_the_new_incumbent(self, locked, staff):
        c, first, second = locked
        transfer(c, second, staff)
        after = order(customer=c, booked_on=date(2017, 5, 20), lines={"server": "500000.00"})
        before = order(customer=c, booked_on=date(2017, 5, 10), lines={"server": "500000.00"})

        routing_run(as_of=date(2017, 5, 21))

        assert RoutingOffer.objects.get(case__order=after).partner == second
        assert RoutingCase.objects.get(order=after).incumbent == second
        assert RoutingOffer.objects.get(case__order=before).partner == first

    def test_the_new_partner_must_be_active_of_the_zone_and_not_the_incumbent(self, locked, staff):
        c, first, _second = locked
        with pytest.raises(ChannelLockError):
            transfer(c, first, staff)
        with pytest.raises(ChannelLockError):
            transfer(c, partner("US"), staff)
        with pytest.raises(ChannelLockError):
            transfer(c, partner("FR", active=False), staff)
        assert not ChannelLockOverride.objects.exists()

    def test_sql_and_python_decisions_agree_with_overrides(self, require_postgresql, locked, staff):
        c, first, second = locked
        other = customer("FR")
        order(customer=other, partner=first, booked_on=LOCKED_ON)
        channel_locks_apply(as_of=date(2017, 3, 1), force=True)
        transfer(c, second, staff)
        release(other, staff)
        order(customer=other, partner=second, booked_on=date(2017, 9, 1))
        states = []
        for reference in (False, True):
            ChannelLockEvent.objects.all().delete()
            ChannelLock.objects.all().delete()
            for day in (date(2017, 3, 1), EFFECTIVE, date(2017, 9, 2), date(2020, 2, 11)):
                channel_locks_refresh(as_of=day, reference=reference)
            states.append(
                (
                    list(ChannelLock.objects.order_by("customer").values_list(
                        "customer", "partner", "locked_on", "expires_on", "released_on", "override"
                    )),
                    sorted(ChannelLockEvent.objects.values_list(
                        "customer", "kind", "partner", "order", "override", "effective_on", "expires_on"
                    )),
                )
            )  # fmt: skip
        assert states[0] == states[1]


class TestAdmin:
    def lock_url(self, c, operation):
        return reverse(f"admin:deals_channellock_{operation}", args=[c.channel_lock.pk])

    def staff_client(self, client, *, permission=True):
        user = UserFactory(is_staff=True)
        codenames = ["view_channellock", *(["override_channellock"] if permission else [])]
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames, content_type__app_label="deals"))
        client.force_login(user)
        return user

    def test_release_asks_for_a_reason_then_releases_and_shows_who_and_why(self, client, locked, freeze_today):
        c, first, _second = locked
        user = self.staff_client(client)
        page = client.get(reverse("admin:deals_channellock_change", args=[c.channel_lock.pk]))
        assert "Release lock…" in page.content.decode() and "Transfer lock…" in page.content.decode()

        form = client.get(self.lock_url(c, "release"))
        missing = client.post(self.lock_url(c, "release"), {"reason": "", "effective_on": "2017-06-01"})
        done = client.post(self.lock_url(c, "release"), {"reason": "Fraud review", "effective_on": "2017-06-01"})

        assert form.status_code == 200 and "csrfmiddlewaretoken" in form.content.decode()
        assert missing.status_code == 200 and "reason" in missing.context["form"].errors
        assert done.status_code == 302
        assert ChannelLock.objects.get(customer=c).released_on == TODAY
        html = client.get(reverse("admin:deals_channellock_change", args=[c.channel_lock.pk])).content.decode()
        assert "released by staff" in html and "Fraud review" in html and user.email in html

    def test_transfer_offers_active_partners_of_the_zone_but_not_the_incumbent(self, client, locked, freeze_today):
        c, first, second = locked
        self.staff_client(client)
        far, inactive = partner("US"), partner("FR", active=False)

        form = client.get(self.lock_url(c, "transfer"))
        choices = set(form.context["form"].fields["to_partner"].queryset)
        refused = client.post(
            self.lock_url(c, "transfer"), {"to_partner": far.pk, "reason": "x", "effective_on": "2017-06-01"}
        )
        done = client.post(
            self.lock_url(c, "transfer"), {"to_partner": second.pk, "reason": "Merger", "effective_on": "2017-06-01"}
        )

        assert second in choices and first not in choices and far not in choices and inactive not in choices
        assert refused.status_code == 200 and refused.context["form"].errors
        assert done.status_code == 302
        assert ChannelLock.objects.get(customer=c).partner == second

    def test_staff_without_the_permission_and_non_staff_get_403(self, client, locked, freeze_today):
        c, _first, _second = locked
        self.staff_client(client, permission=False)
        page = client.get(reverse("admin:deals_channellock_change", args=[c.channel_lock.pk]))
        assert "Release lock…" not in page.content.decode()
        assert client.get(self.lock_url(c, "release")).status_code == 403
        assert (
            client.post(self.lock_url(c, "release"), {"reason": "x", "effective_on": "2017-06-01"}).status_code == 403
        )

        client.force_login(partner_user(partner("FR"), role="admin"))
        assert client.post(self.lock_url(c, "transfer"), {"reason": "x"}).status_code == 403
        assert not ChannelLockOverride.objects.exists()

    def test_the_form_posts_with_csrf(self, locked, freeze_today):
        from django.test import Client

        c, _first, _second = locked
        client = Client(enforce_csrf_checks=True)
        self.staff_client(client)
        response = client.post(self.lock_url(c, "release"), {"reason": "x", "effective_on": "2017-06-01"})
        assert response.status_code == 403 and not ChannelLockOverride.objects.exists()


class TestPartnerPages:
    def test_no_partner_page_shows_the_staff_reason(self, client, locked, staff):
        c, first, second = locked
        transfer(c, second, staff, reason="Secret note naming ZZPARTNER")
        order(customer=c, booked_on=date(2017, 5, 20), lines={"server": "500.00"})
        routing_run(as_of=date(2017, 5, 21))
        for the_partner in (first, second):
            client.force_login(partner_user(the_partner, role="admin"))
            for name in ("dashboard", "deals:order_list", "deals:routed_list", "deals:registration_list"):
                response = client.get(reverse(name))
                assert response.status_code == 200, name
                assert "ZZPARTNER" not in response.content.decode(), name
