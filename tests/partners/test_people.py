"""People & certifications: partner admins add people and record certifications; everyone else is refused."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from partners.models import Certification, CertificationRecord, Person
from partners.services import certification_record_add, person_add
from tests.factories import CertificationRecordFactory, MembershipFactory, PartnerFactory, PersonFactory, UserFactory

pytestmark = pytest.mark.django_db
PEOPLE = reverse("people")


@pytest.fixture
def admin(client):
    membership = MembershipFactory(role="admin")
    client.force_login(membership.user)
    return membership


@pytest.fixture
def partner(admin):
    return admin.partner


def certification(code="TECH-SERVER"):
    return Certification.objects.get(code=code)


def record_form(person, code="TECH-SERVER", earned_on=None, expires_on=""):
    earned_on = earned_on or timezone.localdate() - timedelta(days=10)
    return {
        "form": "certification",
        "person": person.pk,
        "certification": certification(code).pk,
        "earned_on": earned_on.isoformat(),
        "expires_on": expires_on and expires_on.isoformat(),
    }


@pytest.mark.parametrize("role", ["sales", "finance"])
def test_only_partner_admins_reach_the_page(client, role):
    client.force_login(MembershipFactory(role=role).user)
    assert client.get(PEOPLE).status_code == 403
    assert client.post(PEOPLE, {"name": "X", "email": "x@example.com"}).status_code == 403
    assert not Person.objects.exists()


def test_staff_without_a_partner_is_refused(client):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(PEOPLE).status_code == 403


def test_the_page_lists_the_partners_people_records_and_todays_counts(client, partner):
    today = timezone.localdate()
    ada = PersonFactory(partner=partner, name="Ada")
    CertificationRecordFactory(
        person=ada, certification=certification("TECH-STORAGE"), earned_on=today - timedelta(days=5)
    )
    CertificationRecordFactory(
        person=ada, certification=certification("SALES-SERVER"), earned_on=today - timedelta(days=3)
    )
    bob = PersonFactory(partner=partner, name="Bob")
    CertificationRecordFactory(
        person=bob, earned_on=today - timedelta(days=900), expires_on=today - timedelta(days=1)
    )  # expired yesterday
    cleo = PersonFactory(partner=partner, name="Cleo")
    CertificationRecordFactory(person=cleo, certification=certification("TECH-STORAGE"), earned_on=today)
    CertificationRecordFactory(person=cleo, earned_on=today + timedelta(days=1))  # not yet earned
    PersonFactory(partner=partner, name="Dan")
    PersonFactory(partner=PartnerFactory(), name="Someone Else")

    response = client.get(PEOPLE)
    assert response.status_code == 200
    assert [person.name for person in response.context["people"]] == ["Ada", "Bob", "Cleo", "Dan"]
    assert response.context["certified_people"] == 2  # Bob's only record has expired
    # Storage counts once (two people hold it); a sales certification and a future record are no competency
    assert response.context["competencies"] == ["Storage"]
    content = response.content.decode()
    assert "Someone Else" not in content
    assert "active" in content and "expired" in content and "not yet valid" in content


def test_an_admin_adds_a_person(client, partner):
    response = client.post(PEOPLE, {"form": "person", "name": " Grace Hopper ", "email": "Grace@Example.com"})
    assert response.status_code == 302
    person = Person.objects.get()
    assert (person.partner, person.name, person.email, person.user) == (
        partner,
        "Grace Hopper",
        "grace@example.com",
        None,
    )


def test_a_duplicate_email_in_the_same_partner_is_a_form_error(client, partner):
    PersonFactory(partner=partner, email="grace@example.com")
    response = client.post(PEOPLE, {"form": "person", "name": "Grace", "email": "GRACE@example.com"})
    assert response.status_code == 400
    assert "grace@example.com is already one of your people." in response.context["person_form"].errors["email"]
    assert Person.objects.count() == 1


def test_the_same_email_may_work_for_another_partner(partner):
    PersonFactory(partner=PartnerFactory(), email="grace@example.com")
    assert person_add(partner=partner, name="Grace", email="grace@example.com").partner == partner


def test_person_add_says_what_is_missing(partner):
    with pytest.raises(ValidationError) as error:
        person_add(partner=partner, name="  ", email="not-an-email")
    assert set(error.value.message_dict) == {"name", "email"}


def test_an_admin_records_a_certification_with_the_standard_validity(client, partner):
    person = PersonFactory(partner=partner)
    earned_on = timezone.localdate() - timedelta(days=10)
    response = client.post(PEOPLE, record_form(person, earned_on=earned_on))
    assert response.status_code == 302
    record = CertificationRecord.objects.get()
    assert (record.person, record.earned_on, record.expires_on_given) == (person, earned_on, False)
    assert record.expires_on > earned_on  # earned on + 24 months


def test_an_explicit_expiry_is_kept(client, partner):
    person = PersonFactory(partner=partner)
    earned_on = timezone.localdate() - timedelta(days=10)
    client.post(PEOPLE, record_form(person, earned_on=earned_on, expires_on=earned_on + timedelta(days=365)))
    record = CertificationRecord.objects.get()
    assert (record.expires_on, record.expires_on_given) == (earned_on + timedelta(days=365), True)


def test_expiry_must_be_after_the_date_earned(client, partner):
    person = PersonFactory(partner=partner)
    earned_on = timezone.localdate() - timedelta(days=10)
    for expires_on in (earned_on, earned_on - timedelta(days=1)):
        response = client.post(PEOPLE, record_form(person, earned_on=earned_on, expires_on=expires_on))
        assert response.status_code == 400
        assert response.context["record_form"].errors["expires_on"] == [
            "The expiry date must be after the date earned."
        ]
    assert not CertificationRecord.objects.exists()


def test_a_certification_cannot_be_earned_in_the_future(client, partner):
    person = PersonFactory(partner=partner)
    response = client.post(PEOPLE, record_form(person, earned_on=timezone.localdate() + timedelta(days=1)))
    assert response.status_code == 400
    assert response.context["record_form"].errors["earned_on"] == ["The date earned cannot be in the future."]
    assert not CertificationRecord.objects.exists()


def test_a_certification_earned_today_is_accepted(partner):
    person = PersonFactory(partner=partner)
    record = certification_record_add(person=person, certification=certification(), earned_on=timezone.localdate())
    assert record.pk


def test_the_same_record_twice_is_a_form_error(client, partner):
    person = PersonFactory(partner=partner, name="Ada")
    data = record_form(person)
    assert client.post(PEOPLE, data).status_code == 302
    response = client.post(PEOPLE, data)
    assert response.status_code == 400
    [message] = response.context["record_form"].errors["certification"]
    assert message.startswith("Ada already has TECH-SERVER earned on")
    assert CertificationRecord.objects.count() == 1


def test_partner_b_cannot_certify_partner_a_person(client, partner):
    theirs = PersonFactory(partner=PartnerFactory())
    assert client.post(PEOPLE, record_form(theirs)).status_code == 404
    assert client.post(PEOPLE, {**record_form(theirs), "person": "abc"}).status_code == 404
    assert not CertificationRecord.objects.exists()


def test_the_page_reads_a_bounded_number_of_queries(client, partner, django_assert_max_num_queries):
    for _index in range(15):
        person = PersonFactory(partner=partner)
        CertificationRecordFactory(person=person)
        CertificationRecordFactory(person=person, certification=certification("SALES-STORAGE"))
    # session, user, membership, people, records, certified count, competencies, people + catalog for the form
    with django_assert_max_num_queries(9):
        assert client.get(PEOPLE).status_code == 200


@pytest.mark.parametrize("offset", [-1, 0, 1, 29, 30, 31])
def test_one_record_is_active_by_the_same_rule_as_the_queryset(offset):
    """``earned_on <= day < expires_on``: the model method (the people page) and ``active_on`` (the tier engine)
    agree on each side of both bounds."""
    earned_on = timezone.localdate() - timedelta(days=100)
    record = CertificationRecordFactory(earned_on=earned_on, expires_on=earned_on + timedelta(days=30))
    day = earned_on + timedelta(days=offset)
    in_queryset = CertificationRecord.objects.active_on(day).filter(pk=record.pk).exists()
    assert record.is_active_on(day) is in_queryset is (0 <= offset < 30)
