"""Every word in the reader's language (issue 12): the catalogue holds every message the portal can show, and
what the program stores (event kinds, at-risk reasons, subjects, invitations, dates) is worded per reader."""

import ast
import datetime
import importlib
import io
import re
import tokenize
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation.template import templatize

from deals.registrations import events
from partners import calculations as calc
from partners.models import SEED_CERTIFICATION_NAMES, Certification
from partners.services import partner_create
from partners.tiers.reasons import AT_RISK_MESSAGES, PATH_LABELS, at_risk_lines, path_label
from portal.emails import email_enqueue, outbox_render
from portal.models import OutboxEmail
from tests.factories import MembershipFactory, PartnerFactory, UserFactory
from tests.factories.partners import PASSWORD
from tests.factories.registrations import submit

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "fr" / "LC_MESSAGES" / "django.po"
APPS = ("deals", "partners", "rebates", "portal")
GETTEXT = {
    "_": (None, 0),
    "gettext": (None, 0),
    "gettext_lazy": (None, 0),
    "ngettext": (None, 0),
    "ngettext_lazy": (None, 0),
    "pgettext": (0, 1),
    "pgettext_lazy": (0, 1),
    "npgettext": (0, 1),
    "npgettext_lazy": (0, 1),
}


# --- the catalogue ----------------------------------------------------------------------------------------------


def _po_string(lines: list[str]) -> str:
    return "".join(ast.literal_eval(line) for line in lines)


def french_catalogue() -> dict[tuple[str | None, str], tuple[list[str], bool]]:
    """(context, msgid) → (every msgstr, fuzzy) of the French .po file, read without polib."""
    catalogue = {}
    for block in PO.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, list[str]] = {}
        current = None
        fuzzy = False
        for line in block.splitlines():
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            if line.startswith("#") or not line.strip():
                continue
            if line.startswith('"'):
                fields[current].append(line)
                continue
            current, _space, value = line.partition(" ")
            fields[current] = [value]
        if "msgid" not in fields:
            continue
        msgid = _po_string(fields["msgid"])
        context = _po_string(fields["msgctxt"]) if "msgctxt" in fields else None
        strings = [_po_string(value) for key, value in fields.items() if key.startswith("msgstr")]
        catalogue[(context, msgid)] = (strings, fuzzy)
    return catalogue


def _python_messages(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in GETTEXT):
            continue
        context_at, msgid_at = GETTEXT[node.func.id]
        args = node.args
        if len(args) <= msgid_at or not all(
            isinstance(arg, ast.Constant) and isinstance(arg.value, str) for arg in args[: msgid_at + 1]
        ):
            continue
        context = args[context_at].value if context_at is not None else None
        yield f"{path.relative_to(ROOT)}:{node.lineno}", context, args[msgid_at].value


def _template_messages(path: Path):
    """The messages of a template, from Django's own ``templatize`` (what ``makemessages`` reads)."""
    source = templatize(path.read_text(encoding="utf-8"), origin=str(path))
    # templatize keeps a template's indentation, which is not Python's (xgettext does not mind, tokenize does); each
    # message is one ``gettext(%r)`` on one line, so no message spans the lines stripped here.
    source = "\n".join(line.lstrip() for line in source.splitlines())
    tokens = [token for token in tokenize.generate_tokens(io.StringIO(source).readline) if token.type != tokenize.NL]
    for index, token in enumerate(tokens[:-1]):
        if token.type != tokenize.NAME or token.string not in GETTEXT or tokens[index + 1].string != "(":
            continue
        strings = []
        for follower in tokens[index + 2 :]:
            if follower.type == tokenize.STRING:
                strings.append(ast.literal_eval(follower.string))
            elif follower.string == ")":
                break
        context_at, msgid_at = GETTEXT[token.string]
        if len(strings) > msgid_at:
            context = strings[context_at] if context_at is not None else None
            yield f"{path.relative_to(ROOT)}:{token.start[0]}", context, strings[msgid_at]


def portal_messages():
    """Every message of the apps' Python code (migrations and tests aside) and of every template."""
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield from _python_messages(path)
    for path in sorted((ROOT / "templates").rglob("*")):
        if path.suffix in {".html", ".txt"}:
            yield from _template_messages(path)


def stored_kind_messages():
    """The words of what the program stores as data: event kinds, at-risk reasons, paths, seed names, prefix."""
    for kind, message in events.EVENT_MESSAGES.items():
        yield f"event kind {kind}", None, message._args[0]
    for kind, message in AT_RISK_MESSAGES.items():
        yield f"at-risk kind {kind}", None, message._args[0]
    for path, label in PATH_LABELS.items():
        yield f"path {path}", None, label._args[0]
    for code, (english, _translated) in SEED_CERTIFICATION_NAMES.items():
        yield f"certification {code}", None, english
    yield "email subject prefix", None, "[Partner Portal]"


def test_the_scan_finds_messages_of_templates_emails_python_and_stored_kinds():
    """The test below cannot pass by reading nothing: each kind of source yields the messages it should."""
    found = {msgid for _where, _context, msgid in portal_messages()}
    assert {"Dashboard", "Withdraw", "Hello,", "Choose a role."} <= found
    assert any("You have been invited to join %(partner)s" in msgid for msgid in found)  # an email body
    assert len(list(stored_kind_messages())) >= len(events.EVENT_MESSAGES) + len(SEED_CERTIFICATION_NAMES)


def test_every_message_a_reader_can_meet_has_a_french_translation():
    """A string in a template, an email, the Python code or a stored kind that is missing from the French
    catalogue, left empty or fuzzy, fails here with where it is."""
    catalogue = french_catalogue()
    missing = []
    for where, context, msgid in [*portal_messages(), *stored_kind_messages()]:
        strings, fuzzy = catalogue.get((context, msgid), ([], False))
        if fuzzy or not strings or not all(strings):
            missing.append(f"{where}: {msgid!r}")
    assert missing == [], "\n".join(sorted(set(missing))[:40])


def test_every_kind_the_services_write_has_its_message():
    """A kind constant without a message would show nothing: every one of ``events`` is in the registry."""
    kinds = {value for name, value in vars(events).items() if name.isupper() and isinstance(value, str)}
    kinds.discard(events.CURRENCY)
    assert kinds == set(events.EVENT_MESSAGES)


# --- stored kinds, worded per reader ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_auto_approval_event_reads_in_french_with_french_amounts():
    registration = submit(PartnerFactory(tier="gold"), lines={"server": "50000.00"}).registration
    event = registration.events.last()
    assert (event.kind, event.params) == (
        "auto_approved",
        {"total": "50000.00", "tier": "Gold", "limit": "50000.00"},
    )
    with translation.override("fr"):
        french = event.text
    with translation.override("en"):
        english = event.text
    assert re.search(r"50\s000,00\xa0USD", french), french
    assert french != english and "Gold" in french
    assert english == "Approved automatically: 50,000.00\xa0USD is within the Gold limit of 50,000.00\xa0USD."


@pytest.mark.django_db
def test_the_registration_page_shows_the_history_in_the_readers_language():
    membership = MembershipFactory(role="sales", user__language="fr")
    registration = submit(membership.partner, user=membership.user, lines={"server": "10.00"}).registration
    registration.events.create(
        from_status="approved", to_status="won", kind=events.WON, params={"booked_on": "2017-06-09"}
    )
    client = Client()
    client.force_login(membership.user)
    page = client.get(reverse("deals:registration_detail", kwargs={"number": registration.number})).content.decode()
    assert "9 juin 2017" in page and "2017-06-09" not in page
    with translation.override("fr"):
        assert events.event_text(events.WON, {"booked_on": "2017-06-09"}) in page


def test_the_old_english_sentences_map_to_kinds_and_unknown_text_stays_a_note():
    migration = importlib.import_module("deals.migrations.0009_event_kinds")
    assert migration.recognise("Auto-approved: 5000.00 ≤ Gold limit 50000.00.") == (
        "auto_approved",
        {"total": "5000.00", "tier": "Gold", "limit": "50000.00"},
        "",
    )
    assert migration.recognise("Extension requested: PO delayed") == ("extension_requested", {}, "PO delayed")
    assert migration.recognise("Extension granted: protected until 2017-10-29. OK") == (
        "extension_granted",
        {"until": "2017-10-29"},
        "OK",
    )
    assert migration.recognise("Arbitration: Another registration was chosen for this opportunity. Sorry") == (
        "arbitration_lost",
        {},
        "Sorry",
    )
    assert migration.recognise("Arbitration: customer confirmed") == ("arbitration_won", {}, "customer confirmed")
    assert migration.recognise("Arbitration: kept") == ("arbitration_kept", {}, "")
    assert migration.recognise("Won with order booked on 2017-06-09") == ("won", {"booked_on": "2017-06-09"}, "")
    assert migration.recognise("Protection ended (run of 2017-09-01)") == ("expired", {"run_of": "2017-09-01"}, "")
    assert migration.recognise("Customer already works with us") is None


def _at_risk_details():
    requirement = calc.RequirementPath(tier="gold", path="training", min_revenue=Decimal("750000"))
    computation = calc.TierComputation(
        tier="authorized",
        figures=calc.TierFigures(qualifying_revenue=Decimal("500000.00")),
        ranks={"authorized": 1, "gold": 2, "platinum": 3, "titanium": 4, "titanium_black": 5},
        requirements=(requirement,),
    )
    return calc.at_risk_details(current="gold", computed=computation, review_on=datetime.date(2018, 2, 1))


def test_an_at_risk_reason_is_data_worded_in_french_with_a_french_date():
    details = _at_risk_details()
    assert details["paths"] == [
        {
            "path": "training",
            "revenue_missing": "250000.00",
            "services_missing": "0.00",
            "people_missing": 0,
            "competencies_missing": 0,
        }
    ]
    with translation.override("fr"):
        lines = at_risk_lines(details)
        assert path_label("training") != "training"
    assert "1 février 2018" in lines[0] and "2018-02-01" not in lines[0]
    assert "250" in lines[1] and path_label("training") not in ("", None)
    with translation.override("en"):
        assert at_risk_lines(details)[1] == "Path “training”: missing 250,000.00\xa0USD of qualifying revenue."


@pytest.mark.django_db
def test_the_dashboard_shows_the_at_risk_reason_in_french():
    membership = MembershipFactory(role="admin", user__language="fr")
    partner = membership.partner
    partner.at_risk, partner.at_risk_reason, partner.at_risk_details = True, "English text", _at_risk_details()
    partner.save(update_fields=["at_risk", "at_risk_reason", "at_risk_details"])
    client = Client()
    client.force_login(membership.user)
    page = client.get(reverse("dashboard")).content.decode()
    assert "1 février 2018" in page and "English text" not in page


@pytest.mark.django_db
def test_seed_certification_names_are_translated_and_staff_names_are_kept():
    certification = Certification.objects.get(code="TECH-DP")
    with translation.override("fr"):
        assert certification.display_name != "Technical — Data protection"
        certification.name = "Data Protection Implementation Engineer"
        assert certification.display_name == "Data Protection Implementation Engineer"


# --- emails, sign-in, dates -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_french_readers_subject_prefix_is_french():
    french = email_enqueue(
        key="t:fr", to="a@example.com", language="fr", template="partners/email/invitation",
        context={"partner": PartnerFactory(), "invitation": None, "url": "x"},
    )  # fmt: skip
    english = email_enqueue(
        key="t:en", to="b@example.com", language="en", template="partners/email/invitation",
        context={"partner": PartnerFactory(), "invitation": None, "url": "x"},
    )  # fmt: skip
    outbox_render()  # rendered as the send task renders it (not sent)
    french.refresh_from_db(), english.refresh_from_db()
    assert french.subject.startswith("[Portail partenaires] ")
    assert english.subject.startswith("[Partner Portal] ")


@pytest.mark.django_db
def test_a_french_partners_invitation_sent_by_english_staff_is_in_french():
    staff = UserFactory(is_staff=True, language="en")
    partner_create(code="FR001", name="Atelier SARL", country="FR", admin_email="new@atelier.example", created_by=staff)
    partner_create(code="US001", name="Acme Inc", country="US", admin_email="new@acme.example", created_by=staff)
    outbox_render()  # rendered as the send task renders it (not sent)
    french = OutboxEmail.objects.get(to=["new@atelier.example"])
    english = OutboxEmail.objects.get(to=["new@acme.example"])
    assert french.subject.startswith("[Portail partenaires]") and "Bonjour" in french.body
    assert english.subject.startswith("[Partner Portal]") and "Hello" in english.body


@pytest.mark.django_db
def test_a_colleagues_invitation_follows_the_team_not_the_staff():
    admin = MembershipFactory(role="admin", user__language="fr", partner__country="US")
    from partners.services import invitation_create

    invitation_create(partner=admin.partner, email="colleague@example.com", role="sales", invited_by=admin.user)
    outbox_render()  # rendered as the send task renders it (not sent)
    assert OutboxEmail.objects.get(to=["colleague@example.com"]).subject.startswith("[Portail partenaires]")


@pytest.mark.django_db
def test_the_sign_in_message_is_in_the_users_language_not_the_browsers():
    user = MembershipFactory(role="sales", user__language="fr").user
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD}, follow=True)
    messages = [str(message) for message in response.context["messages"]]
    assert len(messages) == 1 and messages[0].startswith("Connexion avec "), messages


@pytest.mark.parametrize(
    ("language", "long", "short"),
    [("en", "9 December 2026", "9 Dec 2026"), ("fr", "9 décembre 2026", "9 déc. 2026")],
)
def test_one_unambiguous_date_format_per_language(language, long, short):
    day = datetime.date(2026, 12, 9)
    with translation.override(language):
        assert (date_format(day, "DATE_FORMAT"), date_format(day, "SHORT_DATE_FORMAT")) == (long, short)


def test_no_partner_facing_template_writes_a_numeric_or_iso_date():
    numeric = re.compile(r'\|date:"(?:[Ymd][-/.][Ymd]|Y-m-d|d/m|m/d)')
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "templates").rglob("*")
        if path.suffix in {".html", ".txt"} and numeric.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_withdraw_and_cancel_are_different_words_in_french():
    with translation.override("fr"):
        assert gettext("Withdraw") != gettext("Cancel")
        assert gettext("Cancel") == "Annuler" and gettext("Withdraw") == "Retirer"
