"""Channel locks (DESIGN §5): a partner order locks its customer for 36 months from its booked date, later orders
extend it, expired locks are released by the nightly job, and the history is kept."""

from datetime import date

import pytest
from django.core.management import CommandError, call_command

from deals.models import ChannelLock, ChannelLockEvent
from deals.routing.locks import channel_lock_on, channel_locks_apply, channel_locks_refresh
from tests.factories.routing import customer, order, partner

pytestmark = pytest.mark.django_db
K = ChannelLockEvent.Kind


def events(the_customer):
    return list(
        ChannelLockEvent.objects.filter(customer=the_customer)
        .order_by("effective_on", "id")
        .values_list("kind", "partner__code", "effective_on")
    )


class TestLockWindow:
    def test_an_order_booked_exactly_36_months_before_no_longer_locks_one_day_later_still_does(self):
        day = date(2017, 3, 10)
        old, recent = customer(), customer()
        p = partner()
        order(customer=old, partner=p, booked_on=date(2014, 3, 10))
        order(customer=recent, partner=p, booked_on=date(2014, 3, 11))

        locks = channel_lock_on([old.pk, recent.pk], day)

        assert old.pk not in locks
        assert locks[recent.pk].partner_id == p.pk
        assert locks[recent.pk].expires_on == date(2017, 3, 11)

    def test_the_lock_starts_on_the_booked_date_not_before(self):
        c, p = customer(), partner()
        order(customer=c, partner=p, booked_on=date(2017, 3, 10))

        assert channel_lock_on([c.pk], date(2017, 3, 9)) == {}
        assert c.pk in channel_lock_on([c.pk], date(2017, 3, 10))

    def test_month_end_clamping_is_exact(self):
        # 29 Feb 2016 + 36 months = 28 Feb 2019 (clamped): locked on the 27th, free on the 28th.
        c, p = customer(), partner()
        order(customer=c, partner=p, booked_on=date(2016, 2, 29))

        assert c.pk in channel_lock_on([c.pk], date(2019, 2, 27))
        assert c.pk not in channel_lock_on([c.pk], date(2019, 2, 28))

    def test_direct_orders_and_credits_alone_do_not_lock(self):
        c, p = customer(), partner()
        original = order(customer=c, partner=p, booked_on=date(2013, 1, 10))
        order(customer=c, booked_on=date(2017, 1, 5))  # direct, not accepted by anyone
        order(customer=c, partner=p, booked_on=date(2016, 6, 1), lines={"server": "-10.00"}, credits=original)

        assert channel_lock_on([c.pk], date(2017, 2, 1)) == {}

    def test_the_latest_order_makes_the_incumbent(self):
        c, first, second = customer(), partner(), partner()
        order(customer=c, partner=first, booked_on=date(2016, 1, 1))
        order(customer=c, partner=second, booked_on=date(2016, 5, 1))

        assert channel_lock_on([c.pk], date(2017, 1, 1))[c.pk].partner_id == second.pk
        assert channel_lock_on([c.pk], date(2016, 4, 30))[c.pk].partner_id == first.pk


class TestApply:
    def test_lock_extend_transfer_and_release_write_rows_and_history(self):
        c, first, second = customer(), partner(), partner()
        order(customer=c, partner=first, booked_on=date(2017, 2, 10))
        channel_locks_apply(as_of=date(2017, 2, 28))
        lock = ChannelLock.objects.get(customer=c)
        assert (lock.partner, lock.locked_on, lock.expires_on, lock.released_on) == (
            first,
            date(2017, 2, 10),
            date(2020, 2, 10),
            None,
        )

        order(customer=c, partner=first, booked_on=date(2017, 6, 1))
        channel_locks_apply(as_of=date(2017, 6, 2))
        order(customer=c, partner=second, booked_on=date(2017, 9, 1))
        channel_locks_apply(as_of=date(2017, 9, 2))
        lock.refresh_from_db()
        assert (lock.partner, lock.locked_on, lock.expires_on) == (second, date(2017, 2, 10), date(2020, 9, 1))

        channel_locks_apply(as_of=date(2020, 8, 31))
        lock.refresh_from_db()
        assert lock.released_on is None
        channel_locks_apply(as_of=date(2020, 9, 5))
        lock.refresh_from_db()
        assert lock.released_on == date(2020, 9, 1)
        assert events(c) == [
            (K.LOCKED, first.code, date(2017, 2, 10)),
            (K.EXTENDED, first.code, date(2017, 6, 1)),
            (K.TRANSFERRED, second.code, date(2017, 9, 1)),
            (K.RELEASED, second.code, date(2020, 9, 1)),
        ]

    def test_a_new_order_after_the_release_locks_again_from_its_date(self):
        c, p = customer(), partner()
        order(customer=c, partner=p, booked_on=date(2014, 1, 15))
        channel_locks_apply(as_of=date(2016, 1, 1))
        channel_locks_apply(as_of=date(2017, 2, 1))
        order(customer=c, partner=p, booked_on=date(2017, 3, 1))
        channel_locks_apply(as_of=date(2017, 3, 2))

        lock = ChannelLock.objects.get(customer=c)
        assert (lock.locked_on, lock.released_on, lock.expires_on) == (date(2017, 3, 1), None, date(2020, 3, 1))
        assert [kind for kind, _code, _on in events(c)] == [K.LOCKED, K.RELEASED, K.LOCKED]

    def test_claimed_once_per_date_and_a_forced_rerun_changes_nothing(self):
        c, p = customer(), partner()
        order(customer=c, partner=p, booked_on=date(2017, 2, 10))
        first = channel_locks_apply(as_of=date(2017, 3, 1))
        before = (list(ChannelLock.objects.values()), list(ChannelLockEvent.objects.values()))

        assert first["locked"] == 1
        assert channel_locks_apply(as_of=date(2017, 3, 1)) is None
        again = channel_locks_apply(as_of=date(2017, 3, 1), force=True)

        assert again == {"as_of": "2017-03-01", "locked": 0, "extended": 0, "transferred": 0, "released": 0}
        assert (list(ChannelLock.objects.values()), list(ChannelLockEvent.objects.values())) == before

    def test_a_replay_of_an_older_date_does_not_rewind_the_current_state(self):
        c, p = customer(), partner()
        order(customer=c, partner=p, booked_on=date(2017, 2, 10))
        order(customer=c, partner=p, booked_on=date(2017, 8, 10))
        channel_locks_apply(as_of=date(2017, 9, 1))

        channel_locks_apply(as_of=date(2017, 3, 1))

        assert ChannelLock.objects.get(customer=c).last_booked_on == date(2017, 8, 10)

    def test_set_based_query_count_does_not_grow_with_customers(self, django_assert_max_num_queries):
        p = partner()
        for _ in range(30):
            order(customer=customer(), partner=p, booked_on=date(2017, 2, 10))

        with django_assert_max_num_queries(12):
            result = channel_locks_refresh(as_of=date(2017, 3, 1))

        assert result["locked"] == 30
        assert ChannelLockEvent.objects.count() == 30


class TestCommand:
    def test_bad_date_is_an_error_and_changes_nothing(self):
        order(customer=customer(), partner=partner(), booked_on=date(2017, 2, 10))

        with pytest.raises(CommandError, match="as-of"):
            call_command("apply_channel_locks", "--as-of", "2017-02-30")

        assert not ChannelLock.objects.exists()

    def test_command_applies_and_reports(self, capsys):
        order(customer=customer(), partner=partner(), booked_on=date(2017, 2, 10))

        call_command("apply_channel_locks", "--as-of", "2017-03-01")

        assert "1 locked" in capsys.readouterr().out
        assert ChannelLock.objects.count() == 1


def test_locks_on_many_dates_agree_with_the_lock_of_each_day():
    from deals.routing.locks import channel_locks_on_dates

    c, first, second = customer(), partner(), partner()
    order(customer=c, partner=first, booked_on=date(2014, 3, 11))
    order(customer=c, partner=second, booked_on=date(2016, 2, 29))
    days = [date(2014, 3, 10), date(2014, 3, 11), date(2016, 2, 28), date(2016, 2, 29), date(2019, 2, 27),
            date(2019, 2, 28)]  # fmt: skip

    together = channel_locks_on_dates({(c.pk, day) for day in days})

    for day in days:
        assert together.get((c.pk, day)) == channel_lock_on([c.pk], day).get(c.pk), day
    assert together[(c.pk, date(2016, 2, 28))].partner_id == first.pk
    assert (c.pk, date(2019, 2, 28)) not in together
