import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from partners.models import Partner
from portal.models import ImportRun
from tests.conftest import worker_log
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Uploaded files go to a temporary MEDIA_ROOT, not the checkout's var/media."""
    settings.MEDIA_ROOT = tmp_path


HEADER = "partner_code,name,country,kind,legacy_dell_tier,legacy_emc_tier,dell_only_attested_on,admin_email\n"


def upload(client, content: bytes, *, kind="partners", name="partners.csv"):
    file = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post(reverse("admin:portal_importrun_upload"), {"kind": kind, "file": file})


def test_staff_upload_a_file_through_the_same_importer(client, django_capture_on_commit_callbacks):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    with django_capture_on_commit_callbacks(execute=True) as queued:  # the task runs in-process (eager) here
        response = upload(client, (HEADER + "P1,One,FR,reseller,,,,\n").encode())
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:portal_importrun_status", args=[run.pk]
    )
    assert len(queued) == 1
    assert Partner.objects.filter(code="P1").exists()
    assert (run.status, run.created, run.imported_by is not None) == ("applied", 1, True)
    assert run.file_sha256 and run.upload.name.startswith("imports/")
    page = client.get(response["Location"]).content.decode()
    assert "Imported: 1 rows, 1 created, 0 unchanged." in page


def test_an_upload_waits_as_pending_until_a_worker_imports_it(client, django_capture_on_commit_callbacks):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = upload(client, (HEADER + "P1,One,FR,reseller,,,,\n").encode())
    run = ImportRun.objects.get()
    assert (run.status, len(queued)) == ("pending", 1)
    assert not Partner.objects.exists()  # nothing is imported inside the web request
    page = client.get(response["Location"]).content.decode()
    assert "Waiting for a worker" in page and 'http-equiv="refresh"' in page
    queued[0]()
    queued[0]()  # delivered twice: the second finds the run claimed and does nothing
    run.refresh_from_db()
    assert run.status == "applied" and Partner.objects.count() == 1
    assert 'http-equiv="refresh"' not in client.get(response["Location"]).content.decode()


def test_a_bad_upload_lists_every_bad_row_and_imports_nothing(client, django_capture_on_commit_callbacks):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    body = HEADER + "P1,One,FR,reseller,,,,\nP 2,Two,FR,reseller,,,,\nP3,Three,XX1,x,,,,\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, body.encode())
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    content = page.content.decode()
    assert "Nothing was imported: 2 rows have problems." in content  # 2 rows, 3 problems
    assert "partner_code" in content and "country" in content and "kind" in content
    assert not Partner.objects.exists()
    assert ImportRun.objects.get().status == "rejected"
    assert ImportRun.objects.get().error_count == 3


def test_an_import_that_stops_on_an_unexpected_error_is_failed_not_left_running(client):
    from portal.csvimport import import_run_process

    run = ImportRun.objects.create(kind="partners", file_name="gone.csv", status="pending", upload="imports/gone.csv")
    import_run_process(run.pk)  # the stored file is missing
    run.refresh_from_db()
    assert run.status == "failed" and run.finished_at is not None and run.error_count == 1


def test_partner_users_cannot_upload(client):
    client.force_login(MembershipFactory().user)
    response = upload(client, (HEADER + "P1,One,FR,reseller,,,,\n").encode())
    assert response.status_code == 302  # the admin sends a non-staff user to sign in as staff
    assert not Partner.objects.filter(code="P1").exists()


ORDERS_HEADER = (
    "order_number,booked_on,channel,partner_code,customer_name,customer_country,customer_vat,customer_domain,"
    "line_number,product_line,sku,description,quantity,net_amount,service_delivery,registration_number,"
    "credits_order_number\n"
)


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_imports_an_upload_and_its_status_page_shows_the_outcome(
    celery_worker_process, route_tasks, client, settings
):
    """The upload returns at once with a pending run; a real Celery worker on PostgreSQL imports the file."""
    import time

    import portal.settings

    settings.MEDIA_ROOT = portal.settings.MEDIA_ROOT  # where the worker process reads uploads
    from deals.models import OrderLine
    from portal.celery import app
    from tests.factories import PartnerFactory

    PartnerFactory(code="P1")
    rows = "".join(
        f"SO-{n},2017-03-01,partner,P1,Dupont SA,FR,FR123456789,,1,server,SKU,,1,{n}.00,,,\n" for n in range(1, 2001)
    )
    bad = "SO-X,2017-02-30,partner,P1,Dupont SA,FR,,,1,server,SKU,,1,1.00,,,\n"
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    app.conf.task_always_eager = False
    route_tasks({"portal.tasks.import_run_process_task": celery_worker_process})
    outcomes = []
    for body in (ORDERS_HEADER + rows + bad, ORDERS_HEADER + rows):
        response = upload(client, body.encode(), kind="orders", name="orders.csv")
        assert response.status_code == 302
        run = ImportRun.objects.order_by("-pk").first()
        deadline = time.monotonic() + 90
        while run.status in ("pending", "running") and time.monotonic() < deadline:
            time.sleep(0.3)
            run.refresh_from_db()
        outcomes.append((run.status, run.created, run.error_count))
        page = client.get(response["Location"]).content.decode()
        assert run.status in ("rejected", "applied"), (
            run.status,
            run.errors,
            worker_log(celery_worker_process).read_text()[-4000:],
        )
        run.upload.delete(save=False)
        if run.status == "rejected":
            assert "Nothing was imported: 1 row has a problem." in page and "booked_on" in page
            assert not OrderLine.objects.exists()
        else:
            assert "Imported: 2000 rows, 2000 created, 0 unchanged." in page, (
                run.rows,
                run.created,
                page[page.find("<p>Status") :][:600],
            )
    assert outcomes == [("rejected", 0, 1), ("applied", 2000, 0)]
    assert OrderLine.objects.count() == 2000
