"""Statement amounts carry their currency (issue #12): the PDF's totals and the issued and paid emails, in each
reader's number format (``portal.money.money_text``)."""

import io
from datetime import date

import pypdf
import pytest
from django.utils import translation

from portal.fiscal import Quarter
from portal.models import OutboxEmail
from rebates import documents, services
from rebates.models import Statement
from tests.factories import MembershipFactory, UserFactory
from tests.factories import rebates as f

pytestmark = pytest.mark.django_db
Q1 = Quarter.parse("FY2018-Q1")
NBSP = "\u00a0"


def issued_statement(capture):
    partner = f.partner("P00001", tier="gold")
    f.order(partner=partner, customer=f.customer(), booked_on=date(2017, 2, 10), lines=[("server", "123456.00")])
    MembershipFactory(partner=partner, role="admin")
    MembershipFactory(partner=partner, role="finance", user=UserFactory(language="fr"))
    with capture(execute=True):
        services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
    return Statement.objects.get()


def pdf_text(statement, language) -> str:
    """The text of the statement's PDF, as rendered for storing, page after page as a reader extracts it."""
    content = documents.statement_pdf(statement, language=language)
    return " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def test_the_pdf_total_carries_its_currency_in_each_language(django_capture_on_commit_callbacks):
    statement = issued_statement(django_capture_on_commit_callbacks)
    assert statement.total > 1000
    english = pdf_text(statement, "en")
    with translation.override("en"):
        expected_en = f"{statement.total:,.2f}{NBSP}USD"
    assert expected_en in english
    french = pdf_text(statement, "fr")
    whole, cents = f"{statement.total:.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", NBSP)  # French groups thousands with a (no-break) space
    assert f"{grouped},{cents}{NBSP}USD" in french.replace("\u202f", NBSP)


def total_line(body: str, word: str) -> str:
    return next(line for line in body.splitlines() if word in line)


def test_the_issued_and_paid_emails_state_the_currency(django_capture_on_commit_callbacks):
    statement = issued_statement(django_capture_on_commit_callbacks)
    cents = f"{statement.total:.2f}".split(".")[1]
    issued = [email.body for email in OutboxEmail.objects.filter(key__startswith="statement:")]
    assert len(issued) == 2  # the admin in English, finance in French
    for body in issued:
        line = total_line(body, "Total")
        assert line.count(f"{NBSP}USD") == 1 and cents in line, line
    with django_capture_on_commit_callbacks(execute=True):
        services.statement_mark_paid(statement=statement, payment_reference="PAY-1", paid_on=date(2017, 6, 1))
    paid = [email.body for email in OutboxEmail.objects.filter(key__startswith="statement_paid:")]
    assert len(paid) == 2
    for body in paid:
        line = total_line(body, "PAY-1")
        assert line.count(f"{NBSP}USD") == 1 and cents in line, line
