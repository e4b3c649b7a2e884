import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from partners.models import Partner
from portal.models import ImportRun
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
HEADER = "partner_code,name,country,kind,legacy_dell_tier,legacy_emc_tier,dell_only_attested_on,admin_email\n"


def upload(client, content: bytes):
    file = SimpleUploadedFile("partners.csv", content, content_type="text/csv")
    return client.post(reverse("admin:portal_importrun_upload"), {"kind": "partners", "file": file})


def test_staff_upload_a_file_through_the_same_importer(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = upload(client, (HEADER + "P1,One,FR,reseller,,,,\n").encode())
    assert response.status_code == 302
    assert Partner.objects.filter(code="P1").exists()
    assert ImportRun.objects.get().imported_by is not None


def test_a_bad_upload_lists_every_bad_row_and_imports_nothing(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    body = HEADER + "P1,One,FR,reseller,,,,\nP 2,Two,FR,reseller,,,,\nP3,Three,XX1,x,,,,\n"
    response = upload(client, body.encode())
    assert response.status_code == 200
    content = response.content.decode()
    assert "Nothing was imported: 2 rows have problems." in content  # 2 rows, 3 problems
    assert "partner_code" in content and "country" in content and "kind" in content
    assert not Partner.objects.exists()
    assert ImportRun.objects.get().status == "rejected"


def test_partner_users_cannot_upload(client):
    client.force_login(MembershipFactory().user)
    response = upload(client, (HEADER + "P1,One,FR,reseller,,,,\n").encode())
    assert response.status_code == 302  # the admin sends a non-staff user to sign in as staff
    assert not Partner.objects.filter(code="P1").exists()
