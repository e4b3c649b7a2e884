"""``apply_channel_locks [--as-of YYYY-MM-DD] [--force]``: the nightly channel-lock job, for one date."""

from deals.routing.locks import channel_locks_apply
from portal.jobcommand import DatedJobCommand


class Command(DatedJobCommand):
    help = "Lock customers to their incumbent partner and release expired locks as of a date (once per date)."
    force_help = "re-run a date already applied (same result)"
    already_done = "Channel locks were already applied on {as_of}"

    def run(self, *, as_of, force):
        return channel_locks_apply(as_of=as_of, force=force)

    def summary(self, *, as_of, result):
        return (
            f"Channel locks applied on {as_of.isoformat()}: {result['locked']} locked, "
            f"{result['extended']} extended, {result['transferred']} transferred, {result['released']} released."
        )
