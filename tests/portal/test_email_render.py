"""Emails are rendered by their send task, not by the job that queues them: the row keeps the template, the
language and a JSON context (model instances as references), the send renders it in the reader's language and
keeps what it sent; a row rendered before this (no template) is sent as stored."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.translation import gettext_lazy

from partners import calculations as calc
from partners.models import Membership
from portal.emailcontext import context_encode, contexts_decode
from portal.emails import SEND_BATCH, UsersEmail, email_enqueue, emails_queue, outbox_send_many, outbox_send_one
from portal.models import OutboxEmail
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_queueing_renders_nothing_and_the_send_renders_in_the_recipients_language(mailoutbox):
    partner = PartnerFactory(name="Atelier Réseaux")
    french, english = UserFactory(language="fr"), UserFactory(language="en")
    emails_queue([
        UsersEmail(key="inv", users=[french, english], template="partners/email/invitation",
                   context={"partner": partner, "invitation": None, "url": "https://x.example/i/"})
    ])  # fmt: skip
    rows = {row.to[0]: row for row in OutboxEmail.objects.all()}
    assert {(row.subject, row.body, row.rendered_at) for row in rows.values()} == {("", "", None)}
    assert rows[french.email].language == "fr" and rows[french.email].template == "partners/email/invitation"
    reference = rows[french.email].context["partner"]
    assert (reference["__t"], reference["m"], reference["pk"]) == ("model", "partners.partner", partner.pk)

    partner.name = "Atelier Réseaux SAS"  # renamed before the send: the email reads the partner as it is then
    partner.save(update_fields=["name"])
    assert outbox_send_many(sorted(row.pk for row in rows.values())) == 2
    sent = {message.to[0]: message for message in mailoutbox}
    assert sent[french.email].subject == (
        "[Portail partenaires] Vous êtes invité(e) à rejoindre l'équipe Atelier Réseaux SAS sur le portail partenaires"
    )
    assert sent[english.email].subject.startswith("[Partner Portal] You are invited to the Atelier Réseaux SAS team")
    for row in OutboxEmail.objects.all():  # the admin shows what was sent
        assert (row.subject, row.body) == (sent[row.to[0]].subject, sent[row.to[0]].body)
        assert row.rendered_at is not None and row.status == "sent"


def test_a_lazy_string_of_the_context_is_stored_in_each_readers_language():
    french, english = UserFactory(language="fr"), UserFactory(language="en")
    with translation.override("en"):  # the job's own language is not the readers'
        emails_queue([
            UsersEmail(key="lazy", users=[french, english], template="partners/email/invitation",
                       context={"note": gettext_lazy("A reason is required.")})
        ])  # fmt: skip
    notes = {row.to[0]: row.context["note"] for row in OutboxEmail.objects.all()}
    assert notes == {french.email: "Un motif est obligatoire.", english.email: "A reason is required."}


def test_decimals_dates_and_dataclasses_keep_their_types_through_json():
    gap = calc.PathGap(
        requirement=calc.RequirementPath(tier="gold", path="revenue", min_revenue=Decimal("1000000.00")),
        revenue_missing=Decimal("12.30"), services_missing=Decimal("0"), people_missing=2, competencies_missing=0,
    )  # fmt: skip
    context = {
        "total": Decimal("1234.50"), "day": date(2017, 3, 31),
        "at": datetime(2017, 3, 31, 23, 59, tzinfo=UTC), "gaps": [gap], "plain": {"name": "A&B"},
    }  # fmt: skip
    import json

    [decoded] = contexts_decode([json.loads(json.dumps(context_encode(context)))])
    assert decoded == context and type(decoded["total"]) is Decimal and type(decoded["gaps"][0]) is calc.PathGap
    with pytest.raises(TypeError):
        context_encode({"ratio": 0.5})  # no floats: money is Decimal
    with pytest.raises(TypeError):
        context_encode({"partner": PartnerFactory.build()})  # an unsaved instance cannot be re-read


def test_a_deleted_object_fails_its_email_with_the_error_and_the_others_are_sent(mailoutbox):
    kept, gone = PartnerFactory(name="Kept"), PartnerFactory(name="Gone")
    users = UserFactory.create_batch(2)
    for partner in (kept, gone):
        emails_queue([
            UsersEmail(key=f"inv:{partner.pk}", users=users[:1] if partner is kept else users[1:],
                       template="partners/email/invitation",
                       context={"partner": partner, "invitation": None, "url": "x"})
        ])  # fmt: skip
    gone_pk = gone.pk
    gone.delete()
    ids = sorted(OutboxEmail.objects.values_list("pk", flat=True))
    assert outbox_send_many(ids) == 1  # no raise: a retry of the batch would not render it better
    assert [message.to for message in mailoutbox] == [[users[0].email]] and "Kept" in mailoutbox[0].subject
    failed = OutboxEmail.objects.get(status="failed")
    assert failed.to == [users[1].email] and failed.attempts == 1
    assert f"partners.partner {gone_pk} no longer exists" in failed.last_error
    assert outbox_send_one(failed.pk) is False  # the single send (the sweeper) records it again, sends nothing
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, len(mailoutbox)) == ("failed", 2, 1)


def test_a_template_that_fails_to_render_fails_alone(mailoutbox):
    bad = email_enqueue(key="bad", to="a@example.com", language="en", template="no/such/template", context={})
    good = email_enqueue(
        key="good", to="b@example.com", language="en", template="partners/email/invitation",
        context={"partner": {"name": "ACME"}, "invitation": None, "url": "x"},
    )  # fmt: skip
    assert outbox_send_many([bad.pk, good.pk]) == 1
    bad.refresh_from_db()
    assert bad.status == "failed" and "TemplateDoesNotExist" in bad.last_error
    assert [message.to for message in mailoutbox] == [["b@example.com"]]


def test_a_row_rendered_when_queued_before_the_migration_is_sent_as_stored(mailoutbox):
    legacy = OutboxEmail.objects.create(
        key="legacy", to=["old@example.com"], subject="[Partner Portal] Old", body="As queued"
    )
    assert outbox_send_one(legacy.pk) is True
    [sent] = mailoutbox
    assert (sent.subject, sent.body) == ("[Partner Portal] Old", "As queued")
    legacy.refresh_from_db()
    assert (legacy.status, legacy.subject, legacy.rendered_at) == ("sent", "[Partner Portal] Old", None)


def _queue_certification_like_batch(count: int) -> list[int]:
    """``count`` emails whose contexts name a partner, a membership (with its user and partner loaded) and a user."""
    users = []
    for index in range(count):
        membership = MembershipFactory(role="admin", partner__name=f"Partner {index}")
        membership = Membership.objects.select_related("user", "partner").get(pk=membership.pk)
        users.append(membership.user)
        emails_queue([
            UsersEmail(key=f"inv:{index}", users=[membership.user], template="partners/email/invitation",
                       context={"partner": membership.partner, "membership": membership, "invitation": None,
                                "url": "x"})
        ])  # fmt: skip
    return sorted(OutboxEmail.objects.values_list("pk", flat=True))


@pytest.mark.parametrize("count", [3, SEND_BATCH])
def test_a_batch_is_rendered_with_the_same_number_of_queries_whatever_its_size(count, mailoutbox):
    ids = _queue_certification_like_batch(count)
    assert OutboxEmail.objects.get(pk=ids[0]).context["membership"]["r"] == ["user", "partner"]
    with CaptureQueriesContext(connection) as captured:
        assert outbox_send_many(ids) == count
    reads = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    # The batch's rows, then one query per model type (partners, memberships with their user and partner, users),
    # then each send's own (locked) read of its row.
    sends = [sql for sql in reads if sql.startswith('SELECT "portal_outboxemail"') and "LIMIT 1" in sql]
    assert len(sends) == count
    assert len(reads) - len(sends) == 4, [sql[:120] for sql in reads if sql not in sends]
    assert len(mailoutbox) == count and all(f"Partner {i}" in m.subject for i, m in enumerate(mailoutbox))
