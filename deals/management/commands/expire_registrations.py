"""``expire_registrations [--as-of YYYY-MM-DD] [--force]``: the nightly registration job, for one date."""

from deals.registrations.services import registrations_expire_once
from portal.jobcommand import DatedJobCommand


class Command(DatedJobCommand):
    help = (
        "Expire approved registrations whose protection ended, send the reminders due (the program's reminder "
        "days before the end) and re-check wins from late orders (once per date; --force re-runs it with the "
        "same result)."
    )
    as_of_help = "the date of the run, YYYY-MM-DD (default: today)"
    force_help = "re-run a date that already ran"
    already_done = "Registrations were already processed for {as_of}"

    def run(self, *, as_of, force):
        return registrations_expire_once(as_of=as_of, force=force)

    def summary(self, *, as_of, result):
        return (
            f"Registrations on {as_of.isoformat()}: {result['expired']} expired, {result['won']} won, "
            f"{result['reminders']} reminder emails queued."
        )
