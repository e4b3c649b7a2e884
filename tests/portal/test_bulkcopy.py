"""``copy_create`` (``COPY`` on PostgreSQL, ``bulk_create`` elsewhere) stores what ``bulk_create`` stores and gives
every instance its id; the outbox's ``COPY`` skips a key queued meanwhile instead of failing the job."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from portal.bulkcopy import copy_create
from portal.emails import _outbox_insert, _outbox_row
from portal.models import JobItemFailure, OutboxEmail

pytestmark = pytest.mark.django_db


def test_copied_rows_read_back_as_written_with_their_ids():
    rows = [
        OutboxEmail(key=f"k{index}", to=[f"u{index}@example.com"], template="t", language="fr",
                    context={"total": {"__t": "decimal", "v": str(Decimal("12.30"))}}, attachment=b"\x00\xffpdf")
        for index in range(3)
    ]  # fmt: skip
    copy_create(OutboxEmail, rows)
    assert all(row.pk is not None and not row._state.adding and row.created_at is not None for row in rows)
    stored = {email.pk: email for email in OutboxEmail.objects.all()}
    assert sorted(stored) == sorted(row.pk for row in rows)
    for row in rows:
        email = stored[row.pk]
        assert (email.key, email.to, email.language, email.context) == (row.key, row.to, "fr", row.context)
        assert bytes(email.attachment) == b"\x00\xffpdf" and email.status == "pending"


def test_a_second_row_with_the_same_unique_key_fails_as_bulk_create_does():
    copy_create(OutboxEmail, [OutboxEmail(key="same", to=["a@example.com"])])
    with pytest.raises(IntegrityError), transaction.atomic():
        copy_create(OutboxEmail, [OutboxEmail(key="same", to=["b@example.com"])])
    assert copy_create(JobItemFailure, []) == []


def test_the_outbox_insert_skips_a_key_another_process_queued_first():
    OutboxEmail.objects.create(key="raced", to=["first@example.com"], subject="s", body="b")
    row = _outbox_row(key="raced", to="second@example.com", language="en", template="t", context={}, attachment=None)
    fresh = _outbox_row(key="fresh", to="x@example.com", language="en", template="t", context={}, attachment=None)
    _outbox_insert([row, fresh])
    assert OutboxEmail.objects.get(key="raced").to == ["first@example.com"]
    assert OutboxEmail.objects.get(key="fresh").template == "t"
