import pytest
from django.core import mail

from partners.imports import CERTIFICATION_HEADER, PARTNER_HEADER
from partners.models import CertificationRecord, DellOnlyAttestation, Invitation, Partner, Person, TierHistory
from portal.csvimport import ImportRejected, import_file

pytestmark = pytest.mark.django_db


def partners_csv(*rows):
    return ("\n".join([",".join(PARTNER_HEADER), *rows]) + "\n").encode()


def certs_csv(*rows):
    return ("\n".join([",".join(CERTIFICATION_HEADER), *rows]) + "\n").encode()


def run_partners(data):
    return import_file(kind="partners", data=data, name="partners.csv")


def run_certs(data):
    return import_file(kind="certifications", data=data, name="certifications.csv")


GOOD = "P1,Reseller One SAS,FR,reseller,premier,silver,2017-03-15,admin@p1.example.com"


def test_partners_are_created_with_status_match_attestation_and_invitation(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run_partners(partners_csv(GOOD, "P2,Two,US,service_provider,,,,"))
    partner = Partner.objects.get(code="P1")
    assert partner.tier.code == "platinum"
    assert TierHistory.objects.get(partner=partner).reason == "status_match"
    assert DellOnlyAttestation.objects.get(partner=partner).starts_on.isoformat() == "2017-03-15"
    assert Invitation.objects.get(partner=partner).email == "admin@p1.example.com"
    assert mail.outbox[0].to == ["admin@p1.example.com"]
    assert Partner.objects.get(code="P2").tier.code == "authorized"


def test_reimporting_partners_is_a_no_op_and_a_contradiction_is_an_error():
    run_partners(partners_csv(GOOD))
    again = run_partners(partners_csv(GOOD))
    assert (again.created, again.unchanged) == (0, 1)
    assert TierHistory.objects.count() == 1 and Invitation.objects.count() == 1
    with pytest.raises(ImportRejected) as info:
        run_partners(partners_csv(GOOD.replace("Reseller One SAS", "Renamed")))
    assert "already exists with a different name" in info.value.errors[0][1]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("P 1,X,FR,reseller,,,,", "partner_code"),
        ("P1,X,France,reseller,,,,", "country"),
        ("P1,X,ZZ,reseller,,,,", "country"),  # user-assigned, not a country
        ("P1,X,FR,distributor,,,,", "kind"),
        ("P1,X,FR,reseller,gold,,,", "legacy_dell_tier"),
        ("P1,X,FR,reseller,,premier,,", "legacy_emc_tier"),
        ("P1,X,FR,reseller,,,15/03/2017,", "dell_only_attested_on"),
        ("P1,X,FR,reseller,,,,not-an-email", "admin_email"),
    ],
)
def test_bad_partner_rows_reject_the_file(row, reason):
    with pytest.raises(ImportRejected) as info:
        run_partners(partners_csv("P0,Fine,FR,reseller,,,,", row))
    assert info.value.errors[0][0] == 3 and reason in info.value.errors[0][1]
    assert not Partner.objects.exists()


def test_a_partner_row_with_a_wrong_column_count_does_not_hide_the_other_rows_errors():
    with pytest.raises(ImportRejected) as info:
        run_partners(partners_csv("P0,Fine,FR", "P1,X,FR,distributor,,,,"))
    assert [line for line, _message in info.value.errors] == [2, 3]
    assert "columns" in info.value.errors[0][1] and "kind" in info.value.errors[1][1]


def test_certifications_create_people_and_records_with_default_validity():
    run_partners(partners_csv(GOOD))
    run_certs(certs_csv(
        "P1,a@p1.example.com,Ann,TECH-SERVER,2016-10-13,",
        "P1,a@p1.example.com,Ann,SALES-STORAGE,2016-05-14,2018-04-22",
    ))  # fmt: skip
    assert Person.objects.get().name == "Ann"
    defaulted = CertificationRecord.objects.get(certification__code="TECH-SERVER")
    assert defaulted.expires_on.isoformat() == "2018-10-13"  # earned_on + 24 months
    again = run_certs(certs_csv("P1,a@p1.example.com,Ann,TECH-SERVER,2016-10-13,"))
    assert (again.created, again.unchanged) == (0, 1)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("P9,a@x.example.com,Ann,TECH-SERVER,2016-10-13,", "unknown partner"),
        ("P1,a@x.example.com,Ann,TECH-TOASTER,2016-10-13,", "unknown certification"),
        ("P1,a@x.example.com,Ann,TECH-SERVER,2016-13-13,", "earned_on"),
        ("P1,a@x.example.com,Ann,TECH-SERVER,2016-10-13,2016-10-01", "after earned_on"),
        ("P1,not-email,Ann,TECH-SERVER,2016-10-13,", "person_email"),
        ("P1,a@x.example.com,,TECH-SERVER,2016-10-13,", "person_name"),
    ],
)
def test_bad_certification_rows_reject_the_file(row, reason):
    run_partners(partners_csv(GOOD))
    with pytest.raises(ImportRejected) as info:
        run_certs(certs_csv("P1,b@x.example.com,Bob,TECH-DP,2016-10-13,", row))
    assert reason in info.value.errors[0][1]
    assert not CertificationRecord.objects.exists() and not Person.objects.exists()


def test_a_certification_contradicting_an_imported_one_is_an_error():
    run_partners(partners_csv(GOOD))
    run_certs(certs_csv("P1,a@p1.example.com,Ann,TECH-SERVER,2016-10-13,2017-10-13"))
    with pytest.raises(ImportRejected) as info:
        run_certs(certs_csv("P1,a@p1.example.com,Ann,TECH-SERVER,2016-10-13,2018-10-13"))
    assert "already recorded with expires_on 2017-10-13" in info.value.errors[0][1]
    with pytest.raises(ImportRejected):
        run_certs(certs_csv("P1,a@p1.example.com,Annie,TECH-DP,2016-10-13,"))
    assert CertificationRecord.objects.count() == 1


def partners_csv_with_join(*rows):
    return ("\n".join([",".join([*PARTNER_HEADER, "joined_on"]), *rows]) + "\n").encode()


def test_the_optional_joined_on_column_dates_the_status_match_and_blank_means_the_program_start():
    run_partners(
        partners_csv_with_join(
            "LATE,Late Joiner SARL,FR,reseller,premier,,,,2019-06-15",
            "EARLY,Early,FR,reseller,premier,,,,",
        )
    )
    late, early = Partner.objects.get(code="LATE"), Partner.objects.get(code="EARLY")
    assert str(TierHistory.objects.get(partner=late).effective_on) == "2019-06-15"
    assert str(TierHistory.objects.get(partner=early).effective_on) == "2017-02-01"
    assert (late.joined_on.isoformat(), early.joined_on) == ("2019-06-15", None)


def test_a_file_without_the_joined_on_column_and_one_with_it_import_the_same_partner_unchanged():
    run_partners(partners_csv("P9,Nine,FR,reseller,,,,"))
    run = run_partners(partners_csv_with_join("P9,Nine,FR,reseller,,,,,"))
    assert (run.created, run.unchanged) == (0, 1)


def test_a_bad_or_early_or_contradicting_join_date_is_reported_with_its_line():
    run_partners(partners_csv_with_join("P8,Eight,FR,reseller,,,,,2018-01-01"))
    with pytest.raises(ImportRejected) as rejected:
        run_partners(
            partners_csv_with_join(
                "P8,Eight,FR,reseller,,,,,2018-02-01",
                "P7,Seven,FR,reseller,,,,,2016-12-31",
                "P6,Six,FR,reseller,,,,,1 June 2018",
            )
        )
    messages = dict(rejected.value.errors)
    assert "different joined_on" in messages[2]
    assert "before the program start (2017-02-01)" in messages[3]
    assert "joined_on: “1 June 2018” is not a date" in messages[4]
    assert not Partner.objects.filter(code__in=["P7", "P6"]).exists()


def test_the_header_names_the_optional_column_when_it_is_wrong():
    with pytest.raises(ImportRejected) as rejected:
        run_partners(("\n".join([",".join([*PARTNER_HEADER, "joined"]), "P5,Five,FR,reseller,,,,,"]) + "\n").encode())
    assert "[,joined_on]" in rejected.value.report()
