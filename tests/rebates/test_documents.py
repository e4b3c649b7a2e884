"""Statement PDFs are rendered once per statement, language and status, stored, and then served as files: the
downloads (partner and admin), the emails and ``export_statement`` read the stored bytes; a document the
workers have not rendered yet is rendered on first need and stored."""

import hashlib
import io
import re
import threading
from datetime import date

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError, connection, connections, transaction
from django.template.defaultfilters import floatformat
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from portal.fiscal import Quarter
from portal.models import OutboxEmail, TaskOutbox
from portal.money import money_text
from rebates import documents, selectors, services
from rebates.models import Statement, StatementDocument
from tests.factories import MembershipFactory, UserFactory
from tests.factories import rebates as f

pytestmark = pytest.mark.django_db
Q1 = Quarter.parse("FY2018-Q1")


def partner_with_lines(code, *, lines=(("server", "10000.00"),)):
    partner = f.partner(code, tier="gold")
    f.order(partner=partner, customer=f.customer(), booked_on=date(2017, 2, 10), lines=list(lines))
    return partner


def close(capture):
    """Close FY2018-Q1 and run what it queues after commit (the delivery chunks, the emails)."""
    with capture(execute=True):
        services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))


def fingerprints():
    return sorted(
        StatementDocument.objects.values_list("statement_id", "language", "status", "sha256", "rendered_at", "pk")
    )


def test_the_close_renders_each_pdf_once_and_a_second_delivery_or_email_renders_nothing(
    django_capture_on_commit_callbacks,
):
    # given two partners with an admin each, one of them also with a French finance user
    english, mixed = partner_with_lines("P00001"), partner_with_lines("P00002")
    MembershipFactory(partner=english, role="admin")
    MembershipFactory(partner=mixed, role="admin")
    MembershipFactory(partner=mixed, role="finance", user=UserFactory(language="fr"))
    # when the quarter closes and its delivery runs
    close(django_capture_on_commit_callbacks)
    # then each statement has one stored PDF per language its recipients read, whose hash is its content's
    documents_by_statement = {
        statement.partner.code: sorted(statement.documents.values_list("language", "status"))
        for statement in Statement.objects.select_related("partner")
    }
    assert documents_by_statement == {"P00001": [("en", "issued")], "P00002": [("en", "issued"), ("fr", "issued")]}
    for document in StatementDocument.objects.all():
        content = bytes(document.content)
        assert content.startswith(b"%PDF") and hashlib.sha256(content).hexdigest() == document.sha256
    before = fingerprints()
    # when the delivery runs again (a retry, a redelivered chunk, the sweep) and every email is asked for again
    with django_capture_on_commit_callbacks(execute=True):
        services.statements_email_quarter(quarter=str(Q1))
    ids = list(Statement.objects.values_list("pk", flat=True))
    assert services.statements_deliver(statement_ids=ids) == 0
    for statement in Statement.objects.all():
        assert services.statement_email(statement=statement) == 0
        for language in statement.documents.values_list("language", flat=True):
            assert documents.statement_document(statement, language=language).pk in {pk for *_rest, pk in before}
    # then nothing was rendered again: same rows, same bytes, same render times
    assert fingerprints() == before
    assert OutboxEmail.objects.filter(key__startswith="statement:").count() == 3


def test_the_close_queues_the_delivery_in_short_chunks_through_the_outbox(
    django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(services, "DELIVER_CHUNK_STATEMENTS", 2)
    for number in range(1, 4):
        MembershipFactory(partner=partner_with_lines(f"P0000{number}"), role="admin")
    close(django_capture_on_commit_callbacks)
    chunks = TaskOutbox.objects.filter(name=services.STATEMENTS_DELIVER_TASK).order_by("pk")
    ids = sorted(Statement.objects.values_list("pk", flat=True))
    assert [row.args for row in chunks] == [[ids[:2]], [ids[2:]]]
    assert all(row.dispatched_at is not None for row in chunks)
    assert StatementDocument.objects.count() == 3 and OutboxEmail.objects.count() == 3


def test_chunks_are_bounded_by_rebate_lines_and_a_large_statement_is_a_chunk_of_its_own(monkeypatch):
    for code in ("P00001", "P00002", "P00003"):
        partner_with_lines(code)
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    ids = sorted(Statement.objects.values_list("pk", flat=True))
    assert services.statement_chunks(Statement.objects.all()) == [ids]  # small ones share a chunk
    Statement.objects.filter(pk=ids[1]).update(line_count=5000)  # a large one in the middle: each alone
    assert services.statement_chunks(Statement.objects.all()) == [[ids[0]], [ids[1]], [ids[2]]]
    Statement.objects.filter(pk=ids[1]).update(line_count=1)
    Statement.objects.filter(pk=ids[2]).update(line_count=5000)  # a large one last: the small ones together
    assert services.statement_chunks(Statement.objects.all()) == [[ids[0], ids[1]], [ids[2]]]


def test_a_download_serves_the_stored_bytes_as_an_attachment_without_rendering(client):
    partner = partner_with_lines("P00001")
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))  # its delivery has not run
    statement = Statement.objects.get()
    # given a stored document whose bytes no rendering would produce
    stored = b"%PDF-1.7 stored once, served as is"
    StatementDocument.objects.create(
        statement=statement,
        language="en",
        status="issued",
        content=stored,
        sha256=hashlib.sha256(stored).hexdigest(),
        rendered_at=timezone.now(),
        render_seconds="0.001",
    )
    client.force_login(MembershipFactory(partner=partner, role="finance").user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("rebates:statement_pdf", kwargs={"number": statement.number}))
    assert response.status_code == 200 and response.content == stored
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="RS-FY2018-Q1-P00001.pdf"'
    assert response["Content-Length"] == str(len(stored))
    assert response["Cache-Control"] == "private, no-store"
    assert not any("rebates_rebateline" in query["sql"] for query in queries.captured_queries)  # no lines read
    assert StatementDocument.objects.count() == 1


def test_a_missing_pdf_is_rendered_on_first_download_stored_and_then_served_from_storage(client):
    partner = partner_with_lines("P00001")
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))  # the delivery worker has not run yet
    statement = Statement.objects.get()
    assert not StatementDocument.objects.exists()
    client.force_login(MembershipFactory(partner=partner, role="admin").user)
    url = reverse("rebates:statement_pdf", kwargs={"number": statement.number})
    first = client.get(url)
    assert first.status_code == 200 and first.content.startswith(b"%PDF")
    document = StatementDocument.objects.get()
    assert (document.language, document.status) == ("en", "issued")
    assert bytes(document.content) == first.content
    assert hashlib.sha256(first.content).hexdigest() == document.sha256
    again = client.get(url)
    assert again.content == first.content and fingerprints() == [
        (statement.pk, "en", "issued", document.sha256, document.rendered_at, document.pk)
    ]
    # a French user's download is the French document, rendered once too
    client.cookies["portal_language"] = "fr"
    french = client.get(url)
    assert french.status_code == 200 and french.content != first.content
    assert sorted(statement.documents.values_list("language", flat=True)) == ["en", "fr"]


def test_rendering_twice_stores_one_document_and_the_database_refuses_a_second(django_capture_on_commit_callbacks):
    partner_with_lines("P00001")
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    statement = Statement.objects.get()
    first = documents.statement_document(statement, language="en")
    second = documents.statement_document(statement, language="en")
    assert first.pk == second.pk and StatementDocument.objects.count() == 1
    # two renders at once: the second one's insert does nothing (ON CONFLICT DO NOTHING), both read the first
    content = documents.statement_pdf(statement, language="en")
    StatementDocument.objects.bulk_create(
        [
            StatementDocument(
                statement=statement,
                language="en",
                status="issued",
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
                rendered_at=timezone.now(),
                render_seconds="1",
            )
        ],
        ignore_conflicts=True,
    )
    assert list(StatementDocument.objects.values_list("pk", "sha256")) == [(first.pk, first.sha256)]
    with pytest.raises(IntegrityError), transaction.atomic():
        StatementDocument.objects.create(
            statement=statement,
            language="en",
            status="issued",
            content=content,
            sha256=first.sha256,
            rendered_at=timezone.now(),
            render_seconds="1",
        )


def test_a_paid_statement_gets_its_own_document_and_the_emailed_one_is_kept(client, django_capture_on_commit_callbacks):
    partner = partner_with_lines("P00001")
    MembershipFactory(partner=partner, role="admin")
    close(django_capture_on_commit_callbacks)
    statement = Statement.objects.get()
    issued = StatementDocument.objects.get()
    emailed = OutboxEmail.objects.get(key__startswith="statement:")
    assert bytes(emailed.attachment) == bytes(issued.content)
    with django_capture_on_commit_callbacks(execute=True):
        services.statement_mark_paid(statement=statement, payment_reference="WIRE-42", paid_on=date(2017, 6, 1))
    assert sorted(statement.documents.values_list("status", "sha256")) == [
        ("issued", issued.sha256),
        ("paid", StatementDocument.objects.get(status="paid").sha256),
    ]
    paid = StatementDocument.objects.get(status="paid")
    assert paid.sha256 != issued.sha256
    client.force_login(MembershipFactory(partner=partner, role="finance").user)
    download = client.get(reverse("rebates:statement_pdf", kwargs={"number": statement.number}))
    assert download.content == bytes(paid.content)
    assert StatementDocument.objects.count() == 2


def test_the_email_attaches_the_stored_pdf_in_each_recipients_language(smtp_server, django_capture_on_commit_callbacks):
    partner = partner_with_lines("P00001")
    english = MembershipFactory(partner=partner, role="admin").user
    french = MembershipFactory(partner=partner, role="finance", user=UserFactory(language="fr")).user
    close(django_capture_on_commit_callbacks)
    stored = {document.language: bytes(document.content) for document in StatementDocument.objects.all()}
    assert set(stored) == {"en", "fr"}
    attachments = {}
    for message in smtp_server:
        for part in message.walk():
            if part.get_filename() == "RS-FY2018-Q1-P00001.pdf":
                attachments[message["To"]] = (part.get_content_type(), part.get_payload(decode=True))
    assert attachments == {
        english.email: ("application/pdf", stored["en"]),
        french.email: ("application/pdf", stored["fr"]),
    }
    assert mail.outbox == []  # through the real SMTP server, not the test outbox


def test_staff_download_the_stored_pdf_from_the_admin_and_staff_without_permission_cannot(client):
    partner_with_lines("P00001")
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    statement = Statement.objects.get()
    document = documents.statement_document(statement, language="en")
    url = reverse("admin:rebates_statement_pdf", args=[statement.pk])
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    change = client.get(reverse("admin:rebates_statement_change", args=[statement.pk]))
    assert change.status_code == 200 and url.encode() in change.content and document.sha256.encode() in change.content
    response = client.get(url)
    assert response.status_code == 200 and response.content == bytes(document.content)
    assert response["Content-Disposition"] == 'attachment; filename="RS-FY2018-Q1-P00001.pdf"'
    assert {"private", "no-store"} <= {
        part.strip() for part in response["Cache-Control"].split(",")
    }  # admin: never_cache too
    assert client.get(reverse("admin:rebates_statement_pdf", args=[statement.pk + 1000])).status_code == 404
    client.force_login(UserFactory(is_staff=True))  # staff, but no permission on statements
    assert client.get(url).status_code == 403
    assert StatementDocument.objects.count() == 1


def test_export_statement_pdf_writes_the_stored_document(tmp_path):
    for code in ("P00001", "P00002"):
        partner_with_lines(code)
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    first, second = Statement.objects.order_by("number")
    stored = documents.statement_document(first, language="en")
    target = tmp_path / "one.pdf"
    call_command("export_statement", first.number, "--format", "pdf", "--output", str(target))
    assert target.read_bytes() == bytes(stored.content)
    call_command("export_statement", "--quarter", "FY2018-Q1", "--format", "pdf", "--output", str(tmp_path))
    assert (tmp_path / f"{first.number}.pdf").read_bytes() == bytes(stored.content)
    assert (tmp_path / f"{second.number}.pdf").read_bytes() == bytes(second.documents.get().content)
    assert StatementDocument.objects.count() == 2


def test_a_stored_document_cannot_be_updated_on_postgresql(require_postgresql):
    partner_with_lines("P00001")
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    document = documents.statement_document(Statement.objects.get(), language="en")
    with pytest.raises(Exception, match="cannot be changed"), transaction.atomic():
        StatementDocument.objects.filter(pk=document.pk).update(sha256="0" * 64)


def _at_once(target, copies=2):
    """Run ``target()`` in ``copies`` threads released together (each with its own connection); return results."""
    barrier, results, errors = threading.Barrier(copies), [], []

    def run():
        try:
            barrier.wait()
            results.append(target())
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_copies_of_a_delivery_chunk_at_once_render_each_pdf_once_and_email_once(require_postgresql):
    partners = [partner_with_lines(f"P0000{number}") for number in range(1, 4)]
    for partner in partners:
        MembershipFactory(partner=partner, role="admin")
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))  # transactional test: its delivery ran (eager)
    StatementDocument.objects.all().delete()
    OutboxEmail.objects.all().delete()
    ids = list(Statement.objects.values_list("pk", flat=True))
    queued = _at_once(lambda: services.statements_deliver(statement_ids=ids))
    assert sum(queued) == 3
    assert StatementDocument.objects.count() == 3
    assert sorted(StatementDocument.objects.values_list("statement_id", flat=True)) == sorted(ids)
    assert OutboxEmail.objects.filter(key__startswith="statement:").count() == 3


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_first_downloads_at_once_store_one_document_and_serve_the_same_bytes(require_postgresql):
    partner_with_lines("P00001")
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    statement = Statement.objects.get()
    StatementDocument.objects.all().delete()  # as if the delivery worker had not run yet
    served = _at_once(lambda: (lambda d: (d.pk, d.sha256, bytes(d.content)))(documents.statement_document(statement)))
    assert len(set(served)) == 1 and StatementDocument.objects.count() == 1


def pdf_pages_text(content: bytes) -> list[str]:
    """The text of each page of a PDF, as a reader extracts it."""
    import pypdf

    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages]


def statement_of_many_lines(orders=24, lines_per_order=5):
    partner = f.partner("P00001", tier="gold")
    customer = f.customer()
    for day in range(orders):
        lines = [("server" if index % 2 else "storage", f"{1000 + 10 * day + index}.00") for index in range(6)]
        f.order(partner=partner, customer=customer, booked_on=date(2017, 2, 1 + day), lines=lines[:lines_per_order])
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    return Statement.objects.select_related("partner").get()


def row_keys(text: str) -> list[tuple[str, str]]:
    """(order number, line number) of each line-table row, in the order they read."""
    return re.findall(r"(SO-T\d{7}) (\d+) ", text)


@pytest.mark.parametrize(
    ("language", "title", "header", "footnote"),
    [
        ("en", "Rebate statement", "Net amount", "Prior-period adjustment: a line booked"),
        ("fr", "Relevé de remises", "Montant net", "Régularisation de période antérieure : ligne comptabilisée"),
    ],
)
def test_a_statement_of_many_lines_renders_every_line_in_order_its_totals_and_numbers_its_pages(
    language, title, header, footnote
):
    # given a statement of 120 rebate lines (several pages of lines)
    statement = statement_of_many_lines()
    lines = list(selectors.statement_lines(statement.lines.all()))
    expected = [(line.order_line.order.number, str(line.order_line.line_number)) for line in lines]
    assert len(expected) == statement.line_count >= 120
    # when its PDF is rendered in the language
    pages = pdf_pages_text(documents.statement_pdf(statement, language=language))
    text = "\n".join(pages)
    # then every line is there once, in statement order, with its figures in the language's format
    assert row_keys(text) == expected
    with translation.override(language):
        for line in lines:
            assert floatformat(line.amount, "2g") in text and floatformat(line.net_amount, "2g") in text
        total = money_text(statement.total)
    # and the header, the partner and the totals are there once each (the total rebate and both summary totals)
    assert text.count(title) == 1 and statement.partner.name in pages[0] and statement.number in pages[0]
    assert text.replace("\u202f", "\u00a0").count(total.replace("\u202f", "\u00a0")) >= 3
    # and the footnote that explains the adjustments' mark, in the language, once, at the end (words only: the
    # footnote wraps over lines where the page is narrow)
    assert " ".join(text.split()).count(footnote) == 1 and footnote in " ".join(pages[-1].split())
    # and each page is numbered across the statement, with the statement's number, and each page after the
    # first repeats the lines table's header row
    count = len(pages)
    assert count >= 3
    for number, page in enumerate(pages, start=1):
        assert f"{number} / {count}" in page and statement.number in page
        if number > 1:
            assert header in page


def test_several_statements_join_their_stored_documents_in_order():
    for code in ("P00001", "P00002"):
        partner_with_lines(code)
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    joined = documents.statements_pdf(Statement.objects.order_by("number"))
    pages = pdf_pages_text(joined)
    assert [statement_number for page in pages for statement_number in re.findall(r"RS-FY2018-Q1-P0000\d", page)][
        :1
    ] == ["RS-FY2018-Q1-P00001"]
    assert "RS-FY2018-Q1-P00002" in pages[-1] and "RS-FY2018-Q1-P00001" not in pages[-1]
    assert StatementDocument.objects.count() == 2  # rendered once each, and stored


def test_names_in_other_scripts_are_drawn_and_a_character_outside_the_bundled_fonts_does_not_stop_the_pdf():
    """The bundled fonts carry Latin with its accents, Greek and Cyrillic (``rebates/fonts/README.md``): such a
    partner name reads back from the PDF as written; a character outside them (CJK) is drawn as the missing glyph,
    and the statement still renders whole."""
    partner = partner_with_lines("P00031")
    partner.name = "Łódź Çağrı Ωμέγα Вектор Øresund ß"
    partner.save()
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    statement = Statement.objects.select_related("partner").get()
    for language in ("en", "fr"):
        text = "\n".join(pdf_pages_text(documents.statement_pdf(statement, language=language)))
        assert "Łódź Çağrı Ωμέγα Вектор Øresund ß" in text, text[:300]
    partner.name = "Ωμέγα 東京 Trading"
    partner.save()
    statement = Statement.objects.select_related("partner").get()
    pages = pdf_pages_text(documents.statement_pdf(statement, language="en"))
    assert "Trading" in pages[0] and statement.number in pages[0] and "Rebate statement" in pages[0]
