"""Partners, their people and certifications, zones and tiers (DESIGN §3)."""

import secrets
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.countries import validate_country_code
from portal.fiscal import add_months

country_code_validator = validate_country_code  # one ISO 3166 list for partners, zones and customers


class ZoneQuerySet(models.QuerySet):
    def for_country(self, country: str) -> "Zone":
        zone = self.filter(countries__country=country).first()
        return zone or self.get(is_default=True)


class Zone(models.Model):
    """A group of countries sharing tier thresholds, a minimum deal size and a hard-deck ceiling."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    is_default = models.BooleanField(_("default zone"), default=False, help_text=_("Countries not listed elsewhere."))
    min_deal_size = models.DecimalField(_("minimum deal size"), max_digits=14, decimal_places=2, default=0)
    hard_deck_ceiling = models.DecimalField(
        _("hard-deck ceiling"),
        max_digits=14,
        decimal_places=2,
        default=100000,
        help_text=_("Direct orders under this total are routed to the channel."),
    )

    objects = ZoneQuerySet.as_manager()

    class Meta:
        verbose_name = _("zone")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="zone_one_default"),
        ]

    def __str__(self):
        return self.code


class ZoneCountry(models.Model):
    zone = models.ForeignKey(Zone, on_delete=models.CASCADE, related_name="countries")
    country = models.CharField(_("country"), max_length=2, unique=True, validators=[country_code_validator])

    class Meta:
        verbose_name = _("zone country")
        verbose_name_plural = _("zone countries")
        ordering = ["country"]

    def __str__(self):
        return f"{self.country} → {self.zone}"


class Tier(models.Model):
    """A program tier; Titanium Black is an overlay on Titanium (``is_overlay``)."""

    AUTHORIZED = "authorized"
    GOLD = "gold"
    PLATINUM = "platinum"
    TITANIUM = "titanium"
    TITANIUM_BLACK = "titanium_black"

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=50)
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True)
    is_overlay = models.BooleanField(_("overlay award"), default=False)
    routing_weight = models.PositiveSmallIntegerField(_("routing weight"), default=1, validators=[MinValueValidator(1)])
    auto_approval_limit = models.DecimalField(
        _("auto-approval limit"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Blank: registrations are never approved automatically."),
    )
    protection_days = models.PositiveSmallIntegerField(_("protection (days)"), default=90)

    class Meta:
        verbose_name = _("tier")
        ordering = ["rank"]

    def __str__(self):
        return self.name


class TierRequirement(models.Model):
    """One path to a tier in a zone; a partner qualifies when any path is fully met."""

    zone = models.ForeignKey(Zone, on_delete=models.CASCADE, related_name="requirements")
    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="requirements")
    path = models.SlugField(_("path"), max_length=30)
    min_revenue = models.DecimalField(_("qualifying revenue ≥"), max_digits=16, decimal_places=2, default=0)
    min_services_revenue = models.DecimalField(_("services revenue ≥"), max_digits=16, decimal_places=2, default=0)
    min_certified_people = models.PositiveIntegerField(_("certified people ≥"), default=0)
    min_competencies = models.PositiveIntegerField(_("competencies ≥"), default=0)

    class Meta:
        verbose_name = _("tier requirement")
        ordering = ["zone__code", "tier__rank", "path"]
        constraints = [
            models.UniqueConstraint(fields=["zone", "tier", "path"], name="tierrequirement_unique_path"),
            models.CheckConstraint(
                condition=Q(min_revenue__gte=0) & Q(min_services_revenue__gte=0), name="tierrequirement_non_negative"
            ),
        ]

    def __str__(self):
        return f"{self.zone} {self.tier} ({self.path})"

    def clean(self):
        if self.tier_id and self.tier.is_overlay:
            raise ValidationError(_("Titanium Black is awarded by staff; it has no requirements."))


class Partner(models.Model):
    class Kind(models.TextChoices):
        RESELLER = "reseller", _("Reseller")
        SERVICE_PROVIDER = "service_provider", _("Service provider")

    class LegacyDellTier(models.TextChoices):
        REGISTERED = "registered", "Registered"
        PREFERRED = "preferred", "Preferred"
        PREMIER = "premier", "Premier"
        PREMIER_PLUS = "premier_plus", "Premier Plus"

    class LegacyEmcTier(models.TextChoices):
        AUTHORIZED = "authorized", "Authorized"
        SILVER = "silver", "Silver"
        GOLD = "gold", "Gold"
        PLATINUM = "platinum", "Platinum"

    code = models.CharField(
        _("partner code"),
        max_length=20,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]+$", _("Letters, digits, - and _ only."))],
    )
    name = models.CharField(_("name"), max_length=200)
    country = models.CharField(_("country"), max_length=2, validators=[country_code_validator])
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.RESELLER)
    active = models.BooleanField(_("active"), default=True)
    legacy_dell_tier = models.CharField(
        _("legacy Dell tier"), max_length=20, choices=LegacyDellTier.choices, blank=True
    )
    legacy_emc_tier = models.CharField(_("legacy EMC tier"), max_length=20, choices=LegacyEmcTier.choices, blank=True)
    joined_on = models.DateField(
        _("joined on"),
        null=True,
        blank=True,
        help_text=_(
            "The day the partner joined the program; its status match is effective then. Blank: the program start."
        ),
    )
    # Denormalised from the tier history by the tier services, for pages and routing; the history is the truth.
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    computed_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    at_risk = models.BooleanField(_("at risk"), default=False)
    at_risk_reason = models.TextField(_("at-risk reason"), blank=True)
    # The same reason as a kind and its parameters (``calculations.at_risk_details``), worded per reader.
    at_risk_details = models.JSONField(_("at-risk details"), default=dict, db_default={}, blank=True)
    evaluated_on = models.DateField(_("last evaluated on"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("partner")
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"

    @property
    def zone(self) -> Zone:
        return Zone.objects.for_country(self.country)

    @property
    def at_risk_lines(self) -> list[str]:
        """Why the partner is at risk, in the active language (the stored English text when no details)."""
        from .tiers.reasons import at_risk_lines

        if self.at_risk_details:
            return at_risk_lines(self.at_risk_details)
        return [line for line in self.at_risk_reason.splitlines() if line.strip()]

    def join_date(self, program_start: date) -> date:
        """The day the partner joined: ``joined_on``, or the program start when blank (DESIGN §3)."""
        return self.joined_on or program_start


class Membership(models.Model):
    """A portal user's place in exactly one partner, with one role."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("Administrator")
        SALES = "sales", _("Sales")
        FINANCE = "finance", _("Finance")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        ordering = ["partner__code", "user__email"]

    def __str__(self):
        return f"{self.user} — {self.partner.code} ({self.role})"


def _invitation_token():
    return secrets.token_urlsafe(32)


INVITATION_VALID_DAYS = 14  # the emailed invitation states its expiry date, read from the row


def _invitation_expiry():
    return timezone.now() + timedelta(days=INVITATION_VALID_DAYS)


class Invitation(models.Model):
    """An emailed invitation to join a partner with a role; accepting it creates the login."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email"))
    role = models.CharField(_("role"), max_length=10, choices=Membership.Role.choices)
    token = models.CharField(max_length=64, unique=True, default=_invitation_token, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=_invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            )
        ]

    def __str__(self):
        return f"{self.email} → {self.partner.code}"

    @property
    def is_usable(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class Person(models.Model):
    """Someone who works for a partner, with or without a portal login; holds certifications."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="people")
    email = models.EmailField(_("email"))
    name = models.CharField(_("name"), max_length=200)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="person"
    )

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["partner__code", "name"]
        constraints = [models.UniqueConstraint(fields=["partner", "email"], name="person_unique_email_per_partner")]

    def __str__(self):
        return f"{self.name} <{self.email}>"


class Certification(models.Model):
    """The certification catalog."""

    class Track(models.TextChoices):
        SALES = "sales", _("Sales")
        TECHNICAL = "technical", _("Technical")
        SERVICES_DELIVERY = "services_delivery", _("Services delivery")

    # A partner's competencies are the product lines of its active records in these tracks (DESIGN §3).
    COMPETENCY_TRACKS = (Track.TECHNICAL, Track.SERVICES_DELIVERY)

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    track = models.CharField(_("track"), max_length=20, choices=Track.choices)
    product_line = models.CharField(_("product line"), max_length=20)
    validity_months = models.PositiveSmallIntegerField(_("validity (months)"), default=24)

    class Meta:
        verbose_name = _("certification")
        ordering = ["code"]

    def __str__(self):
        return self.code

    @property
    def display_name(self) -> str:
        """The name in the reader's language: the seed catalog's names are translated, a name staff typed is not."""
        english, translated = SEED_CERTIFICATION_NAMES.get(self.code, (None, None))
        return str(translated) if self.name == english else self.name


# The seed catalog (DESIGN §3, partners/migrations/0003): code → (the English name stored, its translation).
SEED_CERTIFICATION_NAMES = {
    "SALES-SERVER": ("Sales — Server", _("Sales — Server")),
    "SALES-STORAGE": ("Sales — Storage", _("Sales — Storage")),
    "SALES-NETWORKING": ("Sales — Networking", _("Sales — Networking")),
    "TECH-SERVER": ("Technical — Server", _("Technical — Server")),
    "TECH-STORAGE": ("Technical — Storage", _("Technical — Storage")),
    "TECH-NETWORKING": ("Technical — Networking", _("Technical — Networking")),
    "TECH-HCI": ("Technical — Hyper-converged infrastructure", _("Technical — Hyper-converged infrastructure")),
    "TECH-DP": ("Technical — Data protection", _("Technical — Data protection")),
    "SVC-DELIVERY": ("Services delivery", _("Services delivery")),
}


class CertificationRecordQuerySet(models.QuerySet):
    def verified(self):
        """Records channel staff trust: imported, entered by staff, or entered in the portal and verified."""
        return self.filter(status=CertificationStatus.VERIFIED)

    def active_on(self, day):
        """Records counting on ``day``: verified, and ``earned_on <= day < expires_on`` (``expires_on`` is always
        stored).

        The one rule for a certification held on a date (DESIGN §3): tiers, competencies, services-delivery
        compliance and rebates all read it. A record entered in the portal counts only once staff verified it;
        pending and rejected records never count. ``CertificationRecord.is_active_on`` is the same rule for one
        record, ``certification_active_sql`` the same rule for raw SQL.
        """
        return self.verified().filter(earned_on__lte=day, expires_on__gt=day)


class CertificationStatus(models.TextChoices):
    """Where a certification record stands with channel staff; only verified records count."""

    PENDING = "pending", _("Pending verification")
    VERIFIED = "verified", _("Verified")
    REJECTED = "rejected", _("Rejected")


class CertificationRecord(models.Model):
    Status = CertificationStatus

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="certifications")
    certification = models.ForeignKey(Certification, on_delete=models.PROTECT, related_name="records")
    earned_on = models.DateField(_("earned on"))
    expires_on = models.DateField(_("expires on"), help_text=_("Blank in an import: earned on + the validity."))
    expires_on_given = models.BooleanField(default=True, editable=False)
    # Pending unless said otherwise: only the certification import and channel staff create verified records;
    # a partner admin's entry in the portal waits for staff (``partners.services.certification_records_verify``).
    status = models.CharField(
        _("verification"), max_length=10, choices=Status.choices, default=Status.PENDING, editable=False
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("entered by"),
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("verified or rejected by"),
    )
    reviewed_at = models.DateTimeField(_("verified or rejected at"), null=True, blank=True, editable=False)
    rejection_reason = models.TextField(_("rejection reason"), blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CertificationRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("certification record")
        ordering = ["-earned_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "certification", "earned_on"], name="certrecord_unique_person_cert_earned"
            ),
            models.CheckConstraint(condition=Q(expires_on__gt=models.F("earned_on")), name="certrecord_expires_after"),
            models.CheckConstraint(condition=Q(status__in=CertificationStatus.values), name="certrecord_status_valid"),
            models.CheckConstraint(
                condition=~Q(status=CertificationStatus.REJECTED) | ~Q(rejection_reason=""),
                name="certrecord_rejected_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["earned_on", "expires_on"]),
            models.Index(fields=["status", "created_at"], name="certrecord_status_queue"),
        ]

    def __str__(self):
        return f"{self.person} {self.certification} {self.earned_on}"

    def save(self, *args, **kwargs):
        if self.expires_on is None:
            self.expires_on = add_months(self.earned_on, self.certification.validity_months)
            self.expires_on_given = False
        super().save(*args, **kwargs)

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def is_rejected(self) -> bool:
        return self.status == self.Status.REJECTED

    def is_active_on(self, day) -> bool:
        """Does this record count on ``day`` (verified and ``earned_on <= day < expires_on``, as
        ``objects.active_on``)?"""
        return self.status == self.Status.VERIFIED and self.earned_on <= day < self.expires_on


# The same rule for raw SQL (the PostgreSQL rebate path): merge ``CERTIFICATION_SQL_PARAMS`` into the query's.
CERTIFICATION_SQL_PARAMS = {"cert_verified": CertificationRecord.Status.VERIFIED.value}


def certification_active_sql(record: str, day: str) -> str:
    """``objects.active_on`` as a SQL condition on a record (alias ``record``) and a date expression ``day``."""
    return f"{record}.status = %(cert_verified)s AND {record}.earned_on <= {day} AND {record}.expires_on > {day}"


class AttestationQuerySet(models.QuerySet):
    def active_on(self, day):
        return self.filter(starts_on__lte=day).filter(Q(ends_on__isnull=True) | Q(ends_on__gt=day))


class DellOnlyAttestation(models.Model):
    """The partner sells only Dell EMC servers, networking and storage: 1.25X while active."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="attestations")
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"), null=True, blank=True, help_text=_("Exclusive; blank: open-ended."))
    signed_by = models.CharField(_("signed by"), max_length=200, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AttestationQuerySet.as_manager()

    class Meta:
        verbose_name = _("Dell-only attestation")
        ordering = ["-starts_on"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "starts_on"], name="attestation_unique_start"),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gt=models.F("starts_on")), name="attestation_ends_after"
            ),
        ]

    def __str__(self):
        return f"{self.partner.code} {self.starts_on}–{self.ends_on or '…'}"


class TierHistory(models.Model):
    """Every tier change, with the figures it was computed from; the tier on any date is read from here."""

    class Reason(models.TextChoices):
        STATUS_MATCH = "status_match", _("status match")
        UPGRADE = "upgrade", _("upgrade")
        ANNUAL_REVIEW = "annual_review", _("annual review")
        TITANIUM_BLACK_AWARD = "titanium_black_award", _("Titanium Black award")
        TITANIUM_BLACK_EXPIRY = "titanium_black_expiry", _("Titanium Black expiry")
        TITANIUM_BLACK_REVOCATION = "titanium_black_revocation", _("Titanium Black revocation")
        MANUAL_OVERRIDE = "manual_override", _("manual override")

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="tier_history")
    from_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    effective_on = models.DateField(_("effective on"))
    reason = models.CharField(_("reason"), max_length=30, choices=Reason.choices)
    note = models.TextField(_("note"), blank=True)
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier history")
        ordering = ["-effective_on", "-id"]
        indexes = [models.Index(fields=["partner", "effective_on"])]

    def __str__(self):
        return f"{self.partner.code}: {self.from_tier} → {self.to_tier} on {self.effective_on}"


class TitaniumBlackAward(models.Model):
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="titanium_black_awards")
    awarded_on = models.DateField(_("awarded on"))
    ends_on = models.DateField(_("valid until (exclusive)"))
    sponsor = models.CharField(_("sponsor"), max_length=200)
    reason = models.TextField(_("reason"))
    awarded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=30, blank=True)

    class Meta:
        verbose_name = _("Titanium Black award")
        ordering = ["-awarded_on"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gt=models.F("awarded_on")), name="tbaward_ends_after"),
        ]

    def __str__(self):
        return f"{self.partner.code} Titanium Black {self.awarded_on}"


class PartnerViewSession(models.Model):
    """A staff member viewing the portal as a partner's users see it, for support: read only, logged.

    Started from the partner's admin page by staff with ``view_as_partner``; ended by Stop, by signing out, or by
    starting another one. ``partners.view_as`` makes the partner scoping resolve to ``partner`` for that staff
    user while ``ended_at`` is empty and the session carries its id.
    """

    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("staff user")
    )
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="+", verbose_name=_("partner"))
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)

    class Meta:
        verbose_name = _("view as partner session")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["staff_user", "ended_at"])]
        permissions = [("view_as_partner", _("Can view the portal as a partner (read only)"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="partnerviewsession_ends_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.staff_user} as {self.partner.code} ({self.started_at:%Y-%m-%d %H:%M})"
