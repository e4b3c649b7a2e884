"""Demo partners and users for ``seed_demo`` (idempotent: running it again changes nothing)."""

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth import get_user_model
from django.utils import timezone

from partners.models import Membership, Partner, Person
from partners.services import partner_status_match

from .history import demo_joined_on

DEMO_PASSWORD = "partner-demo-2017"
STAFF_EMAIL = "staff@demo.example.com"
# The admin requires TOTP of channel staff: the demo staff login is enrolled with this published secret (the
# demo never runs in production). Add it to an authenticator app, or print the current code with
# ``manage.py seed_demo --totp-code``.
DEMO_STAFF_TOTP_SECRET = "DEMOSTAFFTOTPKEYPARTNERPORTAL234"

# code, name, country, kind, legacy Dell tier, legacy EMC tier
DEMO_PARTNERS = [
    ("DEMO-FR1", "Axians Datacenter Démo SAS", "FR", "reseller", "premier", ""),
    ("DEMO-DE1", "Bechtle Demo GmbH", "DE", "reseller", "preferred", "silver"),
    ("DEMO-US1", "Sirius Demo Inc", "US", "service_provider", "", "platinum"),
    ("DEMO-BE1", "Realdolmen Démo NV", "BE", "reseller", "registered", ""),
]
DEMO_USERS = [
    # email, first, last, partner, role, language
    ("admin@demo-fr1.example.com", "Camille", "Martin", "DEMO-FR1", "admin", "fr"),
    ("sales@demo-fr1.example.com", "Lucas", "Bernard", "DEMO-FR1", "sales", "fr"),
    ("finance@demo-fr1.example.com", "Léa", "Dubois", "DEMO-FR1", "finance", "fr"),
    ("admin@demo-de1.example.com", "Jonas", "Schmidt", "DEMO-DE1", "admin", "en"),
    ("sales@demo-de1.example.com", "Mia", "Fischer", "DEMO-DE1", "sales", "en"),
    ("admin@demo-us1.example.com", "Olivia", "Smith", "DEMO-US1", "admin", "en"),
    ("finance@demo-us1.example.com", "Liam", "Johnson", "DEMO-US1", "finance", "en"),
    ("admin@demo-be1.example.com", "Emma", "Peeters", "DEMO-BE1", "admin", "fr"),
]


def _verified_user(email, *, first_name="", last_name="", language="en", is_staff=False, is_superuser=False):
    User = get_user_model()
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(
            email=email,
            password=DEMO_PASSWORD,
            first_name=first_name,
            last_name=last_name,
            language=language,
            is_staff=is_staff,
            is_superuser=is_superuser,
        )
    EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
    return user


def seed_demo_partners() -> dict[str, Partner]:
    """Create the demo partners (joined three program years ago, status-matched on that day), their users at each
    role and a staff login."""
    staff = _verified_user(STAFF_EMAIL, first_name="Channel", last_name="Staff", is_staff=True, is_superuser=True)
    if not Authenticator.objects.filter(user=staff, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(staff, DEMO_STAFF_TOTP_SECRET)
    partners = {}
    joined_on = demo_joined_on(timezone.localdate())
    for code, name, country, kind, dell, emc in DEMO_PARTNERS:
        partner, created = Partner.objects.get_or_create(
            code=code,
            defaults={"name": name, "country": country, "kind": kind, "legacy_dell_tier": dell,
                      "legacy_emc_tier": emc, "joined_on": joined_on},
        )  # fmt: skip
        if created:
            partner_status_match(partner=partner)
        partners[code] = partner
    for email, first, last, code, role, language in DEMO_USERS:
        user = _verified_user(email, first_name=first, last_name=last, language=language)
        Membership.objects.get_or_create(user=user, defaults={"partner": partners[code], "role": role})
        Person.objects.get_or_create(
            partner=partners[code], email=email, defaults={"name": f"{first} {last}", "user": user}
        )
    return partners


def demo_logins() -> list[tuple[str, str]]:
    rows = [(STAFF_EMAIL, f"channel staff (admin site), TOTP secret {DEMO_STAFF_TOTP_SECRET}")]
    rows += [(email, f"{code} {role}") for email, _f, _l, code, role, _lang in DEMO_USERS]
    return rows


def demo_staff_totp_code() -> str:
    """The demo staff login's current TOTP code, for a demo without an authenticator app at hand."""
    import time

    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return format_hotp_value(hotp_value(DEMO_STAFF_TOTP_SECRET, int(time.time()) // app_settings.TOTP_PERIOD))
