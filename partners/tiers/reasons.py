"""Words for what the tier engine stores as data: requirement path names and at-risk reasons, per language.

The engine stores an at-risk reason as ``calculations.at_risk_details`` (a kind and its parameters); a page or
email words it here in its reader's language, with that language's date and number formats.
"""

from datetime import date
from decimal import Decimal

from django.template.defaultfilters import floatformat
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal.money import CURRENCY

# The seed paths (DESIGN §3); a path staff add in the admin is shown by its slug.
PATH_LABELS = {
    "revenue": _("revenue"),
    "training": _("training"),
}

AT_RISK_MESSAGES = {
    "no_path": _(
        "Your figures meet no path of %(tier)s: they reach %(computed)s, and the annual review on %(day)s "
        "will apply it."
    ),
}


def path_label(path: str) -> str:
    """The name of a requirement path in the active language."""
    return str(PATH_LABELS.get(path, path))


def tier_label(code: str) -> str:
    """A tier's name from its code ("titanium_black" → "Titanium Black"): brand names, the same in every language."""
    return code.replace("_", " ").title()


def _amount(value) -> str:
    return f"{floatformat(Decimal(str(value)), '2g')}\u00a0{CURRENCY}"


def _shortfalls(path: dict) -> list[str]:
    parts = []
    if Decimal(str(path.get("revenue_missing") or 0)):
        parts.append(_("%(amount)s of qualifying revenue") % {"amount": _amount(path["revenue_missing"])})
    if Decimal(str(path.get("services_missing") or 0)):
        parts.append(_("%(amount)s of services revenue") % {"amount": _amount(path["services_missing"])})
    if people := path.get("people_missing"):
        parts.append(ngettext("%(count)d certified person", "%(count)d certified people", people) % {"count": people})
    if competencies := path.get("competencies_missing"):
        parts.append(ngettext("%(count)d competency", "%(count)d competencies", competencies) % {"count": competencies})
    return parts


def at_risk_lines(details: dict) -> list[str]:
    """The at-risk reason ``details`` in the active language: the headline, then one line per path."""
    message = AT_RISK_MESSAGES.get(details.get("kind"))
    if message is None:
        return []
    lines = [
        str(message)
        % {
            "tier": tier_label(details.get("tier", "")),
            "computed": tier_label(details.get("computed", "")),
            "day": date_format(date.fromisoformat(details["review_on"]), "DATE_FORMAT"),
        }
    ]
    for path in details.get("paths", []):
        lines.append(
            _("Path “%(path)s”: missing %(missing)s.")
            % {"path": path_label(path.get("path", "")), "missing": ", ".join(_shortfalls(path))}
        )
    return lines
