"""Writes on partners, memberships, invitations and people: validate, change, audit, enqueue after commit.

The people writes (a partner admin's page) raise a ``ValidationError`` keyed by field, with a message a partner
admin can act on.
"""

from datetime import date

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from portal.emailcontext import portal_url
from portal.emails import email_enqueue, email_users
from portal.fiscal import add_months
from portal.models import Program

from .calculations import status_match_tier
from .models import Certification, CertificationRecord, Invitation, Membership, Partner, Person, Tier, TierHistory
from .selectors import partner_users_with_roles, tier_ranks


def partner_status_match(*, partner: Partner, changed_by=None) -> TierHistory:
    """Give a new partner its first tier from its legacy tiers, effective on the day it joined (DESIGN §3)."""
    code = status_match_tier(partner.legacy_dell_tier, partner.legacy_emc_tier, ranks=tier_ranks())
    tier = Tier.objects.get(code=code)
    history = TierHistory.objects.create(
        partner=partner,
        from_tier=None,
        to_tier=tier,
        effective_on=partner.join_date(Program.current().start_date),
        reason=TierHistory.Reason.STATUS_MATCH,
        figures={"legacy_dell_tier": partner.legacy_dell_tier, "legacy_emc_tier": partner.legacy_emc_tier},
        changed_by=changed_by,
    )
    Partner.objects.filter(pk=partner.pk).update(tier=tier, computed_tier=tier)
    partner.tier = partner.computed_tier = tier
    return history


@transaction.atomic
def partner_create(
    *,
    code: str,
    name: str,
    country: str,
    kind: str = Partner.Kind.RESELLER,
    legacy_dell_tier: str = "",
    legacy_emc_tier: str = "",
    admin_email: str = "",
    joined_on: date | None = None,
    created_by=None,
    base_url: str = "",
) -> Partner:
    """Create a partner with its status-matched tier, and invite its first admin when an email is given.

    A partner created by staff joins the program on ``joined_on``, by default the day it is created: it keeps its
    status-matched tier until the first annual review at least 12 months later (DESIGN §3).
    """
    partner = Partner(
        code=code,
        name=name,
        country=country.upper(),
        kind=kind,
        legacy_dell_tier=legacy_dell_tier,
        legacy_emc_tier=legacy_emc_tier,
        joined_on=joined_on or timezone.localdate(),
    )
    partner.full_clean()
    partner.save()
    partner_status_match(partner=partner, changed_by=created_by)
    if admin_email:
        invitation_create(
            partner=partner, email=admin_email, role=Membership.Role.ADMIN, invited_by=created_by, base_url=base_url
        )
    return partner


# Countries whose partners read French first (of the portal's languages); every other country reads English.
FRENCH_COUNTRIES = frozenset(
    {"FR", "MC", "LU", "BE", "SN", "CI", "ML", "BF", "NE", "TG", "BJ", "GA", "CG", "CD", "CM", "MG", "MA", "DZ", "TN"}
)


def partner_language(partner: Partner) -> str:
    """The language a partner's people read: the one most of its users chose, else its country's."""
    chosen = (
        get_user_model()
        .objects.filter(membership__partner=partner, is_active=True)
        .values("language")
        .annotate(users=Count("pk"))
        .order_by("-users", "language")
        .values_list("language", flat=True)
        .first()
    )
    if chosen:
        return chosen
    return "fr" if partner.country in FRENCH_COUNTRIES else settings.LANGUAGE_CODE


def invitation_language(*, partner: Partner, existing=None, invited_by=None) -> str:
    """The invitee's language: their own when they have an account; a colleague's who invites them; else the
    partner's. Never the language of the channel staff member who happens to send it."""
    if existing is not None and existing.language:
        return existing.language
    membership = getattr(invited_by, "membership", None) if invited_by is not None else None
    if membership is not None and membership.partner_id == partner.pk and invited_by.language:
        return invited_by.language
    return partner_language(partner)


def _invitation_url(invitation: Invitation, base_url: str) -> str:
    path = reverse("invitation_accept", args=[invitation.token])
    return base_url.rstrip("/") + path if base_url else portal_url(path)


@transaction.atomic
def invitation_create(*, partner: Partner, email: str, role: str, invited_by=None, base_url: str = "") -> Invitation:
    """Invite ``email`` to join ``partner`` with ``role`` and email the link, once per open invitation.

    Inviting an address that already has an open invitation returns that one (with the role now chosen) and
    sends nothing again: a double click, or two admins at once, make one invitation and one email (the
    database allows one open invitation per partner and address). Every address outside the team is answered
    the same way, whoever owns it: whether an address has an account elsewhere is nobody's business here, and
    such an account cannot accept (``invitation_accept`` refuses it).
    """
    email = email.strip().lower()
    if role not in Membership.Role.values:
        raise ValidationError({"role": _("Choose a role.")})
    User = get_user_model()
    existing = User.objects.filter(email__iexact=email).select_related("membership").first()
    if existing is not None and getattr(existing, "membership", None) and existing.membership.partner_id == partner.pk:
        raise ValidationError({"email": _("This person is already a member of your team.")})
    open_invitations = Invitation.objects.filter(partner=partner, email=email, accepted_at=None, revoked_at=None)
    invitation = open_invitations.select_for_update().first()
    if invitation is not None and invitation.is_usable:
        return _invitation_set_role(invitation, role)
    if invitation is not None:  # expired: a new link replaces it
        open_invitations.update(revoked_at=timezone.now())
    try:
        with transaction.atomic():  # a savepoint: losing the race to a concurrent request is not an error
            invitation = Invitation.objects.create(partner=partner, email=email, role=role, invited_by=invited_by)
    except IntegrityError:
        return _invitation_set_role(open_invitations.select_for_update().get(), role)
    email_enqueue(
        key=f"invitation:{invitation.pk}",
        to=email,
        language=invitation_language(partner=partner, existing=existing, invited_by=invited_by),
        template="partners/email/invitation",
        context={"invitation": invitation, "partner": partner, "url": _invitation_url(invitation, base_url)},
    )
    return invitation


def _invitation_set_role(invitation: Invitation, role: str) -> Invitation:
    if invitation.role != role:
        invitation.role = role
        invitation.save(update_fields=["role"])
    return invitation


def invitation_revoke(*, invitation: Invitation) -> Invitation:
    """Withdraw an invitation not yet accepted: its link stops working."""
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, first_name: str, last_name: str, password: str, language: str = "en"):
    """Create the invited login (its email counts as verified: the link proved it), and its membership."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_usable:
        raise ValidationError(_("This invitation has expired or was already used."))
    User = get_user_model()
    user = User.objects.filter(email__iexact=invitation.email).first()
    if user is None:
        user = User.objects.create_user(
            email=invitation.email, password=password, first_name=first_name, last_name=last_name, language=language
        )
    elif hasattr(user, "membership") or user.is_staff:
        raise ValidationError(_("This invitation cannot be used by this account."))
    else:
        user.first_name, user.last_name, user.language = first_name, last_name, language
        user.is_active = True  # someone removed earlier and invited again
        user.set_password(password)
        user.save()
    EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})
    Membership.objects.create(user=user, partner=invitation.partner, role=invitation.role)
    Person.objects.update_or_create(
        partner=invitation.partner,
        email=user.email,
        defaults={"name": f"{first_name} {last_name}".strip() or user.email, "user": user},
    )
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return user


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, changed_by) -> Membership:
    """Change a colleague's role; a partner always keeps at least one admin."""
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if role not in Membership.Role.values:
        raise ValidationError(_("Choose a role."))
    if membership.role == Membership.Role.ADMIN and role != Membership.Role.ADMIN:
        _ensure_another_admin(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, removed_by) -> None:
    """Remove a colleague's access (the login is deactivated; their person record and history stay)."""
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.user_id == removed_by.pk:
        raise ValidationError(_("You cannot remove yourself."))
    if membership.role == Membership.Role.ADMIN:
        _ensure_another_admin(membership)
    user = membership.user
    membership.delete()
    user.is_active = False
    user.save(update_fields=["is_active"])


def _ensure_another_admin(membership: Membership) -> None:
    others = Membership.objects.filter(partner=membership.partner, role=Membership.Role.ADMIN).exclude(pk=membership.pk)
    if not others.exists():
        raise ValidationError(_("A partner must keep at least one administrator."))


# --- People and certification records ---------------------------------------------------------------------


@transaction.atomic
def person_add(*, partner: Partner, name: str, email: str) -> Person:
    """Add someone who works for ``partner`` (no portal login); an email identifies one person per partner."""
    name, email = name.strip(), email.strip().lower()
    errors = {}
    if not name:
        errors["name"] = [_("Enter the person's name.")]
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Enter a valid email address.")]
    if errors:
        raise ValidationError(errors)
    duplicate = _("%(email)s is already one of your people.") % {"email": email}
    if Person.objects.filter(partner=partner, email__iexact=email).exists():
        raise ValidationError({"email": [duplicate]})
    try:
        with transaction.atomic():
            return Person.objects.create(partner=partner, name=name, email=email)
    except IntegrityError:  # added at the same moment by a colleague: the unique constraint decides
        raise ValidationError({"email": [duplicate]}) from None


@transaction.atomic
def certification_record_add(
    *,
    person: Person,
    certification: Certification,
    earned_on: date,
    expires_on: date | None = None,
    entered_by=None,
) -> CertificationRecord:
    """Record, from the portal, that ``person`` earned ``certification`` on ``earned_on``; a blank ``expires_on``
    means earned on + the certification's validity.

    A partner admin's word is not proof: the record is *pending* and counts for nothing (tiers, competencies,
    services compliance, rebates) until channel staff verify it (``certification_records_verify``). Its dates
    must be plausible: earned on a past day of the program (from its start), expiring after that and no later
    than the catalog's validity allows.
    """
    errors = {}
    program_start = Program.current().start_date
    if earned_on > timezone.localdate():
        errors["earned_on"] = [_("The date earned cannot be in the future.")]
    elif earned_on < program_start:
        errors["earned_on"] = [
            _("The date earned cannot be before the program start (%(date)s).")
            % {"date": formats.date_format(program_start, "SHORT_DATE_FORMAT")}
        ]
    if expires_on is not None and expires_on <= earned_on:
        errors["expires_on"] = [_("The expiry date must be after the date earned.")]
    elif expires_on is not None and expires_on > add_months(earned_on, certification.validity_months):
        errors["expires_on"] = [
            _(
                "%(certification)s is valid for %(months)s months: it cannot expire after %(date)s. "
                "Leave the date blank to use the standard validity."
            )
            % {
                "certification": certification.code,
                "months": certification.validity_months,
                "date": formats.date_format(add_months(earned_on, certification.validity_months), "SHORT_DATE_FORMAT"),
            }
        ]
    if errors:
        raise ValidationError(errors)
    existing = CertificationRecord.objects.filter(
        person=person, certification=certification, earned_on=earned_on
    ).first()
    if existing is not None:
        raise ValidationError({"certification": [_certification_duplicate(existing)]})
    try:
        with transaction.atomic():
            return CertificationRecord.objects.create(
                person=person,
                certification=certification,
                earned_on=earned_on,
                expires_on=expires_on,
                status=CertificationRecord.Status.PENDING,
                entered_by=entered_by,
            )
    except IntegrityError:
        existing = CertificationRecord.objects.get(person=person, certification=certification, earned_on=earned_on)
        raise ValidationError({"certification": [_certification_duplicate(existing)]}) from None


def _certification_duplicate(record: CertificationRecord) -> str:
    values = {
        "person": record.person.name,
        "certification": record.certification.code,
        "date": formats.date_format(record.earned_on, "SHORT_DATE_FORMAT"),
    }
    if record.is_rejected:  # entering it again would only queue the same claim for staff a second time
        return (
            _(
                "%(person)s's %(certification)s earned on %(date)s was rejected by channel staff; contact them "
                "if it should count."
            )
            % values
        )
    return _("%(person)s already has %(certification)s earned on %(date)s.") % values


# --- Verification by channel staff ------------------------------------------------------------------------
# Only verified records count (``CertificationRecord.objects.active_on``). A verification takes effect for
# tiers at the next evaluation — the nightly one, or "Evaluate the selected partners' tiers today" in the admin —
# as for a certification import: neither changes a tier by itself (DESIGN §3: only evaluations, the status match
# and staff actions do). Rebates and services compliance read the records when a quarter closes.


@transaction.atomic
def certification_records_verify(*, record_ids, verified_by) -> int:
    """Verify the pending (or rejected) records among ``record_ids``: from now on they count. Return how many
    changed; records already verified are left as they are (verifying twice changes nothing)."""
    return (
        CertificationRecord.objects.filter(pk__in=list(record_ids))
        .exclude(status=CertificationRecord.Status.VERIFIED)
        .update(
            status=CertificationRecord.Status.VERIFIED,
            reviewed_by=verified_by,
            reviewed_at=timezone.now(),
            rejection_reason="",
        )
    )


@transaction.atomic
def certification_records_reject(*, record_ids, rejected_by, reason: str) -> int:
    """Reject the records among ``record_ids`` not rejected already, with ``reason``: they never count. Each
    partner's admins get one email (in their language) listing its rejected records and the reason. Return
    how many changed."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": [_("Give the reason: it is sent to the partner.")]})
    records = list(
        CertificationRecord.objects.select_for_update(of=("self",))
        .filter(pk__in=list(record_ids))
        .exclude(status=CertificationRecord.Status.REJECTED)
        .select_related("person__partner", "certification")
        .order_by("person__partner_id", "person__name", "earned_on", "pk")
    )
    if not records:
        return 0
    now = timezone.now()
    CertificationRecord.objects.filter(pk__in=[record.pk for record in records]).update(
        status=CertificationRecord.Status.REJECTED, reviewed_by=rejected_by, reviewed_at=now, rejection_reason=reason
    )
    by_partner: dict[int, list[CertificationRecord]] = {}
    for record in records:
        by_partner.setdefault(record.person.partner_id, []).append(record)
    admins = partner_users_with_roles(by_partner, [Membership.Role.ADMIN])
    for partner_id, partner_records in by_partner.items():
        email_users(
            key=f"certifications-rejected:{partner_id}:{partner_records[0].pk}:{now.isoformat()}",
            users=admins.get(partner_id, []),
            template="partners/email/certifications_rejected",
            context={
                "partner": partner_records[0].person.partner,
                "records": partner_records,
                "reason": reason,
                "url": portal_url(reverse("people")),
            },
        )
    return len(records)
