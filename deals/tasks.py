"""Periodic deal jobs (scheduled in ``portal/celery.py``): thin wrappers taking an optional ISO date."""

from celery import shared_task
from django.utils import timezone

from portal.celery import IDEMPOTENT
from portal.fiscal import parse_iso_date

from .registrations import services as registrations
from .routing.locks import channel_locks_apply
from .routing.services import route_direct_orders


def _as_of(as_of: str | None):
    return parse_iso_date(as_of) if as_of else timezone.localdate()


@shared_task(name="deals.tasks.registrations_expire_nightly", **IDEMPOTENT)
def registrations_expire_nightly(as_of: str | None = None, force: bool = False):
    """Expire ended registrations, send the protection reminders and re-check wins on ``as_of``, once per date."""
    return registrations.registrations_expire_once(as_of=_as_of(as_of), force=force)


@shared_task(name="deals.tasks.channel_locks_apply_nightly", **IDEMPOTENT)
def channel_locks_apply_nightly(as_of: str | None = None, force: bool = False):
    """Lock customers to their incumbent and release expired locks on ``as_of``, once per date."""
    return channel_locks_apply(as_of=_as_of(as_of), force=force)


@shared_task(name="deals.tasks.route_direct_orders_nightly", **IDEMPOTENT)
def route_direct_orders_nightly(as_of: str | None = None, force: bool = False):
    """Route the direct orders booked up to ``as_of`` and time out unanswered offers, once per date."""
    return route_direct_orders(as_of=_as_of(as_of), force=force)
