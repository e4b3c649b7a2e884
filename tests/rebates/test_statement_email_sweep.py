"""Issued statements whose email was lost (a worker killed during ``statements_email``) are found by the sweep and
emailed once; a statement already emailed is never sent again."""

from datetime import date

import pytest
from django.core import mail

from portal.fiscal import Quarter
from portal.models import OutboxEmail, TaskOutbox
from rebates import services
from rebates.tasks import statements_email_sweep
from tests.factories import MembershipFactory
from tests.factories import rebates as f

pytestmark = pytest.mark.django_db
Q1 = Quarter.parse("FY2018-Q1")


def partner_with_a_line(code):
    p = f.partner(code, tier="gold")
    f.order(partner=p, customer=f.customer(), booked_on=date(2017, 2, 10), lines=[("server", "10000.00")])
    return p


def test_the_sweep_emails_each_statement_the_close_did_not_and_only_once(django_capture_on_commit_callbacks):
    emailed, lost, silent = partner_with_a_line("P00001"), partner_with_a_line("P00002"), partner_with_a_line("P3")
    admin = MembershipFactory(partner=emailed, role="admin").user
    finance = MembershipFactory(partner=lost, role="finance").user
    MembershipFactory(partner=silent, role="sales")  # nobody to email: not "missing"
    services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))  # its after-commit email task never ran
    assert TaskOutbox.objects.get().key == "statements_email:FY2018-Q1"
    first = services.Statement.objects.get(partner=emailed)
    with django_capture_on_commit_callbacks(execute=True):
        services.statement_email(statement=first)  # this one went out before the worker died

    with django_capture_on_commit_callbacks(execute=True):
        assert statements_email_sweep() == 1
    with django_capture_on_commit_callbacks(execute=True):
        MembershipFactory(partner=emailed, role="finance")  # joined later: old statements are not re-sent
        assert statements_email_sweep() == 0
    assert sorted(message.to[0] for message in mail.outbox) == sorted([admin.email, finance.email])
    assert OutboxEmail.objects.filter(key__startswith="statement:").count() == 2
