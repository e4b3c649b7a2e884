"""Demo direct orders that exercise every routing reason, then the locks and the routing as of today
(``seed_demo``; idempotent: the orders are imported once, and the jobs only act on what is new).

- ``DEMO-RT0001``: a customer the demo partners already sell to → ``locked``, offered to the incumbent 4 days
  ago: to be answered by tomorrow;
- ``DEMO-RT0002``: a customer with DEMO-DE1's protected registration on storage → ``registration``;
- ``DEMO-RT0003`` / ``0004``: small orders of new customers → ``under_ceiling``, the fair share of FR and BE
  (RT0003's first offer, 8 days ago, timed out: it is now offered to the next candidate);
- ``DEMO-RT0005``: a new customer, exactly at the 100,000 ceiling → ``not_routed``, stays direct.
"""

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from deals.imports import ORDER_HEADER
from deals.matching import CustomerIdentity
from deals.models import Order, Registration
from deals.registrations.services import registration_approve, registration_submit
from deals.routing.locks import channel_locks_refresh
from deals.routing.services import routing_run
from partners.models import Partner
from portal.csvimport import import_file

from .orders import DEMO_CUSTOMERS, _csv
from .partners import STAFF_EMAIL

REGISTERED = CustomerIdentity(name="Brauerei Adler Demo GmbH", country="DE", vat="DE877776666", domain="")
# number, days ago, customer name, country, VAT, product line, description, amount
DIRECT_ORDERS = [
    ("DEMO-RT0001", 6, DEMO_CUSTOMERS["FR"][0], "FR", "FRDEMO0000", "server", "PowerEdge R940", "180000.00"),
    ("DEMO-RT0002", 2, REGISTERED.name, "DE", REGISTERED.vat, "storage", "Unity 650F", "240000.00"),
    ("DEMO-RT0003", 9, "Café Lumière Démo SARL", "FR", "FR55443322110", "networking", "S5248F switch", "18500.00"),
    ("DEMO-RT0004", 1, "Boulangerie Dupont Démo", "BE", "BE0999888777", "server", "PowerEdge R640", "99999.99"),
    ("DEMO-RT0005", 1, "Maison Rouge Démo SA", "FR", "FR66554433221", "hci", "VxRail P570", "100000.00"),
]  # fmt: skip


ROUTING_DAYS_AGO = (8, 4, 0)


def seed_demo_routing() -> None:
    """Import the demo direct orders once, then apply the locks and route as of today."""
    today = timezone.localdate()
    if not Order.objects.filter(number__startswith="DEMO-RT").exists():
        _registration(today)
        rows = [
            [number, (today - timedelta(days=ago)).isoformat(), "direct", "", name, country, vat, "", "1", line,
             f"SKU-{line[:3].upper()}-RT", description, "1", amount, "", "", ""]
            for number, ago, name, country, vat, line, description, amount in DIRECT_ORDERS
        ]  # fmt: skip
        import_file(kind="orders", data=_csv(rows, ORDER_HEADER), name="demo-routing.csv")
    channel_locks_refresh(as_of=today)
    # The nightly routing of the last days, replayed: an offer made 8 days ago has timed out and gone to the next
    # candidate today; the offer of 4 days ago must be answered by tomorrow; today's are new.
    for day in ROUTING_DAYS_AGO:
        routing_run(as_of=today - timedelta(days=day))


def _registration(today) -> Registration:
    """DEMO-DE1's registration on storage for the registered customer, approved 20 days ago."""
    partner = Partner.objects.get(code="DEMO-DE1")
    opportunity = "Brewery storage refresh (routing demo)"
    existing = Registration.objects.filter(partner=partner, opportunity_name=opportunity).first()
    if existing is not None:
        return existing
    users = get_user_model().objects
    approved_on = today - timedelta(days=20)
    result = registration_submit(
        partner=partner,
        user=users.get(email="sales@demo-de1.example.com"),
        identity=REGISTERED,
        opportunity_name=opportunity,
        expected_close_on=approved_on + timedelta(days=60),
        lines={"storage": Decimal("40000.00")},
        today=approved_on,
    )
    registration = result.registration
    if registration.status == Registration.Status.SUBMITTED:
        registration_approve(registration=registration, actor=users.get(email=STAFF_EMAIL), today=approved_on)
    return registration
