"""Deal registration writes (DESIGN §4): submit, decide, arbitrate, withdraw, lose, extend, expire, win.

Every function is keyword-only and atomic, writes one ``RegistrationEvent`` per transition, and queues its
emails in the outbox inside the same transaction (``email_users``: a rolled-back change sends nothing, and
the send itself happens after commit).

Fairness between partners rests on one rule: everything that decides "who was first" for a customer runs
while holding that customer's lock (``_lock_customer``), so two submissions for one customer are serialised.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext as _

from partners.models import Membership, Partner, Zone
from partners.selectors import partner_tier_on, partner_users_with_roles
from portal.batches import failures_pending, failures_unresolved, run_isolated
from portal.catalog import ProductLine
from portal.csvimport import chunks
from portal.emailcontext import portal_url
from portal.emails import email_users
from portal.events import REGISTRATION_DECIDED, PartnerEvent, events_publish
from portal.fiscal import add_months
from portal.jobs import job_run_once
from portal.models import Program

from ..matching import LEGAL_FORMS, CustomerIdentity, normalize_name
from ..models import Customer, Order, OrderLine, Registration, RegistrationEvent, RegistrationLine
from . import events
from .selectors import (
    extension_can_request,
    extension_window,
    registration_can_edit,
    registration_can_mark_lost,
    registration_can_withdraw,
    registration_competitors,
    registration_holders,
)

Status = Registration.Status
Extension = Registration.Extension
NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: numbers are read over the phone
EXPIRE_JOB = "registrations_expire"
DECISION_EMAILS = ("registration_approved", "registration_rejected", "registration_arbitrated")


@dataclass(frozen=True)
class SubmitResult:
    registration: Registration
    created: bool  # False when the form's token found the registration of an earlier (double) submit

    @property
    def conflicted(self) -> bool:
        return self.registration.conflict_with_id is not None

    def outcome(self) -> tuple[str, str]:
        """What the partner is told (the page's message and the API's answer): ``already_registered`` (another
        partner holds it: nothing more is said), ``approved`` or ``submitted``, and the message."""
        registration = self.registration
        if self.conflicted:
            return "already_registered", _(
                "This opportunity is already registered. Your registration %(number)s is recorded and "
                "channel staff will review it."
            ) % {"number": registration.number}  # fmt: skip
        if registration.status == Status.APPROVED:
            return "approved", _("Registration %(number)s is approved: protected until %(day)s.") % {
                "number": registration.number,
                "day": date_format(registration.protection_ends_on, "DATE_FORMAT"),
            }
        return "submitted", _(
            "Registration %(number)s is submitted; channel staff will decide within %(hours)s hours."
        ) % {"number": registration.number, "hours": Program.current().registration_decision_target_hours}


# --- helpers --------------------------------------------------------------------------------------------------


def _today() -> date:
    return timezone.localdate()


def _new_number() -> str:
    """A registration number nobody can guess or count: ``DR-`` and 8 random characters."""
    while True:
        number = "DR-" + "".join(secrets.choice(NUMBER_ALPHABET) for _index in range(8))
        if not Registration.objects.filter(number=number).exists():
            return number


def _event(
    registration: Registration,
    *,
    actor,
    from_status: str,
    to_status: str,
    note: str = "",
    kind: str = "",
    params: dict | None = None,
) -> None:
    """Write one history row: the program's words as ``kind`` + ``params`` (``events``), a person's as ``note``."""
    RegistrationEvent.objects.create(
        registration=registration,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        note=note,
        kind=kind,
        params=params or {},
    )


def _lock_key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def _lock_identity(identity: CustomerIdentity) -> None:
    """Serialise submissions naming the same company, even before its customer row exists.

    On PostgreSQL: a transaction-level advisory lock per non-empty matching key, taken in a fixed order (no
    deadlock). SQLite serialises writing transactions by itself.
    """
    if connection.vendor != "postgresql":
        return
    vat_key, domain_key, name_key = identity.keys
    keys = sorted({f"vat:{vat_key}" if vat_key else "", f"domain:{domain_key}" if domain_key else "",
                   f"name:{identity.country}:{name_key}"} - {""})  # fmt: skip
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(f"customer:{key}")])


def _lock_customer(customer_id: int) -> Customer:
    """Lock the customer row: every first-in-time decision for this customer happens under this lock."""
    return Customer.objects.select_for_update().get(pk=customer_id)


def _registration_url(registration: Registration) -> str:
    return reverse("deals:registration_detail", kwargs={"number": registration.number})


def _partner_recipients(registration: Registration):
    """The submitting user and the partner's admins (active logins only), each once."""
    users = {}
    if registration.submitted_by_id and registration.submitted_by.is_active:
        users[registration.submitted_by_id] = registration.submitted_by
    for user in partner_users_with_roles([registration.partner_id], [Membership.Role.ADMIN])[registration.partner_id]:
        users.setdefault(user.pk, user)
    return [users[pk] for pk in sorted(users)]


def _notify(registration: Registration, *, kind: str, key_suffix: str = "", **context) -> int:
    """Queue the ``deals/email/<kind>`` email to the partner's people (once per registration, kind and suffix)."""
    key = f"registration:{registration.pk}:{kind}" + (f":{key_suffix}" if key_suffix else "")
    if kind in DECISION_EMAILS:
        events_publish([PartnerEvent(REGISTRATION_DECIDED, registration.partner_id, key, {
            "number": registration.number, "status": registration.status})])  # fmt: skip
    return email_users(
        key=key,
        users=_partner_recipients(registration),
        template=f"deals/email/{kind}",
        context={"registration": registration, "path": portal_url(_registration_url(registration)), **context},
    )


# --- submission -----------------------------------------------------------------------------------------------


def registration_validate(
    *, partner: Partner, country: str, expected_close_on: date, lines: dict[str, Decimal], today: date | None = None
) -> dict[str, list[str]]:
    """Check the rules that need no lock; return errors by field (``__all__`` for the whole form)."""
    today = today or _today()
    program = Program.current()
    errors: dict[str, list[str]] = {}
    latest = add_months(today, program.registration_max_close_months)
    if expected_close_on <= today:
        errors.setdefault("expected_close_on", []).append(_("The expected close date must be in the future."))
    elif expected_close_on > latest:
        errors.setdefault("expected_close_on", []).append(
            _("The expected close date must be at most %(months)s months ahead (on or before %(date)s).")
            % {"months": program.registration_max_close_months, "date": date_format(latest, "DATE_FORMAT")}
        )
    if not lines:
        errors.setdefault("__all__", []).append(_("Register at least one product line with an estimated amount."))
    for product_line, amount in lines.items():
        if product_line not in ProductLine.values:
            errors.setdefault("__all__", []).append(_("Unknown product line “%s”.") % product_line)
        elif amount is None or amount <= 0:
            errors.setdefault(f"amount_{product_line}", []).append(_("The estimated amount must be more than zero."))
    if lines and not any(key == "__all__" or key.startswith("amount_") for key in errors):
        minimum = Zone.objects.for_country(country).min_deal_size
        total = sum(lines.values(), start=Decimal("0"))
        if total < minimum:
            errors.setdefault("__all__", []).append(
                _("The estimated total (%(total)s) is under the minimum deal size of %(minimum)s for this country.")
                % {"total": f"{total:,.2f}", "minimum": f"{minimum:,.2f}"}
            )
    return errors


@transaction.atomic
def registration_submit(
    *,
    partner: Partner,
    user,
    identity: CustomerIdentity,
    opportunity_name: str,
    expected_close_on: date,
    lines: dict[str, Decimal],
    token: uuid.UUID | None = None,
    customer_id: int | None = None,
    today: date | None = None,
    registration: Registration | None = None,
) -> SubmitResult:
    """Register a deal for ``partner``: match or create the customer, refuse a duplicate of the partner's own
    active registration, flag a conflict with another partner's earlier one, and auto-approve within the tier limit.

    ``customer_id`` picks an existing customer the partner chose among the near matches. ``token`` is the
    form's hidden idempotency key: submitting it again returns the first registration. Raise
    ``ValidationError`` (by field) when a rule refuses the registration.

    ``registration`` is the partner's draft or rejected registration being submitted (again): it keeps its
    number and history, and goes through every rule as a new one would — its time priority is now.
    """
    today = today or _today()
    if token is not None:
        existing = Registration.objects.filter(partner=partner, submission_token=token).first()
        if existing is not None and existing.status != Status.DRAFT:
            return SubmitResult(existing, created=False)
    if registration is not None:
        _refuse_unless_editable(Registration.objects.get(pk=registration.pk), partner=partner)
    errors = registration_validate(
        partner=partner, country=identity.country, expected_close_on=expected_close_on, lines=lines, today=today
    )
    if errors:
        raise ValidationError(errors)

    _lock_identity(identity)
    if customer_id is not None:
        customer = _lock_customer(customer_id)
    else:
        customer = Customer.objects.match(identity)
        if customer is None:
            customer = Customer.objects.create(
                name=identity.name, country=identity.country, vat=identity.vat, domain=identity.domain
            )
        customer = _lock_customer(customer.pk)
    if token is not None:  # a concurrent double submit got the lock first
        existing = Registration.objects.filter(partner=partner, submission_token=token).first()
        if existing is not None and existing.status != Status.DRAFT:
            return SubmitResult(existing, created=False)
    previous = None
    if registration is not None:
        # The row lock comes after the customer's, as in the staff decisions (``_locked``): never a lock cycle.
        previous = Registration.objects.select_for_update(of=("self",)).get(pk=registration.pk)
        _refuse_unless_editable(previous, partner=partner)

    product_lines = sorted(lines)
    # A draft or a rejected registration holds nothing: it is never among the holders (nor its own conflict).
    holders = registration_holders(customer_id=customer.pk, product_lines=product_lines, day=today)
    own = holders.filter(partner=partner).order_by("submitted_at", "pk").first()
    if own is not None:
        message = format_html(
            _(
                "You already registered this customer for one of these product lines: {}. "
                "That registration already protects the opportunity for you."
            ),  # fmt: skip
            format_html('<a href="{}">{}</a>', _registration_url(own), own.number),
        )
        raise ValidationError({"__all__": [ValidationError(message, code="duplicate")]})
    first = holders.exclude(partner=partner).order_by("submitted_at", "pk").first()

    now = timezone.now()
    if previous is None:
        registration = Registration.objects.create(
            number=_new_number(),
            partner=partner,
            submitted_by=user,
            customer=customer,
            opportunity_name=opportunity_name,
            expected_close_on=expected_close_on,
            status=Status.SUBMITTED,
            submission_token=token,
            submitted_at=now,
            conflict_with=first,
        )
        from_status, kind, params = Status.DRAFT, events.CONFLICT if first else "", {}
    else:
        registration = previous
        from_status = previous.status
        if from_status == Status.REJECTED:
            kind = events.RESUBMITTED_CONFLICT if first else events.RESUBMITTED
            params = {"first_submitted_on": timezone.localdate(previous.submitted_at).isoformat()}
        else:
            kind, params = (events.CONFLICT if first else ""), {}
        _submit_again(registration, user=user, customer=customer, opportunity_name=opportunity_name,
                      expected_close_on=expected_close_on, token=token, now=now, first=first)  # fmt: skip
        registration.lines.all().delete()
    RegistrationLine.objects.bulk_create(
        RegistrationLine(registration=registration, product_line=product_line, estimated_amount=lines[product_line])
        for product_line in product_lines
    )
    _event(registration, actor=user, from_status=from_status, to_status=Status.SUBMITTED, kind=kind, params=params)
    if first is None:
        tier = partner_tier_on(partner, today)  # the tier on the submission date, from the history
        limit = tier.auto_approval_limit
        total = sum(lines.values(), start=Decimal("0"))
        if limit is not None and total <= limit:
            params = {"total": str(total), "tier": tier.name, "limit": str(limit)}
            _approve(registration, actor=None, today=today, kind=events.AUTO_APPROVED, params=params)
    return SubmitResult(registration, created=True)


def _refuse_unless_editable(registration: Registration, *, partner: Partner) -> None:
    if registration.partner_id != partner.pk or not registration_can_edit(registration):
        message = _("Only a draft or a rejected registration can be submitted again.")
        raise ValidationError({"__all__": [ValidationError(message, code="transition")]})


def _submit_again(registration: Registration, *, user, customer, opportunity_name, expected_close_on, token, now,
                  first) -> None:  # fmt: skip
    """Turn a draft or a rejected registration into a fresh submission: the earlier decision, protection and
    extension no longer apply (the history keeps them); the time priority is ``now``."""
    registration.status = Status.SUBMITTED
    registration.submitted_by = user
    registration.customer = customer
    registration.opportunity_name = opportunity_name
    registration.expected_close_on = expected_close_on
    registration.submission_token = token
    registration.submitted_at = now
    registration.conflict_with = first
    registration.draft = {}
    registration.decided_at = None
    registration.approved_on = None
    registration.protection_ends_on = None
    registration.decision_note = ""
    registration.decision_kind = ""
    registration.decision_params = {}
    registration.extension = Extension.NONE
    registration.extension_reason = ""
    registration.extension_requested_on = None
    registration.save()


# --- drafts ---------------------------------------------------------------------------------------------------


@transaction.atomic
def registration_save_draft(
    *, partner: Partner, user, data: dict, token: uuid.UUID | None = None, registration: Registration | None = None
) -> Registration:
    """Save the form's input as a draft of ``partner`` without submitting it: no matching, no conflict check,
    no protection, no email, nothing for staff. Only the customer's name is required.

    ``data`` holds the form's fields as text (``customer_name``, ``customer_country``, …, ``lines``); the
    draft's ``registration`` is updated, else a new draft is made (once per form ``token``).
    """
    name = (data.get("customer_name") or "").strip()
    if not name:
        raise ValidationError({"customer_name": [_("A draft needs at least the customer's name.")]})
    if registration is None and token is not None:
        registration = Registration.objects.filter(partner=partner, submission_token=token).first()
    if registration is not None:
        registration = Registration.objects.select_for_update(of=("self",)).get(pk=registration.pk)
        if registration.partner_id != partner.pk or registration.status != Status.DRAFT:
            message = _("Only a draft can be saved as a draft.")
            raise ValidationError({"__all__": [ValidationError(message, code="transition")]})
    draft = {key: value for key, value in data.items() if key not in ("opportunity_name", "expected_close_on")}
    draft["customer_name"] = name
    fields = {
        "opportunity_name": (data.get("opportunity_name") or "").strip(),
        "expected_close_on": data.get("expected_close_on") or None,
        "draft": draft,
    }
    if registration is None:
        registration = Registration.objects.create(
            number=_new_number(),
            partner=partner,
            submitted_by=user,
            status=Status.DRAFT,
            submission_token=token,
            **fields,
        )
        _event(registration, actor=user, from_status="", to_status=Status.DRAFT)
        return registration
    for field, value in fields.items():
        setattr(registration, field, value)
    registration.save(update_fields=list(fields))
    return registration


@transaction.atomic
def registration_delete_draft(*, registration: Registration, partner: Partner) -> None:
    """Delete a draft of ``partner`` (it was never submitted: nobody else ever saw it)."""
    registration = Registration.objects.select_for_update(of=("self",)).get(pk=registration.pk)
    if registration.partner_id != partner.pk or registration.status != Status.DRAFT:
        _refuse(_("Only a draft can be deleted."))
    registration.delete()


# --- staff decisions ------------------------------------------------------------------------------------------


def _locked(registration: Registration) -> Registration:
    """Re-read ``registration`` under its customer's lock and its own row lock (decisions never race)."""
    _lock_customer(registration.customer_id)
    return Registration.objects.select_for_update(of=("self",)).select_related("partner").get(pk=registration.pk)


def _refuse(message: str):
    raise ValidationError(message, code="transition")


def _approve(
    registration: Registration,
    *,
    actor,
    today: date,
    note: str = "",
    kind: str = "",
    params: dict | None = None,
    notify: bool = True,
) -> None:
    tier = partner_tier_on(registration.partner, today)  # protection by the tier on the approval date
    registration.status = Status.APPROVED
    registration.decided_at = timezone.now()
    registration.approved_on = today
    registration.protection_ends_on = today + timedelta(days=tier.protection_days)
    registration.decision_note = note
    registration.decision_kind = kind
    registration.decision_params = params or {}
    registration.save(
        update_fields=[
            "status", "decided_at", "approved_on", "protection_ends_on",
            "decision_note", "decision_kind", "decision_params",
        ]
    )  # fmt: skip
    _event(
        registration,
        actor=actor,
        from_status=Status.SUBMITTED,
        to_status=Status.APPROVED,
        note=note,
        kind=kind,
        params=params,
    )
    if notify:
        _notify(registration, kind="registration_approved")


def _active_conflict(registration: Registration, today: date) -> Registration | None:
    """Another partner's registration that still holds this opportunity (the reason to arbitrate)."""
    lines = list(registration.lines.values_list("product_line", flat=True))
    return (
        registration_holders(customer_id=registration.customer_id, product_lines=lines, day=today)
        .exclude(partner_id=registration.partner_id)
        .exclude(pk=registration.pk)
        .order_by("submitted_at", "pk")
        .first()
    )


@transaction.atomic
def registration_approve(*, registration: Registration, actor, note: str = "", today: date | None = None):
    """Approve a submitted registration; one that competes with another partner's goes through arbitration."""
    today = today or _today()
    registration = _locked(registration)
    if registration.status != Status.SUBMITTED:
        _refuse(
            _("Only a submitted registration can be approved (this one is %s).") % registration.get_status_display()
        )
    if _active_conflict(registration, today) is not None:
        _refuse(_("%s competes with another partner's registration: decide it by arbitration.") % registration.number)
    _refuse_other_partners(note, readers=[registration.partner], field="note")
    _approve(registration, actor=actor, today=today, note=note)
    return registration


def partners_named_in(text: str, *, readers) -> list[str]:
    """The names of the partners other than ``readers`` that ``text`` mentions by name or code.

    Whole words, case, accents, punctuation and legal forms ignored: "bechtle demo" names "Bechtle Demo GmbH".
    """
    words = f" {normalize_name(text)} "
    if not words.strip():
        return []
    named = []
    others = Partner.objects.exclude(pk__in=[partner.pk for partner in readers]).values_list("code", "name")
    for code, name in others.order_by("name").iterator():
        keys = (normalize_name(code), normalize_name(name), _without_company_words(normalize_name(name)))
        if any(len(key) >= 3 and f" {key} " in words for key in keys):
            named.append(name)
    return named


# Beyond the legal forms of customer matching: words a note would leave out when it names a partner.
COMPANY_WORDS = frozenset({"se", "kg", "ab", "as", "oy", "sl", "co", "corp", "corporation", "company", "group"})


def _without_company_words(name: str) -> str:
    # Legal forms count here too: a normalised name keeps those before a company word ("bechtle gmbh co kg").
    words = name.split()
    while len(words) > 1 and (words[-1] in COMPANY_WORDS or words[-1] in LEGAL_FORMS):
        words.pop()
    return " ".join(words)


def _refuse_other_partners(text: str, *, readers, field: str) -> None:
    """A partner never learns another partner's name (DESIGN §1): refuse a note to ``readers`` that has one."""
    named = partners_named_in(text, readers=readers)
    if named:
        raise ValidationError(
            {
                field: _(
                    "This note names another partner (%(names)s): partners must not learn who else "
                    "registered the opportunity. Remove the name and try again."
                )
                % {"names": ", ".join(named)}
            }
        )


@transaction.atomic
def registration_reject(*, registration: Registration, actor, reason: str):
    """Reject a submitted registration, with the reason the partner will read (no other partner named in it)."""
    reason = (reason or "").strip()
    if not reason:
        _refuse(_("A rejection needs a reason."))
    _refuse_other_partners(reason, readers=[registration.partner], field="reason")
    registration = _locked(registration)
    if registration.status != Status.SUBMITTED:
        _refuse(
            _("Only a submitted registration can be rejected (this one is %s).") % registration.get_status_display()
        )
    registration.status = Status.REJECTED
    registration.decided_at = timezone.now()
    registration.decision_note = reason
    registration.save(update_fields=["status", "decided_at", "decision_note"])
    _event(registration, actor=actor, from_status=Status.SUBMITTED, to_status=Status.REJECTED, note=reason)
    _notify(registration, kind="registration_rejected", reason=reason)
    return registration


@transaction.atomic
def registration_arbitrate(
    *, winner: Registration, actor, winner_note: str = "", others_note: str = "", today: date | None = None
):
    """Decide a conflict: approve ``winner`` (if not approved yet) and reject every competing registration.

    The winner and the others read different notes, and neither may name another partner: the others get a
    fixed explanation (translated in each reader's email) plus ``others_note``, the winner ``winner_note``.
    A competitor that was already approved loses its protection (approved → rejected): arbitration is the
    staff decision that overrides first-in-time.
    """
    today = today or _today()
    winner = _locked(winner)
    if winner.status not in (Status.SUBMITTED, Status.APPROVED) or (
        winner.status == Status.APPROVED and not winner.is_protected_on(today)
    ):
        _refuse(_("%s is not awaiting a decision or protected: it cannot win an arbitration.") % winner.number)
    losers = list(registration_competitors(winner, today=today).select_for_update(of=("self",)))
    winner_note, others_note = (winner_note or "").strip(), (others_note or "").strip()
    _refuse_other_partners(winner_note, readers=[winner.partner], field="winner_note")
    # One note for every other partner: with several of them, not even their own names may appear in it.
    _refuse_other_partners(others_note, readers=[losers[0].partner] if len(losers) == 1 else [], field="others_note")
    now = timezone.now()
    for loser in losers:
        # The fixed explanation is a kind, worded in each reader's language; the staff note follows it as written.
        from_status = loser.status
        loser.status = Status.REJECTED
        loser.decided_at = now
        loser.decision_note = others_note
        loser.decision_kind = events.ARBITRATION_LOST
        loser.decision_params = {}
        loser.save(update_fields=["status", "decided_at", "decision_note", "decision_kind", "decision_params"])
        _event(
            loser,
            actor=actor,
            from_status=from_status,
            to_status=Status.REJECTED,
            note=others_note,
            kind=events.ARBITRATION_LOST,
        )
        _notify(loser, kind="registration_arbitrated", won=False, reason=others_note)
    if winner.status == Status.SUBMITTED:
        winner.conflict_with = None
        winner.save(update_fields=["conflict_with"])
        _approve(
            winner,
            actor=actor,
            today=today,
            note=winner_note,
            kind=events.ARBITRATION_WON,
            notify=False,
        )
    else:
        _event(
            winner,
            actor=actor,
            from_status=winner.status,
            to_status=winner.status,
            note=winner_note,
            kind=events.ARBITRATION_KEPT,
        )
    _notify(winner, kind="registration_arbitrated", won=True, reason=winner_note)
    return winner, losers


# --- partner actions ------------------------------------------------------------------------------------------


@transaction.atomic
def registration_withdraw(*, registration: Registration, actor, note: str = ""):
    """Withdraw a submitted registration (before staff decide)."""
    registration = _locked(registration)
    if not registration_can_withdraw(registration):
        _refuse(_("Only a submitted registration can be withdrawn."))
    registration.status = Status.WITHDRAWN
    registration.save(update_fields=["status"])
    _event(registration, actor=actor, from_status=Status.SUBMITTED, to_status=Status.WITHDRAWN, note=note)
    return registration


@transaction.atomic
def registration_mark_lost(*, registration: Registration, actor, note: str = ""):
    """Record that the partner lost an approved deal; its protection ends."""
    registration = _locked(registration)
    if not registration_can_mark_lost(registration):
        _refuse(_("Only an approved registration can be marked lost."))
    registration.status = Status.LOST
    registration.save(update_fields=["status"])
    _event(registration, actor=actor, from_status=Status.APPROVED, to_status=Status.LOST, note=note)
    return registration


@transaction.atomic
def registration_request_extension(*, registration: Registration, actor, reason: str, today: date | None = None):
    """Ask, once and with a reason, for the protection to be extended; only in its last days."""
    today = today or _today()
    reason = (reason or "").strip()
    if not reason:
        _refuse(_("Say why the protection should be extended."))
    registration = _locked(registration)
    if registration.status != Status.APPROVED:
        _refuse(_("Only an approved registration can be extended."))
    if registration.extension != Extension.NONE:
        _refuse(_("An extension was already requested for this registration; only one is possible."))
    if not extension_can_request(registration, today=today):
        start, end = extension_window(registration)
        _refuse(
            _("An extension can be requested only from %(start)s to %(end)s (the last %(days)s days of protection).")
            % {
                "start": date_format(start, "DATE_FORMAT"),
                "end": date_format(end, "DATE_FORMAT"),
                "days": (end - start).days,
            }
        )
    registration.extension = Extension.REQUESTED
    registration.extension_reason = reason
    registration.extension_requested_on = today
    registration.save(update_fields=["extension", "extension_reason", "extension_requested_on"])
    _event(registration, actor=actor, from_status=Status.APPROVED, to_status=Status.APPROVED,
           note=reason, kind=events.EXTENSION_REQUESTED)  # fmt: skip
    return registration


@transaction.atomic
def registration_decide_extension(
    *, registration: Registration, actor, grant: bool, note: str = "", today: date | None = None
):
    """Grant (+ the program's extension days to the protection end) or refuse a requested extension."""
    today = today or _today()
    registration = _locked(registration)
    if registration.extension != Extension.REQUESTED or registration.status != Status.APPROVED:
        _refuse(_("%s has no extension request awaiting a decision.") % registration.number)
    _refuse_other_partners(note, readers=[registration.partner], field="note")
    days = Program.current().registration_extension_days
    registration.decided_at = timezone.now()
    if grant:
        registration.extension = Extension.GRANTED
        registration.protection_ends_on = registration.protection_ends_on + timedelta(days=days)
        kind, params = events.EXTENSION_GRANTED, {"until": registration.protection_ends_on.isoformat()}
    else:
        registration.extension = Extension.REFUSED
        kind, params = events.EXTENSION_REFUSED, {}
    registration.save(update_fields=["extension", "protection_ends_on", "decided_at"])
    _event(
        registration,
        actor=actor,
        from_status=Status.APPROVED,
        to_status=Status.APPROVED,
        note=note,
        kind=kind,
        params=params,
    )
    _notify(registration, kind="registration_extension", key_suffix=registration.extension, granted=grant, note=note)
    # The expiry job waits for a pending decision; a refusal after the end expires the registration now.
    if not grant and registration.protection_ends_on < today:
        registration.status = Status.EXPIRED
        registration.save(update_fields=["status"])
        _event(registration, actor=actor, from_status=Status.APPROVED, to_status=Status.EXPIRED)
    return registration


# --- won (orders) ---------------------------------------------------------------------------------------------


def _qualifying_lines():
    """Order lines (of the outer registration) that prove a win: the registering partner, the customer, booked
    within protection, in a registered product line, positive, and not linked to another registration."""
    return OrderLine.objects.filter(
        partner_id=OuterRef("partner_id"),
        customer_id=OuterRef("customer_id"),
        booked_on__gte=OuterRef("approved_on"),
        booked_on__lte=OuterRef("protection_ends_on"),
        net_amount__gt=0,
    ).filter(
        Q(registration__isnull=True) | Q(registration_id=OuterRef("pk")),
        Exists(
            RegistrationLine.objects.filter(
                registration_id=OuterRef(OuterRef("pk")), product_line=OuterRef("product_line")
            )
        ),
    )


@transaction.atomic
def registrations_mark_won(*, order_ids=None) -> int:
    """Mark won every approved (or since expired) registration whose first qualifying order is now booked, and
    link that order's lines in the registered product lines to it. Set-based; safe to run again.

    ``order_ids`` limits the check to registrations those orders could win (the import passes its new
    orders); ``None`` checks every candidate (the nightly re-check for late imports).
    """
    candidates = Registration.objects.filter(
        status__in=[Status.APPROVED, Status.EXPIRED], won_order__isnull=True, approved_on__isnull=False
    )
    if order_ids is not None:
        candidate_ids = set()
        for chunk in chunks(sorted(set(order_ids))):
            candidate_ids.update(
                candidates.filter(
                    Exists(
                        OrderLine.objects.filter(
                            order_id__in=chunk, partner_id=OuterRef("partner_id"), customer_id=OuterRef("customer_id")
                        )
                    )
                ).values_list("pk", flat=True)
            )
        if not candidate_ids:
            return 0
        candidates = candidates.filter(pk__in=sorted(candidate_ids))
    first_line = _qualifying_lines().order_by("booked_on", "order_id")
    winners = list(
        candidates.annotate(
            first_order_id=Subquery(first_line.values("order_id")[:1]),
            first_booked_on=Subquery(first_line.values("booked_on")[:1]),
        )
        .filter(first_order_id__isnull=False)
        .select_for_update(of=("self",))
        .only("pk", "status")
    )
    if not winners:
        return 0
    for registration in winners:
        registration.previous_status = registration.status
        registration.status = Status.WON
        registration.won_order_id = registration.first_order_id
        registration.won_on = registration.first_booked_on
    Registration.objects.bulk_update(winners, ["status", "won_order", "won_on"], batch_size=500)
    RegistrationEvent.objects.bulk_create(
        RegistrationEvent(
            registration_id=registration.pk,
            from_status=registration.previous_status,
            to_status=Status.WON,
            kind=events.WON,
            params={"booked_on": registration.won_on.isoformat()},
        )
        for registration in winners
    )
    # Link the winning order's lines of the registered product lines (one UPDATE).
    won = Registration.objects.filter(
        won_order_id=OuterRef("order_id"),
        partner_id=OuterRef("partner_id"),
        lines__product_line=OuterRef("product_line"),
        pk__in=[registration.pk for registration in winners],
    )
    OrderLine.objects.filter(
        order_id__in={registration.won_order_id for registration in winners}, registration__isnull=True
    ).filter(Exists(won)).update(registration_id=Subquery(won.values("pk")[:1]))
    return len(winners)


# --- expiry and reminders (nightly) ---------------------------------------------------------------------------


WON_RECHECK_DAYS = 7


def registrations_expire(*, as_of: date) -> dict:
    """Expire approved registrations whose protection ended before ``as_of`` (one UPDATE per batch), send the
    reminders due on ``as_of`` (once each: outbox keys), and re-check wins for orders imported late.

    Expiry and reminders run in batches, each in a savepoint (``run_isolated``): a registration that fails is
    recorded for staff and retried by the next run; the others proceed.
    """
    with transaction.atomic():
        # The import already checks what its orders win; this catches anything booked by another path. Only
        # orders that arrived in the last week: the expired registrations pile up forever, the orders do not.
        recent = Order.objects.filter(created_at__gte=timezone.now() - timedelta(days=WON_RECHECK_DAYS))
        won = registrations_mark_won(order_ids=list(recent.values_list("pk", flat=True)))
        # A pending extension request keeps the registration until staff decide (see the decision).
        due = Registration.objects.filter(status=Status.APPROVED, protection_ends_on__lt=as_of).exclude(
            extension=Extension.REQUESTED
        )
        rows = list(due.select_for_update().order_by("pk").values_list("pk", "number"))
        pending = failures_unresolved(EXPIRE_JOB)
        expired = run_isolated(
            job=EXPIRE_JOB,
            period=as_of.isoformat(),
            batches=[rows[start : start + JOB_BATCH_SIZE] for start in range(0, len(rows), JOB_BATCH_SIZE)],
            process=lambda batch: _expire_batch([pk for pk, _number in batch], as_of=as_of),
            key=lambda row: f"registration {row[1]}",
            pending=pending,
        )
        reminders, reminder_failures = _remind(as_of=as_of, pending=pending)
    result = {"expired": sum(expired.results), "won": won, "reminders": reminders}
    if expired.failed or reminder_failures:
        result["failed_items"] = len(expired.failed) + reminder_failures
    return result


JOB_BATCH_SIZE = 500


def _expire_batch(ids: list[int], *, as_of: date) -> int:
    Registration.objects.filter(pk__in=ids, status=Status.APPROVED).update(status=Status.EXPIRED)
    RegistrationEvent.objects.bulk_create(
        RegistrationEvent(
            registration_id=pk,
            from_status=Status.APPROVED,
            to_status=Status.EXPIRED,
            kind=events.EXPIRED,
            params={"run_of": as_of.isoformat()},
        )
        for pk in ids
    )
    return len(ids)


def registrations_remind(*, as_of: date) -> int:
    """Queue the reminder of each threshold (``Program.reminder_days``) to approved registrations ending soon.

    A registration with ``n`` days left gets the reminder of the smallest threshold ≥ ``n``, keyed by
    registration, threshold and end date: never twice, and a missed night still sends it.
    """
    with transaction.atomic():
        return _remind(as_of=as_of)[0]


def _remind(*, as_of: date, pending: set[str] | None = None) -> tuple[int, int]:
    """``registrations_remind`` in batches, each in a savepoint; return (emails queued, registrations failed)."""
    thresholds = sorted(Program.current().reminder_days)
    if not thresholds:
        return 0, 0
    soon = list(
        Registration.objects.filter(
            status=Status.APPROVED, protection_ends_on__gte=as_of, protection_ends_on__lte=as_of + timedelta(
                days=thresholds[-1])
        )
        .select_related("partner", "customer", "submitted_by")
        .order_by("pk")
    )  # fmt: skip

    def remind(batch: list[Registration]) -> int:
        queued = 0
        for registration in batch:
            days_left = (registration.protection_ends_on - as_of).days
            threshold = next(days for days in thresholds if days_left <= days)
            queued += _notify(
                registration,
                kind="registration_reminder",
                key_suffix=f"{threshold}:{registration.protection_ends_on.isoformat()}",
                days_left=days_left,
                threshold=threshold,
            )
        return queued

    outcome = run_isolated(
        job=EXPIRE_JOB,
        period=as_of.isoformat(),
        batches=[soon[start : start + JOB_BATCH_SIZE] for start in range(0, len(soon), JOB_BATCH_SIZE)],
        process=remind,
        key=lambda registration: f"reminder of registration {registration.number}",
        pending=pending,
    )
    return sum(outcome.results), len(outcome.failed)


def registrations_expire_once(*, as_of: date, force: bool = False) -> dict | None:
    """The nightly job for ``as_of``, claimed once (``None`` when it already ran)."""
    force = force or failures_pending(EXPIRE_JOB)  # a date with registrations that failed is run again for them
    return job_run_once(EXPIRE_JOB, as_of.isoformat(), lambda: registrations_expire(as_of=as_of), force=force)


__all__ = [
    "SubmitResult",
    "registration_approve",
    "registration_arbitrate",
    "registration_decide_extension",
    "registration_delete_draft",
    "registration_mark_lost",
    "registration_reject",
    "registration_request_extension",
    "registration_save_draft",
    "registration_submit",
    "registration_validate",
    "registration_withdraw",
    "registrations_expire",
    "registrations_expire_once",
    "registrations_mark_won",
    "registrations_remind",
]
