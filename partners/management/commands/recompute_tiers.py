"""``recompute_tiers [--as-of YYYY-MM-DD] [--force]``: the nightly tier evaluation, for one date."""

from partners.tiers.engine import tier_recompute_all
from portal.jobcommand import DatedJobCommand


class Command(DatedJobCommand):
    help = "Evaluate every active partner's tier on a date (once per date; --force re-runs it, same result)."
    as_of_help = "the evaluation date, YYYY-MM-DD (default: today)"
    force_help = "re-run a date that was already evaluated"
    already_done = "Tiers were already evaluated on {as_of}"

    def run(self, *, as_of, force):
        return tier_recompute_all(as_of=as_of, force=force)

    def summary(self, *, as_of, result):
        return (
            f"Tiers evaluated on {as_of.isoformat()}: {result['evaluated']} partners, "
            f"{result['changes']} changes, {result['at_risk']} at risk."
        )
