"""Invitations answer every address alike and are idempotent: one open invitation and one email per address."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from partners.models import Invitation
from partners.services import invitation_create
from portal.models import OutboxEmail
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def invite(client, email, role="sales"):
    return client.post(reverse("team"), {"email": email, "role": role}, follow=True)


def what_the_admin_sees(response, email) -> tuple:
    """The page after inviting, with the address itself taken out: it must not depend on who owns it."""
    page = response.content.decode().replace(email, "<address>")
    messages = [str(message) for message in response.context["messages"]]
    return response.status_code, [m.replace(email, "<address>") for m in messages], "<address>" in page


def test_every_address_outside_the_team_gets_the_same_answer(client):
    admin = MembershipFactory(role="admin")
    elsewhere = MembershipFactory(role="sales").user.email
    staff = UserFactory(is_staff=True).email
    client.force_login(admin.user)
    answers = {
        email: what_the_admin_sees(invite(client, email), email) for email in ("new@example.com", elsewhere, staff)
    }
    assert len(set(map(repr, answers.values()))) == 1, answers
    assert answers["new@example.com"][0] == 200
    assert Invitation.objects.filter(partner=admin.partner).count() == 3
    assert OutboxEmail.objects.count() == 3  # each address gets the same email


def test_three_quick_clicks_on_invite_make_one_invitation_and_one_email(client):
    admin = MembershipFactory(role="admin")
    client.force_login(admin.user)
    responses = [
        client.post(reverse("team"), {"email": "New.Colleague@example.com", "role": "sales"}) for _ in range(3)
    ]
    assert [response.status_code for response in responses] == [302, 302, 302]
    assert Invitation.objects.filter(partner=admin.partner, email="new.colleague@example.com").count() == 1
    assert OutboxEmail.objects.filter(key__startswith="invitation:").count() == 1


def test_inviting_again_with_another_role_keeps_the_link_and_takes_the_new_role():
    admin = MembershipFactory(role="admin")
    first = invitation_create(partner=admin.partner, email="a@example.com", role="sales", invited_by=admin.user)
    again = invitation_create(partner=admin.partner, email="a@example.com", role="finance", invited_by=admin.user)
    assert again.pk == first.pk and again.token == first.token
    assert Invitation.objects.get().role == "finance"
    assert OutboxEmail.objects.count() == 1


def test_an_expired_invitation_is_replaced_by_a_new_link():
    admin = MembershipFactory(role="admin")
    old = invitation_create(partner=admin.partner, email="a@example.com", role="sales", invited_by=admin.user)
    Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    new = invitation_create(partner=admin.partner, email="a@example.com", role="sales", invited_by=admin.user)
    assert new.pk != old.pk
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert OutboxEmail.objects.count() == 2


def test_the_database_holds_one_open_invitation_per_partner_and_address():
    admin = MembershipFactory(role="admin")
    Invitation.objects.create(partner=admin.partner, email="a@example.com", role="sales")
    with pytest.raises(IntegrityError), transaction.atomic():
        Invitation.objects.create(partner=admin.partner, email="a@example.com", role="admin")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_invitations_of_one_address_make_one_invitation_and_one_email(require_postgresql):
    """Three requests at the same moment on three connections (PostgreSQL: SQLite serialises writers)."""
    admin = MembershipFactory(role="admin")
    barrier = threading.Barrier(3)
    results, errors = [], []

    def click():
        try:
            barrier.wait(timeout=10)
            results.append(
                invitation_create(partner=admin.partner, email="race@example.com", role="sales", invited_by=admin.user)
            )
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len({invitation.pk for invitation in results}) == 1
    assert Invitation.objects.filter(email="race@example.com").count() == 1
    assert OutboxEmail.objects.filter(key__startswith="invitation:").count() == 1
