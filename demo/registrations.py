"""Demo deal registrations in every status, including a conflict awaiting arbitration (``seed_demo``; idempotent:
each demo registration is made once, through the same services as the portal and the admin)."""

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import F
from django.utils import timezone

from deals.imports import ORDER_HEADER, import_orders
from deals.matching import CustomerIdentity
from deals.models import Registration, RegistrationEvent
from deals.registrations.services import (
    registration_approve,
    registration_decide_extension,
    registration_mark_lost,
    registration_reject,
    registration_request_extension,
    registration_submit,
    registration_withdraw,
    registrations_expire,
)
from partners.models import Partner

from .partners import STAFF_EMAIL

# name, country, VAT, domain
CUSTOMERS = {
    "lumiere": ("Groupe Lumière Démo SA", "FR", "FR90123456789", "lumiere-demo.example"),
    "stadtwerke": ("Stadtwerke Demo GmbH", "DE", "DE811112222", "stadtwerke-demo.example"),
    "hopital": ("Hôpital Saint-Luc Démo", "BE", "BE0412345678", "saintluc-demo.example"),
    "harbor": ("Harbor Logistics Demo Inc", "US", "US-98-7654321", "harbor-demo.example"),
    "alpine": ("Alpine Bank Demo AG", "DE", "DE833334444", "alpine-demo.example"),
}


def _identity(key: str) -> CustomerIdentity:
    name, country, vat, domain = CUSTOMERS[key]
    return CustomerIdentity(name=name, country=country, vat=vat, domain=domain)


def _user(email: str):
    return get_user_model().objects.get(email=email)


def _submit(code: str, email: str, customer: str, opportunity: str, lines: dict, *, today, hours: int = 0):
    """Submit once: a registration of this partner with this opportunity name is the same demo item."""
    partner = Partner.objects.get(code=code)
    existing = Registration.objects.filter(partner=partner, opportunity_name=opportunity).first()
    if existing is not None:
        return existing, False
    since = timezone.now()
    result = registration_submit(
        partner=partner,
        user=_user(email),
        identity=_identity(customer),
        opportunity_name=opportunity,
        expected_close_on=today + timedelta(days=75),
        lines={line: Decimal(amount) for line, amount in lines.items()},
        today=today,
    )
    _backdate(result.registration, today, since=since, hours=hours)
    return result.registration, True


def _backdate(registration: Registration, day, *, since, hours: int = 0) -> None:
    """Move what just happened to ``registration`` (since ``since``) to ``day``, ``hours`` earlier than now's time
    of day: a demo item submitted "3 days ago" is 72 hours old in the staff queue, and its timeline says so."""
    shift = timedelta(days=(timezone.localdate() - day).days, hours=hours)
    if not shift:
        return
    Registration.objects.filter(pk=registration.pk, submitted_at__gte=since).update(
        submitted_at=F("submitted_at") - shift
    )
    Registration.objects.filter(pk=registration.pk, decided_at__gte=since).update(decided_at=F("decided_at") - shift)
    RegistrationEvent.objects.filter(registration=registration, created_at__gte=since).update(
        created_at=F("created_at") - shift
    )
    registration.refresh_from_db()


def seed_demo_registrations() -> None:
    """Registrations of the demo partners in every status (run after ``seed_demo_partners``)."""
    today = timezone.localdate()
    staff = _user(STAFF_EMAIL)

    # Submitted three days ago, over the partner's auto-approval limit: overdue for a staff decision (48 h).
    _submit("DEMO-BE1", "admin@demo-be1.example.com", "hopital", "Demo: campus network", {"networking": "80000"},
            today=today - timedelta(days=3))  # fmt: skip
    # Submitted two hours ago, awaiting staff within the target.
    _submit("DEMO-FR1", "sales@demo-fr1.example.com", "hopital", "Demo: hôpital VDI", {"hci": "140000"},
            today=today, hours=2)  # fmt: skip
    # Approved on submission (Gold, under its limit).
    _submit("DEMO-DE1", "sales@demo-de1.example.com", "stadtwerke", "Demo: SCADA servers", {"server": "40000"},
            today=today)  # fmt: skip
    # A conflict awaiting arbitration: FR1 first (over its auto-approval limit), then DE1 for the same storage.
    _submit("DEMO-FR1", "sales@demo-fr1.example.com", "lumiere", "Demo: storage consolidation",
            {"storage": "300000", "services": "20000"}, today=today - timedelta(days=3))  # fmt: skip
    _submit("DEMO-DE1", "sales@demo-de1.example.com", "lumiere", "Demo: Lumière all-flash", {"storage": "180000"},
            today=today - timedelta(days=1))  # fmt: skip
    # Rejected by staff, with a reason (over the partner's auto-approval limit).
    registration, created = _submit("DEMO-BE1", "admin@demo-be1.example.com", "alpine", "Demo: branch servers",
                                    {"server": "65000"}, today=today)  # fmt: skip
    if created:
        registration_reject(registration=registration, actor=staff, reason="The customer buys direct under contract.")
    # Withdrawn by the partner before staff decided (over its auto-approval limit).
    registration, created = _submit("DEMO-DE1", "sales@demo-de1.example.com", "alpine", "Demo: backup appliance",
                                    {"data_protection": "140000"}, today=today)  # fmt: skip
    if created:
        registration_withdraw(registration=registration, actor=registration.submitted_by)
    # Approved, then lost.
    registration, created = _submit("DEMO-US1", "admin@demo-us1.example.com", "harbor", "Demo: warehouse HCI",
                                    {"hci": "120000"}, today=today - timedelta(days=20))  # fmt: skip
    if created:
        _approved(registration, staff, today - timedelta(days=20))
        registration_mark_lost(registration=registration, actor=registration.submitted_by, note="Lost on price.")
    # Approved long ago; protection over: expired by the job.
    registration, created = _submit("DEMO-US1", "admin@demo-us1.example.com", "harbor", "Demo: edge servers",
                                    {"server": "60000"}, today=today - timedelta(days=400))  # fmt: skip
    if created:
        _approved(registration, staff, today - timedelta(days=400))
        registrations_expire(as_of=today)
    # Approved, then won by an order booked within protection (the orders import links it).
    registration, created = _submit("DEMO-US1", "admin@demo-us1.example.com", "harbor", "Demo: core network",
                                    {"networking": "50000"}, today=today - timedelta(days=40))  # fmt: skip
    if created:
        _approved(registration, staff, today - timedelta(days=40))
        name, country, vat, domain = CUSTOMERS["harbor"]
        booked_on = (today - timedelta(days=10)).isoformat()
        row = ["DEMO-REG-WON-1", booked_on, "partner", "DEMO-US1", name, country, vat, domain, "1", "networking",
               "S5248F-ON", "PowerSwitch S5248F-ON", "4", "48000.00", "", "", ""]  # fmt: skip
        import_orders(f"{','.join(ORDER_HEADER)}\n{','.join(row)}\n".encode(), name="demo-registration-order.csv")
    # Approved, ending in 10 days, with an extension requested (awaiting staff).
    registration, created = _submit("DEMO-DE1", "sales@demo-de1.example.com", "stadtwerke", "Demo: grid storage",
                                    {"storage": "45000"}, today=today - timedelta(days=80))  # fmt: skip
    if created:
        _approved(registration, staff, today - timedelta(days=80), days=90)
        registration_request_extension(
            registration=registration,
            actor=registration.submitted_by,
            reason="The council votes next month.",
            today=today,
        )
    # Approved 100 days ago for 120 days: in its extension window (30 days), no extension asked yet.
    registration, created = _submit("DEMO-FR1", "sales@demo-fr1.example.com", "alpine", "Demo: Alpine servers",
                                    {"server": "60000"}, today=today - timedelta(days=100))  # fmt: skip
    if created:
        _approved(registration, staff, today - timedelta(days=100), days=120)
    # Approved, extension requested and granted.
    registration, created = _submit("DEMO-FR1", "sales@demo-fr1.example.com", "stadtwerke", "Demo: VDI pilot",
                                    {"hci": "70000"}, today=today - timedelta(days=100))  # fmt: skip
    if created:
        _approved(registration, staff, today - timedelta(days=100), days=120)
        registration_request_extension(
            registration=registration,
            actor=registration.submitted_by,
            reason="Pilot extended by the customer.",
            today=today,
        )
        registration_decide_extension(registration=registration, actor=staff, grant=True, today=today)


def _approved(registration: Registration, staff, day, *, days: int | None = None) -> None:
    """Make sure the demo item is approved on ``day`` (staff approve it when its tier did not auto-approve it);
    ``days`` pins the protection length so the demo lands in the extension window whatever the tier."""
    if registration.status == Registration.Status.SUBMITTED:
        since = timezone.now()
        registration_approve(registration=registration, actor=staff, today=day)
        _backdate(registration, day, since=since)
    if days is not None and registration.approved_on is not None:
        Registration.objects.filter(pk=registration.pk).update(
            protection_ends_on=registration.approved_on + timedelta(days=days)
        )
        registration.refresh_from_db()
