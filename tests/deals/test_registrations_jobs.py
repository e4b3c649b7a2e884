"""Registration jobs: expiry and reminders once per date (the job run twice changes nothing more), and the won
rule — first qualifying order, lines linked — on import and by the nightly re-check for late imports."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from deals.imports import ORDER_HEADER, import_orders
from deals.models import OrderLine, Registration
from deals.registrations.services import registrations_expire_once, registrations_mark_won
from deals.tasks import registrations_expire_nightly
from portal.emails import outbox_render
from portal.models import JobRun, OutboxEmail
from tests.factories import MembershipFactory, PartnerFactory
from tests.factories.deals_pages import CustomerFactory, OrderFactory, OrderLineFactory
from tests.factories.registrations import RegistrationFactory

pytestmark = pytest.mark.django_db
S = Registration.Status
APPROVED_ON = date(2017, 3, 1)
END = date(2017, 5, 30)


def approved(**fields):
    fields.setdefault("lines", {"server": "1000", "storage": "1000"})
    fields.setdefault("protection_ends_on", END)
    return RegistrationFactory(status=S.APPROVED, approved_on=APPROVED_ON, **fields)


def book(registration, booked_on, *lines, partner=None, customer=None, number=None):
    order = OrderFactory(
        partner=partner or registration.partner,
        customer=customer or registration.customer,
        booked_on=booked_on,
        **({"number": number} if number else {}),
    )
    for index, (product_line, amount) in enumerate(lines or [("server", "500.00")], start=1):
        OrderLineFactory(order=order, line_number=index, product_line=product_line, net_amount=Decimal(amount))
    return order


# --- expiry --------------------------------------------------------------------------------------------------


def test_approved_registrations_expire_the_day_after_protection_ends_once():
    ending = approved()
    still = approved(protection_ends_on=END + timedelta(days=1))
    first = registrations_expire_once(as_of=END + timedelta(days=1))
    ending.refresh_from_db(), still.refresh_from_db()
    assert (ending.status, still.status) == (S.EXPIRED, S.APPROVED)
    assert first["expired"] == 1
    assert registrations_expire_once(as_of=END + timedelta(days=1)) is None  # claimed: the second run is a no-op
    again = registrations_expire_once(as_of=END + timedelta(days=1), force=True)
    assert again["expired"] == 0
    assert ending.events.filter(to_status=S.EXPIRED).count() == 1


def test_a_pending_extension_request_holds_expiry_until_staff_decide():
    registration = approved(
        extension="requested", extension_reason="PO", extension_requested_on=END - timedelta(days=3)
    )
    registrations_expire_once(as_of=END + timedelta(days=5))
    registration.refresh_from_db()
    assert registration.status == S.APPROVED


def test_the_command_and_the_task_run_the_same_job_once_per_date(capsys):
    registration = approved()
    call_command("expire_registrations", "--as-of", "2017-06-01")
    assert "1 expired" in capsys.readouterr().out
    call_command("expire_registrations", "--as-of", "2017-06-01")
    assert "already processed" in capsys.readouterr().out
    assert registrations_expire_nightly.delay("2017-06-01").get() is None
    assert JobRun.objects.get(name="registrations_expire", period="2017-06-01").runs == 1
    registration.refresh_from_db()
    assert registration.status == S.EXPIRED


def test_the_command_refuses_a_bad_date():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--as-of"):
        call_command("expire_registrations", "--as-of", "2017-13-01")


# --- reminders -----------------------------------------------------------------------------------------------


def reminder_keys():
    return sorted(key for key in OutboxEmail.objects.values_list("key", flat=True) if "reminder" in key)


def test_reminders_14_and_3_days_before_the_end_each_sent_once_even_when_the_job_runs_twice():
    registration = approved()
    admin = MembershipFactory(partner=registration.partner, role="admin").user
    for day in range(20, -1, -1):  # every night from 20 days before the end, each run twice
        as_of = END - timedelta(days=day)
        registrations_expire_once(as_of=as_of)
        registrations_expire_once(as_of=as_of, force=True)
    keys = reminder_keys()
    assert keys == sorted(
        [
            f"registration:{registration.pk}:registration_reminder:14:{END}:user:{admin.pk}",
            f"registration:{registration.pk}:registration_reminder:3:{END}:user:{admin.pk}",
        ]
    )
    outbox_render()  # rendered as the send task renders it (not sent)
    fourteen = OutboxEmail.objects.get(key=keys[0])
    assert registration.number in fourteen.subject and "14 days" in fourteen.subject


def test_a_missed_night_still_sends_the_reminder():
    registration = approved()
    MembershipFactory(partner=registration.partner, role="admin")
    registrations_expire_once(as_of=END - timedelta(days=10))  # nothing ran at 14 days
    assert len(reminder_keys()) == 1 and ":14:" in reminder_keys()[0]


def test_a_granted_extension_rearms_the_reminders():
    registration = approved()
    MembershipFactory(partner=registration.partner, role="admin")
    registrations_expire_once(as_of=END - timedelta(days=3))
    Registration.objects.filter(pk=registration.pk).update(protection_ends_on=END + timedelta(days=60))
    registrations_expire_once(as_of=END + timedelta(days=57))
    assert len(reminder_keys()) == 2


def test_reminders_are_in_the_recipients_language():
    registration = approved()
    MembershipFactory(partner=registration.partner, role="admin", user__language="fr")
    registrations_expire_once(as_of=END - timedelta(days=14))
    outbox_render()  # rendered as the send task renders it (not sent)
    email = OutboxEmail.objects.get()
    assert email.to and registration.number in email.subject


# --- won -----------------------------------------------------------------------------------------------------


def test_the_first_qualifying_order_wins_and_its_registered_lines_are_linked():
    registration = approved()
    first = book(registration, date(2017, 4, 1), ("server", "700.00"), ("networking", "50.00"), ("storage", "10.00"))
    second = book(registration, date(2017, 4, 2), ("server", "900.00"))
    assert registrations_mark_won() == 1
    registration.refresh_from_db()
    assert (registration.status, registration.won_on, registration.won_order) == (S.WON, date(2017, 4, 1), first)
    linked = OrderLine.objects.filter(registration=registration)
    assert sorted(linked.values_list("order__number", "product_line")) == [
        (first.number, "server"),
        (first.number, "storage"),
    ]
    assert not OrderLine.objects.filter(order=second, registration__isnull=False).exists()
    assert registration.events.last().to_status == S.WON
    assert registrations_mark_won() == 0  # safe to run again


@pytest.mark.parametrize(
    "case",
    ["before approval", "after protection", "other partner", "other customer", "other product line", "credit"],
)
def test_orders_that_do_not_win(case):
    registration = approved()
    if case == "before approval":
        book(registration, APPROVED_ON - timedelta(days=1))
    elif case == "after protection":
        book(registration, END + timedelta(days=1))
    elif case == "other partner":
        book(registration, date(2017, 4, 1), partner=PartnerFactory())
    elif case == "other customer":
        book(registration, date(2017, 4, 1), customer=CustomerFactory())
    elif case == "other product line":
        book(registration, date(2017, 4, 1), ("hci", "100.00"))
    else:
        original = book(registration, APPROVED_ON - timedelta(days=10))
        credit = OrderFactory(partner=registration.partner, customer=registration.customer, booked_on=date(2017, 4, 1))
        OrderLineFactory(order=credit, product_line="server", net_amount=Decimal("-10.00"), credited_order=original)
    assert registrations_mark_won() == 0
    registration.refresh_from_db()
    assert registration.status == S.APPROVED


def test_the_protection_edges_win():
    on_approval = approved()
    book(on_approval, APPROVED_ON)
    on_end = approved()
    book(on_end, END)
    assert registrations_mark_won() == 2


def registration_csv(registration, number, booked_on, product_line="server", registration_number=""):
    customer = registration.customer
    header = ",".join(ORDER_HEADER)
    row = [number, booked_on.isoformat(), "partner", registration.partner.code, customer.name, customer.country,
           customer.vat, customer.domain, "1", product_line, "SKU-1", "R740", "1", "800.00", "", registration_number,
           ""]  # fmt: skip
    return f"{header}\n{','.join(row)}\n".encode()


def test_the_orders_import_marks_the_registration_won():
    registration = approved(customer=CustomerFactory(vat="FR99887766554", name="Imported SA"))
    import_orders(registration_csv(registration, "SO-IMP-1", date(2017, 4, 10)))
    registration.refresh_from_db()
    assert registration.status == S.WON and registration.won_order.number == "SO-IMP-1"
    assert OrderLine.objects.get(order__number="SO-IMP-1").registration == registration


def test_a_late_import_after_expiry_is_won_by_the_nightly_recheck_or_the_import():
    registration = approved(customer=CustomerFactory(vat="FR11122233344", name="Late SA"))
    registrations_expire_once(as_of=END + timedelta(days=1))
    registration.refresh_from_db()
    assert registration.status == S.EXPIRED
    # An order booked inside protection arrives late (imported after expiry).
    import_orders(registration_csv(registration, "SO-LATE-1", END - timedelta(days=5)))
    registration.refresh_from_db()
    assert registration.status == S.WON and registration.won_on == END - timedelta(days=5)
    assert list(registration.events.values_list("from_status", "to_status"))[-1] == (S.EXPIRED, S.WON)


def test_the_nightly_job_rechecks_wins_for_orders_booked_without_the_import():
    registration = approved()
    book(registration, date(2017, 4, 1))  # e.g. a routed order accepted later
    result = registrations_expire_once(as_of=date(2017, 4, 20))
    registration.refresh_from_db()
    assert result["won"] == 1 and registration.status == S.WON


def test_a_won_registration_is_not_expired():
    registration = approved()
    book(registration, date(2017, 4, 1))
    registrations_expire_once(as_of=END + timedelta(days=1))
    registration.refresh_from_db()
    assert registration.status == S.WON


def test_an_import_naming_another_partners_registration_is_an_error():
    from portal.csvimport import ImportRejected

    registration = approved(customer=CustomerFactory(vat="FR55544433322", name="Named SA"))
    other = PartnerFactory()
    data = registration_csv(registration, "SO-X-1", date(2017, 4, 1), registration_number=registration.number)
    data = data.replace(f",{registration.partner.code},".encode(), f",{other.code},".encode())
    with pytest.raises(ImportRejected) as error:
        import_orders(data)
    assert "not a registration of this partner and customer" in error.value.report()
