"""The routing decisions as one query (PostgreSQL) equal the Python reference on generated programs: partner
orders on awkward dates (the 36-month edge, month ends), staff releases and transfers, registrations in every
status on some product lines, inactive incumbents and holders, credits, orders without lines, totals around the
ceiling, a country without a zone and one without an active partner — the same cases, reasons, targets, offers,
emails and counts, over two nightly runs (the second one times out the first one's offers)."""

import json
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from deals.models import ChannelLockOverride, Order, RoutingCase, RoutingOffer
from deals.routing.services import routing_run
from portal.fiscal import add_months
from portal.models import OutboxEmail, TaskOutbox
from tests.factories.partners import MembershipFactory, tier_set
from tests.factories.registrations import RegistrationFactory
from tests.factories.routing import customer, order, partner, partner_user

pytestmark = pytest.mark.django_db
PRODUCT_LINES = ["server", "storage", "networking", "services"]
AMOUNTS = ["500.00", "40000.00", "59999.99", "60000.00", "99999.99", "100000.00", "250000.00", "-100.00"]
USERS = [("sales", "fr", True), ("sales", "", True), ("finance", "en", True), ("admin", "fr", False)]
RUNS = [date(2017, 3, 5), date(2017, 3, 20)]  # the program starts on 2017-02-01; offers get 5 days


def state():
    cases = sorted(
        RoutingCase.objects.values_list(
            "order_id", "reason", "status", "order_total", "ceiling", "incumbent_id", "registration_id", "outcome",
            "decided_on", "closed_on",
        )
    )  # fmt: skip
    offers = list(
        RoutingOffer.objects.order_by("case__order_id", "id").values_list(
            "case__order_id", "partner_id", "source", "status", "offered_on", "respond_by", "note"
        )
    )
    # Every column of the emails as written (the offer ids differ between the runs: an offer is named by its order
    # and partner), and their send tasks, which name each email once.
    offer_names = {pk: f"{order_id}/{partner_id}" for pk, order_id, partner_id in
                   RoutingOffer.objects.values_list("pk", "case__order_id", "partner_id")}  # fmt: skip
    emails = []
    for email in OutboxEmail.objects.filter(key__startswith="routing-offer:"):
        prefix, offer_id, user = email.key.split(":", 2)
        context = {
            **email.context,
            "offer": {**email.context["offer"], "pk": offer_names[email.context["offer"]["pk"]]},
        }
        assert email.context["offer"]["pk"] == int(offer_id)
        emails.append((
            f"{prefix}:{offer_names[int(offer_id)]}:{user}", email.to, email.subject, email.body, email.html_body,
            email.template, email.language, json.dumps(context, sort_keys=True), email.attachment_name,
            email.attachment, email.status, email.attempts, email.last_error, email.rendered_at, email.sent_at,
        ))  # fmt: skip
    sent = [email_id for task in TaskOutbox.objects.filter(name__startswith="portal.tasks.outbox_send")
            for email_id in (task.args[0] if isinstance(task.args[0], list) else [task.args[0]])]  # fmt: skip
    assert sorted(sent) == sorted(
        OutboxEmail.objects.filter(key__startswith="routing-offer:").values_list("pk", flat=True)
    )
    return cases, offers, sorted(emails)


# Few days, so that orders, locks, overrides and registrations fall on the same ones (every bound is tested).
DAYS = [date(2017, 1, 31), date(2017, 2, 1), date(2017, 2, 28), date(2017, 3, 1), date(2017, 3, 5), date(2017, 3, 6),
        date(2017, 3, 15), date(2017, 3, 20), date(2017, 3, 21)]  # fmt: skip


def generate(seed: int) -> None:
    rng = random.Random(seed)
    partners = [partner(country, rng.choice(["authorized", "gold", "platinum"])) for country in ("FR", "FR", "DE")]
    partners.append(partner("FR", active=False))
    partners.append(partner("JP"))  # a country of no zone: the default zone's ceiling
    partner("IT", active=False)  # IT has nobody to offer to
    tier_set(partners[0], "titanium", date(2017, 3, 10))  # the weight changes between the runs
    for the_partner in partners:
        partner_user(the_partner, "admin")
        # Who else the offer emails reach, or not: sales users in French or without a language, finance, inactive.
        for role, language, active in rng.sample(USERS, rng.randint(0, len(USERS))):
            MembershipFactory(partner=the_partner, role=role, user__language=language, user__is_active=active)
    customers = [customer(rng.choice(["FR", "FR", "DE", "IT", "JP"])) for _ in range(10)]
    lock_days = []
    for _ in range(16):
        # On a direct order's day, or 36 months before it (the lock's last day), or the day after that.
        booked_on = add_months(rng.choice(DAYS), rng.choice([0, -36, -36, -12])) + timedelta(days=rng.choice([0, 0, 1]))
        lock_days.append(booked_on)
        lines = {rng.choice(PRODUCT_LINES): "2000.00"}
        order(customer=rng.choice(customers), partner=rng.choice(partners), booked_on=booked_on, lines=lines)
    for _ in range(5):
        transferred = rng.random() < 0.5
        ChannelLockOverride.objects.create(
            customer=rng.choice(customers),
            kind=ChannelLockOverride.Kind.TRANSFERRED if transferred else ChannelLockOverride.Kind.RELEASED,
            from_partner=partners[0],
            to_partner=rng.choice(partners[1:]) if transferred else None,
            effective_on=rng.choice(DAYS + lock_days),
            reason="generated",
        )
    for _ in range(10):
        status = rng.choice(["approved", "approved", "expired", "won", "submitted"])
        approved_on = rng.choice(DAYS) - timedelta(days=rng.choice([0, 0, 20]))
        registration = RegistrationFactory(
            partner=rng.choice(partners),
            customer=rng.choice(customers),
            status=status,
            approved_on=None if status == "submitted" else approved_on,
            protection_ends_on=None if status == "submitted" else approved_on + timedelta(days=rng.choice([0, 5, 30])),
            lines={line: "1000.00" for line in rng.sample(PRODUCT_LINES, rng.randint(1, 2))},
        )
        if status == "won":
            registration.won_on = max(approved_on, rng.choice(DAYS))
            registration.save(update_fields=["won_on"])
    originals = []
    for _ in range(40):
        booked_on = rng.choice(DAYS)  # some before the program, some after the runs
        lines = {line: rng.choice(AMOUNTS) for line in rng.sample(PRODUCT_LINES, rng.choice([1, 1, 2, 3]))}
        credits = None
        if any(Decimal(amount) < 0 for amount in lines.values()):
            if originals:  # a negative line is a credit of an earlier direct order
                credits = rng.choice(originals)
            else:
                lines = {line: amount for line, amount in lines.items() if Decimal(amount) > 0} or {"server": "1.00"}
        originals.append(order(customer=rng.choice(customers), booked_on=booked_on, lines=lines, credits=credits))
    Order.objects.create(number="NOLINES", booked_on=date(2017, 3, 1), channel="direct", customer=customers[0])


@pytest.mark.parametrize("seed", range(8))
def test_the_one_query_decides_as_the_python_reference(require_postgresql, seed):
    generate(seed)

    for as_of in RUNS:
        with transaction.atomic():
            expected_result = routing_run(as_of=as_of, reference=True)
            expected = state()
            transaction.set_rollback(True)
        result = routing_run(as_of=as_of)

        assert result == expected_result
        assert state() == expected
    reasons = set(RoutingCase.objects.values_list("reason", flat=True))
    assert len(reasons) >= 3, reasons  # the generated programs exercise the reasons, not only one
