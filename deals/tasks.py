"""Periodic deal jobs (scheduled in ``portal/celery.py``): thin wrappers taking an optional ISO date."""

from portal.jobs import dated_job_task

from .registrations import services as registrations
from .routing.locks import channel_locks_apply
from .routing.services import route_direct_orders


@dated_job_task("deals.tasks.registrations_expire_nightly")
def registrations_expire_nightly(*, as_of, force=False):
    """Expire ended registrations, send the protection reminders and re-check wins on ``as_of``, once per date."""
    return registrations.registrations_expire_once(as_of=as_of, force=force)


@dated_job_task("deals.tasks.channel_locks_apply_nightly")
def channel_locks_apply_nightly(*, as_of, force=False):
    """Lock customers to their incumbent and release expired locks on ``as_of``, once per date."""
    return channel_locks_apply(as_of=as_of, force=force)


@dated_job_task("deals.tasks.route_direct_orders_nightly")
def route_direct_orders_nightly(*, as_of, force=False):
    """Route the direct orders booked up to ``as_of`` and time out unanswered offers, once per date."""
    return route_direct_orders(as_of=as_of, force=force)
