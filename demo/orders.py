"""Demo customers, people and three program years of orders for the demo partners (``seed_demo``; idempotent)."""

import random
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from deals.imports import ORDER_HEADER
from deals.models import Order
from portal.csvimport import import_file
from portal.fiscal import fiscal_year_of

from .history import demo_joined_on, month_starts

DEMO_CUSTOMERS = {
    "FR": ["Groupe Hospitalier Sud", "Crédit Régional SA", "Transports Lemoine SAS", "Mairie de Villeurbanne",
           "Laboratoires Arnaud SARL", "Université Lumière"],
    "DE": ["Stadtwerke Nord GmbH", "Kliniken Rhein AG", "Logistik Becker GmbH", "Versicherung Hansa AG"],
    "US": ["Acme Health Inc", "Lakeside Bank LLC", "Northwind Traders Inc", "Contoso Retail LLC"],
    "BE": ["Brasserie Vanneste NV", "Ville de Namur", "Port of Antwerp Services NV"],
}  # fmt: skip
PRODUCTS = [("server", "PowerEdge R740"), ("storage", "Unity 400F"), ("networking", "S4048-ON switch"),
            ("hci", "VxRail E560"), ("data_protection", "Data Domain DD6300"), ("services", "ProDeploy")]  # fmt: skip
# partner → (people, certifications each person holds): enough certified people and competencies for the tier each
# partner's story needs (DEMO-US1 Titanium, DEMO-FR1 and DEMO-DE1 Platinum, DEMO-BE1 Gold by the training path).
DEMO_TEAMS = {
    "DEMO-US1": (["Ryan Brown", "Sarah Davis", "Ethan Miller", "Ava Wilson", "Noah Taylor", "Mia Anderson",
                  "Lucas Thomas", "Chloe Martin", "James Lee"],
                 [["TECH-STORAGE", "SVC-DELIVERY"], ["SALES-STORAGE", "TECH-HCI"], ["TECH-SERVER"]]),
    "DEMO-FR1": (["Julie Moreau", "Paul Girard", "Nina Roux", "Hugo Lefèvre", "Inès Fontaine", "Théo Chevalier"],
                 [["TECH-SERVER", "SVC-DELIVERY"], ["SALES-SERVER", "TECH-NETWORKING"], ["TECH-STORAGE"]]),
    "DEMO-DE1": (["Karl Wagner", "Anna Koch", "Felix Braun", "Lena Hoffmann", "Paul Schulz"],
                 [["TECH-SERVER", "SALES-SERVER"], ["TECH-DP"], ["TECH-STORAGE", "SVC-DELIVERY"]]),
    "DEMO-BE1": (["Tom Maes", "Lotte Jacobs", "Wout Claes", "Elise Wouters"],
                 [["SALES-NETWORKING", "TECH-NETWORKING"], ["TECH-NETWORKING"]]),
}  # fmt: skip


def _monthly_revenue(partner: str, month: date, joined_on: date) -> int:
    """The demo partner's booked revenue in the month starting ``month`` (USD): the story of its tier.

    DEMO-US1 stays a Titanium partner; DEMO-FR1 sells as a Platinum partner for two years, then less (at risk this
    year); DEMO-DE1 grows into Platinum in its second year; DEMO-BE1 grows from Authorized into Gold.
    """
    year = fiscal_year_of(month) - fiscal_year_of(joined_on)  # 0, 1, 2: the program year of the demo
    if partner == "DEMO-US1":
        return 4_200_000
    if partner == "DEMO-FR1":
        return 2_250_000 if year < 2 else 950_000
    if partner == "DEMO-DE1":
        return 650_000 if year == 0 else 2_300_000
    return 22_000 if year == 0 else 95_000  # DEMO-BE1


ORDERS_PER_MONTH = {"DEMO-US1": 4, "DEMO-FR1": 3, "DEMO-DE1": 3, "DEMO-BE1": 1}
SERVICES_SHARE = Decimal("0.10")


def _csv(rows: list[list[str]], header: list[str]) -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def seed_demo_people() -> None:
    """The demo partners' people and their certifications since they joined, renewed before they lapse (once)."""
    from partners.models import CertificationRecord

    if CertificationRecord.objects.filter(person__partner__code__startswith="DEMO-").exists():
        return
    today = timezone.localdate()
    joined_on = demo_joined_on(today)
    rows = []
    for partner, (names, kits) in DEMO_TEAMS.items():
        domain = f"{partner.lower()}.example.com"
        for index, name in enumerate(names):
            email = f"{_slug(name)}@{domain}"
            for code in kits[index % len(kits)]:
                earned = joined_on - timedelta(days=40 + 11 * index)
                rows.append([partner, email, name, code, earned.isoformat(), ""])  # valid 24 months
                renewed = earned + timedelta(days=700)
                if renewed <= today:
                    rows.append([partner, email, name, code, renewed.isoformat(), ""])
    # One certification about to lapse, for the partner admin's "expiring soon" list.
    rows.append(["DEMO-FR1", f"{_slug('Julie Moreau')}@demo-fr1.example.com", "Julie Moreau", "TECH-HCI",
                 (today - timedelta(days=700)).isoformat(), (today + timedelta(days=40)).isoformat()])  # fmt: skip
    header = ["partner_code", "person_email", "person_name", "certification_code", "earned_on", "expires_on"]
    import_file(kind="certifications", data=_csv(rows, header), name="demo-certs.csv")


def _slug(name: str) -> str:
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    first, last = ascii_name.lower().split(" ", 1)
    return f"{first[0]}.{last.replace(' ', '')}"


def seed_demo_orders() -> None:
    """Three program years of orders per demo partner, following its story, with a few credits and some direct
    orders (once). Deterministic: the same day gives the same orders."""
    if Order.objects.filter(number__startswith="DEMO-").exists():
        return
    rng = random.Random(2017)
    today = timezone.localdate()
    joined_on = demo_joined_on(today)
    rows: list[list[str]] = []
    credits: list[list[str]] = []
    number = 0
    for month in [joined_on, *month_starts(joined_on, today)]:
        month_end = min(today - timedelta(days=1), _next_month(month) - timedelta(days=1))
        for partner, orders in ORDERS_PER_MONTH.items():
            country = partner.split("-")[1][:2]
            customers = DEMO_CUSTOMERS[country]
            revenue = Decimal(_monthly_revenue(partner, month, joined_on))
            for _ in range(orders):
                number += 1
                booked = month + timedelta(days=rng.randrange(0, max(1, (month_end - month).days + 1)))
                customer = rng.choice(customers)
                budget = revenue / orders * Decimal(rng.uniform(0.7, 1.3))
                lines = _order_lines(rng, budget)
                for line_number, (product, description, amount) in enumerate(lines, start=1):
                    delivery = rng.choice(["resold", "partner_delivered"]) if product == "services" else ""
                    row = [f"DEMO-SO{number:05d}", booked.isoformat(), "partner", partner, customer, country,
                           f"{country}DEMO{customers.index(customer):04d}", "", str(line_number), product,
                           f"SKU-{product[:3].upper()}-{rng.randrange(100, 999)}", description,
                           str(rng.randint(1, 12)), f"{amount:.2f}", delivery, "", ""]  # fmt: skip
                    rows.append(row)
                    if product != "services" and rng.random() < 0.02 and booked + timedelta(days=20) < today:
                        credits.append(row)
    for index, row in enumerate(credits, start=1):
        credit = list(row)
        credit[0] = f"DEMO-CR{index:04d}"
        credit[1] = (_date(row[1]) + timedelta(days=20)).isoformat()
        credit[8] = "1"
        credit[13] = "-" + _tenth(row[13])
        credit[16] = row[0]
        rows.append(credit)
    for index in range(1, 13):
        country = rng.choice(list(DEMO_CUSTOMERS))
        customer = rng.choice(DEMO_CUSTOMERS[country])
        booked = today - timedelta(days=rng.randrange(8, 60))
        product, description = rng.choice(PRODUCTS[:5])
        amount = rng.choice([45_000_00, 82_500_00, 150_000_00, 310_000_00])
        rows.append([f"DEMO-DIR{index:04d}", booked.isoformat(), "direct", "", customer, country,
                     f"{country}DEMO{DEMO_CUSTOMERS[country].index(customer):04d}", "", "1", product, "SKU-DIR",
                     description, "1", f"{amount // 100}.{amount % 100:02d}", "", "", ""])  # fmt: skip
    import_file(kind="orders", data=_csv(rows, ORDER_HEADER), name="demo-orders.csv")


def _order_lines(rng: random.Random, budget: Decimal) -> list[tuple[str, str, Decimal]]:
    """One to three hardware lines sharing ``budget``, and a services line of ``SERVICES_SHARE`` of it."""
    hardware = rng.sample(PRODUCTS[:5], rng.randint(1, 3))
    services = (budget * SERVICES_SHARE).quantize(Decimal("0.01"))
    share = ((budget - services) / len(hardware)).quantize(Decimal("0.01"))
    lines = [(product, description, share) for product, description in hardware]
    return [*lines, ("services", PRODUCTS[5][1], services)]


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _date(text: str):
    from datetime import date

    return date.fromisoformat(text)


def _tenth(amount: str) -> str:
    """A tenth of a CSV amount, as a CSV amount (Decimal, truncated to the cent)."""
    from decimal import ROUND_DOWN, Decimal

    return str((Decimal(amount) / 10).quantize(Decimal("0.01"), rounding=ROUND_DOWN))
