"""Periodic tier jobs (scheduled in ``portal/celery.py``): thin wrappers taking an optional ISO date."""

from celery import shared_task
from django.utils import timezone

from portal.celery import IDEMPOTENT
from portal.fiscal import parse_iso_date

from .tiers import engine


def _as_of(as_of: str | None):
    return parse_iso_date(as_of) if as_of else timezone.localdate()


@shared_task(name="partners.tasks.tier_recompute_nightly", **IDEMPOTENT)
def tier_recompute_nightly(as_of: str | None = None, force: bool = False):
    """Evaluate every active partner's tier on ``as_of`` (default today), once per date."""
    return engine.tier_recompute_all(as_of=_as_of(as_of), force=force)


@shared_task(name="partners.tasks.titanium_black_expire_nightly", **IDEMPOTENT)
def titanium_black_expire_nightly(as_of: str | None = None, force: bool = False):
    """End the Titanium Black awards whose year is over on ``as_of`` (default today), once per date."""
    return engine.titanium_black_expire_due(as_of=_as_of(as_of), force=force)
