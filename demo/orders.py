"""Demo customers and about two years of orders for the demo partners (``seed_demo``; idempotent)."""

import random
from datetime import timedelta

from django.utils import timezone

from deals.imports import ORDER_HEADER
from deals.models import Order
from portal.csvimport import import_file

DEMO_CUSTOMERS = {
    "FR": ["Groupe Hospitalier Sud", "Crédit Régional SA", "Transports Lemoine SAS", "Mairie de Villeurbanne",
           "Laboratoires Arnaud SARL", "Université Lumière"],
    "DE": ["Stadtwerke Nord GmbH", "Kliniken Rhein AG", "Logistik Becker GmbH", "Versicherung Hansa AG"],
    "US": ["Acme Health Inc", "Lakeside Bank LLC", "Northwind Traders Inc", "Contoso Retail LLC"],
    "BE": ["Brasserie Vanneste NV", "Ville de Namur", "Port of Antwerp Services NV"],
}  # fmt: skip
PRODUCTS = [("server", "PowerEdge R740"), ("storage", "Unity 400F"), ("networking", "S4048-ON switch"),
            ("hci", "VxRail E560"), ("data_protection", "Data Domain DD6300"), ("services", "ProDeploy")]  # fmt: skip
DEMO_PEOPLE = [
    # partner, email, name, certifications
    ("DEMO-FR1", "j.moreau@demo-fr1.example.com", "Julie Moreau", ["TECH-SERVER", "TECH-STORAGE", "SVC-DELIVERY"]),
    ("DEMO-FR1", "p.girard@demo-fr1.example.com", "Paul Girard", ["SALES-SERVER", "TECH-NETWORKING"]),
    ("DEMO-FR1", "n.roux@demo-fr1.example.com", "Nina Roux", ["SALES-STORAGE", "TECH-HCI"]),
    ("DEMO-DE1", "k.wagner@demo-de1.example.com", "Karl Wagner", ["TECH-SERVER", "SALES-SERVER"]),
    ("DEMO-DE1", "a.koch@demo-de1.example.com", "Anna Koch", ["TECH-DP"]),
    ("DEMO-US1", "r.brown@demo-us1.example.com", "Ryan Brown", ["TECH-STORAGE", "SVC-DELIVERY", "TECH-HCI"]),
    ("DEMO-US1", "s.davis@demo-us1.example.com", "Sarah Davis", ["SALES-STORAGE"]),
    ("DEMO-BE1", "t.maes@demo-be1.example.com", "Tom Maes", ["SALES-NETWORKING"]),
]
PARTNER_SIZE = {"DEMO-FR1": 60, "DEMO-DE1": 40, "DEMO-US1": 70, "DEMO-BE1": 15}


def _csv(rows: list[list[str]], header: list[str]) -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def seed_demo_people() -> None:
    from partners.models import CertificationRecord

    if CertificationRecord.objects.filter(person__partner__code__startswith="DEMO-").exists():
        return
    today = timezone.localdate()
    rows = []
    for index, (partner, email, name, codes) in enumerate(DEMO_PEOPLE):
        for offset, code in enumerate(codes):
            earned = today - timedelta(days=120 + 97 * index + 31 * offset)
            rows.append([partner, email, name, code, earned.isoformat(), ""])
    header = ["partner_code", "person_email", "person_name", "certification_code", "earned_on", "expires_on"]
    import_file(kind="certifications", data=_csv(rows, header), name="demo-certs.csv")


def seed_demo_orders() -> None:
    """About two years of orders per demo partner, a few credits and some direct orders (once)."""
    if Order.objects.filter(number__startswith="DEMO-").exists():
        return
    rng = random.Random(2017)  # deterministic demo data
    today = timezone.localdate()
    rows: list[list[str]] = []
    number = 0
    credits: list[tuple[str, list[str]]] = []
    for partner, count in PARTNER_SIZE.items():
        country = partner.split("-")[1][:2]
        customers = DEMO_CUSTOMERS[country]
        for _ in range(count):
            number += 1
            booked = today - timedelta(days=rng.randrange(5, 730))
            customer = rng.choice(customers)
            order_number = f"DEMO-SO{number:05d}"
            for line_number, (product, description) in enumerate(rng.sample(PRODUCTS, rng.randint(1, 3)), start=1):
                amount = rng.randrange(2_000_00, 450_000_00)
                delivery = rng.choice(["resold", "partner_delivered"]) if product == "services" else ""
                row = [order_number, booked.isoformat(), "partner", partner, customer, country,
                       f"{country}DEMO{customers.index(customer):04d}", "", str(line_number), product,
                       f"SKU-{product[:3].upper()}-{rng.randrange(100, 999)}", description,
                       str(rng.randint(1, 12)), f"{amount // 100}.{amount % 100:02d}", delivery, "", ""]  # fmt: skip
                rows.append(row)
                if rng.random() < 0.03:
                    credits.append((order_number, row))
    for index, (credited, row) in enumerate(credits, start=1):
        credit = list(row)
        credit[0] = f"DEMO-CR{index:04d}"
        credit[1] = min(timezone.localdate(), _date(row[1]) + timedelta(days=20)).isoformat()
        credit[8] = "1"
        credit[13] = "-" + _tenth(row[13])
        credit[16] = credited
        rows.append(credit)
    for index in range(1, 13):
        country = rng.choice(list(DEMO_CUSTOMERS))
        customer = rng.choice(DEMO_CUSTOMERS[country])
        booked = today - timedelta(days=rng.randrange(1, 60))
        product, description = rng.choice(PRODUCTS[:5])
        amount = rng.choice([45_000_00, 82_500_00, 150_000_00, 310_000_00])
        rows.append([f"DEMO-DIR{index:04d}", booked.isoformat(), "direct", "", customer, country,
                     f"{country}DEMO{DEMO_CUSTOMERS[country].index(customer):04d}", "", "1", product, "SKU-DIR",
                     description, "1", f"{amount // 100}.{amount % 100:02d}", "", "", ""])  # fmt: skip
    import_file(kind="orders", data=_csv(rows, ORDER_HEADER), name="demo-orders.csv")


def _date(text: str):
    from datetime import date

    return date.fromisoformat(text)


def _tenth(amount: str) -> str:
    """A tenth of a CSV amount, as a CSV amount (Decimal, truncated to the cent)."""
    from decimal import ROUND_DOWN, Decimal

    return str((Decimal(amount) / 10).quantize(Decimal("0.01"), rounding=ROUND_DOWN))
