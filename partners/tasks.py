"""Periodic tier jobs (scheduled in ``portal/celery.py``): thin wrappers taking an optional ISO date."""

from portal.chunks import dispatch_to_workers
from portal.jobs import dated_job_task

from .tiers import engine


@dated_job_task("partners.tasks.tier_recompute_nightly")
def tier_recompute_nightly(*, as_of, force=False):
    """Evaluate every active partner's tier on ``as_of`` (default today), once per date: on workers, in chunks
    spread over them; in-process (no broker), here."""
    return engine.tier_recompute_all(as_of=as_of, force=force, dispatch=dispatch_to_workers())


@dated_job_task("partners.tasks.titanium_black_expire_nightly")
def titanium_black_expire_nightly(*, as_of, force=False):
    """End the Titanium Black awards whose year is over on ``as_of`` (default today), once per date."""
    return engine.titanium_black_expire_due(as_of=as_of, force=force)
