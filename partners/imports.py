"""``partners.csv`` and ``certifications.csv`` imports (DESIGN §7): all-or-nothing, re-import is a no-op."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from portal.countries import is_country_code
from portal.csvimport import ImportResult, RowErrors, read_csv
from portal.fiscal import add_months, parse_iso_date
from portal.models import Program

from .models import (
    Certification,
    CertificationRecord,
    DellOnlyAttestation,
    Invitation,
    Membership,
    Partner,
    Person,
)
from .services import invitation_create, partner_status_match

PARTNER_HEADER = [
    "partner_code",
    "name",
    "country",
    "kind",
    "legacy_dell_tier",
    "legacy_emc_tier",
    "dell_only_attested_on",
    "admin_email",
]
PARTNER_OPTIONAL = ("joined_on",)  # DESIGN §7: an optional last column, blank for the program start
CERTIFICATION_HEADER = ["partner_code", "person_email", "person_name", "certification_code", "earned_on", "expires_on"]
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,20}$")


def _email_ok(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def _date_or_error(errors: RowErrors, line: int, column: str, value: str):
    try:
        return parse_iso_date(value)
    except ValueError:
        errors.add(line, f"{column}: “{value}” is not a date (YYYY-MM-DD)")
        return None


def _partner_row_check(errors: RowErrors, line: int, row: dict, *, seen: dict[str, int], program_start) -> None:
    """Check one row of ``partners.csv`` (errors go to ``errors``); add the parsed dates to ``row``."""
    code = row["partner_code"]
    if not CODE_PATTERN.match(code):
        errors.add(line, f"partner_code: “{code}” must be 1–20 letters, digits, - or _")
    elif code in seen:
        errors.add(line, f"partner_code: {code} appears twice in the file (first on line {seen[code]})")
    else:
        seen[code] = line
    if not row["name"] or len(row["name"]) > 200:
        errors.add(line, "name: required, at most 200 characters")
    if not is_country_code(row["country"]):
        errors.add(line, f"country: “{row['country']}” is not an ISO 3166 alpha-2 code such as FR")
    if row["kind"] not in Partner.Kind.values:
        errors.add(line, f"kind: “{row['kind']}” must be one of {', '.join(Partner.Kind.values)}")
    if row["legacy_dell_tier"] and row["legacy_dell_tier"] not in Partner.LegacyDellTier.values:
        errors.add(line, f"legacy_dell_tier: “{row['legacy_dell_tier']}” is not a Dell tier")
    if row["legacy_emc_tier"] and row["legacy_emc_tier"] not in Partner.LegacyEmcTier.values:
        errors.add(line, f"legacy_emc_tier: “{row['legacy_emc_tier']}” is not an EMC tier")
    row["attested_on"] = None
    if row["dell_only_attested_on"]:
        row["attested_on"] = _date_or_error(errors, line, "dell_only_attested_on", row["dell_only_attested_on"])
    row["joined"] = None
    if row["joined_on"]:
        row["joined"] = _date_or_error(errors, line, "joined_on", row["joined_on"])
        if row["joined"] and row["joined"] < program_start:
            errors.add(line, f"joined_on: {row['joined_on']} is before the program start ({program_start})")
    row["admin_email"] = row["admin_email"].lower()
    if row["admin_email"] and not _email_ok(row["admin_email"]):
        errors.add(line, f"admin_email: “{row['admin_email']}” is not an email address")


def import_partners(data: bytes, *, name: str = "partners.csv", run=None, user=None) -> ImportResult:
    """Create the partners of ``partners.csv`` with their status match, attestation and first-admin invitation."""
    csv_file = read_csv(data, name=name, header=PARTNER_HEADER, optional=PARTNER_OPTIONAL)
    program_start = Program.current().start_date
    errors = csv_file.errors
    valid: list[tuple[int, dict]] = []
    seen: dict[str, int] = {}
    for line, row in csv_file.rows:
        before = len(errors.errors)
        _partner_row_check(errors, line, row, seen=seen, program_start=program_start)
        if len(errors.errors) == before:
            valid.append((line, row))

    existing = {
        partner.code: partner for partner in Partner.objects.filter(code__in=[r["partner_code"] for _l, r in valid])
    }
    new_rows = []
    unchanged = 0
    for line, row in valid:
        partner = existing.get(row["partner_code"])
        if partner is None:
            new_rows.append(row)
            continue
        differences = [
            column
            for column, stored in [
                ("name", partner.name),
                ("country", partner.country),
                ("kind", partner.kind),
                ("legacy_dell_tier", partner.legacy_dell_tier),
                ("legacy_emc_tier", partner.legacy_emc_tier),
            ]
            if row[column] != stored
        ]
        if partner.join_date(program_start) != (row["joined"] or program_start):
            differences.append("joined_on")
        if row["attested_on"] and not partner.attestations.filter(starts_on=row["attested_on"]).exists():
            differences.append("dell_only_attested_on")
        if row["admin_email"] and not (
            Invitation.objects.filter(partner=partner, email=row["admin_email"]).exists()
            or Membership.objects.filter(partner=partner, user__email__iexact=row["admin_email"]).exists()
        ):
            differences.append("admin_email")
        if differences:
            errors.add(
                line,
                f"partner {partner.code} already exists with a different {', '.join(differences)}; "
                "change it in the admin instead",
            )
        else:
            unchanged += 1
    errors.raise_if_any()

    for row in new_rows:
        partner = Partner.objects.create(
            code=row["partner_code"],
            name=row["name"],
            country=row["country"],
            kind=row["kind"],
            legacy_dell_tier=row["legacy_dell_tier"],
            legacy_emc_tier=row["legacy_emc_tier"],
            joined_on=row["joined"],
        )
        partner_status_match(partner=partner, changed_by=user)
        if row["attested_on"]:
            DellOnlyAttestation.objects.create(
                partner=partner,
                starts_on=row["attested_on"],
                signed_by=row["name"],
                verified_by=user,
                verified_at=timezone.now(),
            )
        if row["admin_email"]:
            invitation_create(partner=partner, email=row["admin_email"], role=Membership.Role.ADMIN, invited_by=user)
    return ImportResult(rows=len(csv_file.rows), created=len(new_rows), unchanged=unchanged)


def import_certifications(data: bytes, *, name: str = "certifications.csv", run=None, user=None) -> ImportResult:
    """Record the certifications of ``certifications.csv``, creating the people they belong to."""
    csv_file = read_csv(data, name=name, header=CERTIFICATION_HEADER)
    errors = csv_file.errors
    now = timezone.now()
    partners = {p.code: p for p in Partner.objects.filter(code__in={r["partner_code"] for _l, r in csv_file.rows})}
    catalog = {c.code: c for c in Certification.objects.all()}
    valid = []
    seen_records: dict[tuple, int] = {}
    names_in_file: dict[tuple[str, str], tuple[str, int]] = {}
    for line, row in csv_file.rows:
        before = len(errors.errors)
        partner = partners.get(row["partner_code"])
        if partner is None:
            errors.add(line, f"partner_code: unknown partner “{row['partner_code']}”")
        email = row["person_email"].lower()
        if not _email_ok(email):
            errors.add(line, f"person_email: “{row['person_email']}” is not an email address")
        if not row["person_name"]:
            errors.add(line, "person_name: required")
        certification = catalog.get(row["certification_code"])
        if certification is None:
            errors.add(line, f"certification_code: unknown certification “{row['certification_code']}”")
        earned_on = _date_or_error(errors, line, "earned_on", row["earned_on"])
        expires_on = _date_or_error(errors, line, "expires_on", row["expires_on"]) if row["expires_on"] else None
        if earned_on and expires_on and expires_on <= earned_on:
            errors.add(line, "expires_on: must be after earned_on")
        person_key = (row["partner_code"], email)
        if person_key in names_in_file and names_in_file[person_key][0] != row["person_name"]:
            first_name, first_line = names_in_file[person_key]
            errors.add(line, f"person_name: {email} is called “{first_name}” on line {first_line}")
        names_in_file.setdefault(person_key, (row["person_name"], line))
        record_key = (row["partner_code"], email, row["certification_code"], row["earned_on"])
        if record_key in seen_records:
            errors.add(line, f"duplicate of line {seen_records[record_key]}")
        seen_records.setdefault(record_key, line)
        if len(errors.errors) == before:
            given = expires_on is not None
            if not given:
                expires_on = add_months(earned_on, certification.validity_months)
            valid.append((line, partner, email, row["person_name"], certification, earned_on, expires_on, given))

    people = {
        (person.partner_id, person.email.lower()): person
        for person in Person.objects.filter(partner__in=partners.values(), email__in={v[2] for v in valid})
    }
    records = {
        (record.person_id, record.certification_id, record.earned_on): record
        for record in CertificationRecord.objects.filter(person__in=people.values())
    }
    new_people: dict[tuple, Person] = {}
    new_records = []
    confirmed: list[CertificationRecord] = []
    unchanged = 0
    for line, partner, email, person_name, certification, earned_on, expires_on, given in valid:
        person = people.get((partner.pk, email))
        if person is not None and person.name != person_name:
            errors.add(line, f"person_name: {email} is already recorded as “{person.name}”")
            continue
        if person is None:
            person = new_people.setdefault((partner.pk, email), Person(partner=partner, email=email, name=person_name))
        existing = records.get((person.pk, certification.pk, earned_on)) if person.pk else None
        if existing is not None and existing.status == CertificationRecord.Status.PENDING:
            # The import is the trusted source: it confirms (with its expiry date) a record a partner admin entered
            # in the portal and staff have not decided yet. A record staff rejected stays rejected (their decision
            # stands, and re-importing a file changes nothing): it is compared like any other below.
            existing.expires_on, existing.expires_on_given = expires_on, given
            confirmed.append(existing)
            continue
        if existing is not None:
            if existing.expires_on != expires_on:
                errors.add(
                    line,
                    f"{certification.code} earned on {earned_on} by {email} is already recorded "
                    f"with expires_on {existing.expires_on}",
                )
            else:
                unchanged += 1
            continue
        new_records.append(
            CertificationRecord(
                person=person,
                certification=certification,
                earned_on=earned_on,
                expires_on=expires_on,
                expires_on_given=given,
                status=CertificationRecord.Status.VERIFIED,  # the import is trusted (DESIGN §7)
                entered_by=user,
                reviewed_by=user,
                reviewed_at=now,
            )
        )
    errors.raise_if_any()
    Person.objects.bulk_create(new_people.values())
    for record in new_records:
        record.person_id = record.person.pk
    CertificationRecord.objects.bulk_create(new_records)
    for record in confirmed:
        record.status, record.reviewed_by, record.reviewed_at, record.rejection_reason = (
            CertificationRecord.Status.VERIFIED,
            user,
            now,
            "",
        )
    CertificationRecord.objects.bulk_update(
        confirmed, ["expires_on", "expires_on_given", "status", "reviewed_by", "reviewed_at", "rejection_reason"]
    )
    return ImportResult(
        rows=len(csv_file.rows),
        created=len(new_records),
        unchanged=unchanged,
        details={"verified": len(confirmed)} if confirmed else {},
    )
