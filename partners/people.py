"""The people of a partner and their certification records (DESIGN §3): the partner admin's page reads and writes.

Writes validate, then change one row, atomically; every failure is a ``ValidationError`` keyed by field with a
message a partner admin can act on.
"""

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from .models import Certification, CertificationRecord, Partner, Person

COMPETENCY_TRACKS = (Certification.Track.TECHNICAL, Certification.Track.SERVICES_DELIVERY)


# --- Reads ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificationSummary:
    certified_people: int
    competencies: list[str]


def people_with_certifications(*, people: QuerySet[Person]) -> QuerySet[Person]:
    """``people`` (already scoped to one partner) by name, each with its records (newest first) prefetched."""
    records = CertificationRecord.objects.select_related("certification").order_by("-earned_on", "certification__code")
    return people.order_by("name", "email").prefetch_related(Prefetch("certifications", queryset=records))


def certification_summary(*, records: QuerySet[CertificationRecord], day: date) -> CertificationSummary:
    """Certified people and competencies on ``day`` among ``records`` (already scoped to one partner)."""
    active = records.active_on(day).order_by()  # no default ordering: it would take part in DISTINCT
    certified_people = active.values("person_id").distinct().count()
    competencies = sorted(
        active.filter(certification__track__in=COMPETENCY_TRACKS)
        .values_list("certification__product_line", flat=True)
        .distinct()
    )
    return CertificationSummary(certified_people=certified_people, competencies=competencies)


# --- Writes -----------------------------------------------------------------------------------------------------


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
    *, person: Person, certification: Certification, earned_on: date, expires_on: date | None = None
) -> CertificationRecord:
    """Record that ``person`` earned ``certification`` on ``earned_on``; a blank ``expires_on`` means earned on +
    the certification's validity."""
    errors = {}
    if earned_on > timezone.localdate():
        errors["earned_on"] = [_("The date earned cannot be in the future.")]
    if expires_on is not None and expires_on <= earned_on:
        errors["expires_on"] = [_("The expiry date must be after the date earned.")]
    if errors:
        raise ValidationError(errors)
    duplicate = _("%(person)s already has %(certification)s earned on %(date)s.") % {
        "person": person.name,
        "certification": certification.code,
        "date": formats.date_format(earned_on, "SHORT_DATE_FORMAT"),
    }
    if CertificationRecord.objects.filter(person=person, certification=certification, earned_on=earned_on).exists():
        raise ValidationError({"certification": [duplicate]})
    try:
        with transaction.atomic():
            return CertificationRecord.objects.create(
                person=person, certification=certification, earned_on=earned_on, expires_on=expires_on
            )
    except IntegrityError:
        raise ValidationError({"certification": [duplicate]}) from None
