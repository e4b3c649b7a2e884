"""What the program writes in a registration's history, as a kind and its parameters, worded at display time.

An event stores ``kind`` (a key of ``EVENT_MESSAGES``) and ``params`` (JSON: ISO dates, amounts as strings); the
page or email renders the sentence in its reader's language. ``note`` stays the words a person typed (a staff
note, an extension reason): shown after the sentence, as written. An event of no kind is only its note — which
is also how events written before kinds existed keep their English text.
"""

from datetime import date
from decimal import Decimal, InvalidOperation

from django.template.defaultfilters import floatformat
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from portal.money import CURRENCY

CONFLICT = "conflict"
AUTO_APPROVED = "auto_approved"
ARBITRATION_LOST = "arbitration_lost"
ARBITRATION_WON = "arbitration_won"
ARBITRATION_KEPT = "arbitration_kept"
EXTENSION_REQUESTED = "extension_requested"
EXTENSION_GRANTED = "extension_granted"
EXTENSION_REFUSED = "extension_refused"
WON = "won"
EXPIRED = "expired"
RESUBMITTED = "resubmitted"
RESUBMITTED_CONFLICT = "resubmitted_conflict"

# kind → message; every placeholder is named and filled by ``render_params`` (dates and amounts localised).
EVENT_MESSAGES = {
    CONFLICT: _("Conflict: another partner registered this opportunity first; awaiting arbitration."),
    AUTO_APPROVED: _("Approved automatically: %(total)s is within the %(tier)s limit of %(limit)s."),
    ARBITRATION_LOST: _("Another registration was chosen for this opportunity."),
    ARBITRATION_WON: _("Arbitration: this registration was chosen."),
    ARBITRATION_KEPT: _("Arbitration: this registration keeps its protection."),
    EXTENSION_REQUESTED: _("Extension requested."),
    EXTENSION_GRANTED: _("Extension granted: protected until %(until)s."),
    EXTENSION_REFUSED: _("Extension refused."),
    WON: _("Won with the order booked on %(booked_on)s."),
    EXPIRED: _("Protection ended (nightly run of %(run_of)s)."),
    RESUBMITTED: _(
        "Corrected and resubmitted after its rejection (first submitted on %(first_submitted_on)s); "
        "its time priority is this resubmission."
    ),
    RESUBMITTED_CONFLICT: _(
        "Corrected and resubmitted after its rejection (first submitted on %(first_submitted_on)s). "
        "Conflict: another partner registered this opportunity first; awaiting arbitration."
    ),
}

# How each parameter is shown: dates in the language's date format, amounts with their currency.
DATE_PARAMS = frozenset({"until", "booked_on", "run_of", "first_submitted_on"})
MONEY_PARAMS = frozenset({"total", "limit"})


def _money(value) -> str:
    try:
        return f"{floatformat(Decimal(str(value)), '2g')}\u00a0{CURRENCY}"
    except (InvalidOperation, ValueError):
        return str(value)


def _date(value) -> str:
    try:
        return date_format(date.fromisoformat(str(value)), "DATE_FORMAT")
    except ValueError:
        return str(value)


def render_params(params: dict) -> dict:
    """The parameters as the active language shows them."""
    shown = {}
    for name, value in (params or {}).items():
        if name in DATE_PARAMS:
            shown[name] = _date(value)
        elif name in MONEY_PARAMS:
            shown[name] = _money(value)
        else:
            shown[name] = value
    return shown


def event_text(kind: str, params: dict | None, note: str = "") -> str:
    """The sentence of ``kind`` in the active language, followed by the person's ``note`` (if any)."""
    message = EVENT_MESSAGES.get(kind)
    if message is None:
        return note
    try:
        text = str(message) % render_params(params or {})
    except (KeyError, TypeError, ValueError):  # parameters of an older wording: the message without them
        text = str(message)
    return f"{text} {note}".strip() if note else text
