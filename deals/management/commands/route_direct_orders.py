"""``route_direct_orders [--as-of YYYY-MM-DD] [--force]``: the nightly routing job, for one date."""

from deals.routing.services import route_direct_orders
from portal.jobcommand import DatedJobCommand


class Command(DatedJobCommand):
    help = "Route direct orders booked up to a date to the channel and time out unanswered offers (once per date)."
    force_help = "re-run a date already routed (same result)"
    already_done = "Direct orders were already routed on {as_of}"

    def run(self, *, as_of, force):
        return route_direct_orders(as_of=as_of, force=force)

    def summary(self, *, as_of, result):
        return (
            f"Direct orders routed on {as_of.isoformat()}: {result['locked']} locked, "
            f"{result['registration']} registration, {result['under_ceiling']} under the ceiling, "
            f"{result['not_routed']} not routed; {result['offers']} offers, {result['unassigned']} with nobody "
            f"to offer to; {result['expired_offers']} offers timed out."
        )
