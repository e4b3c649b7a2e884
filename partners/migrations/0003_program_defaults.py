"""Install DESIGN §3's zones, tiers, tier requirements and certification catalog as editable data."""

from decimal import Decimal

from django.db import migrations

ZONES = [
    ("EMEA-1", "Europe (FR, DE, GB)", False, ["FR", "DE", "GB"]),
    ("NA-1", "North America (US)", False, ["US"]),
    ("DEFAULT", "Rest of the world", True, []),
]
# code, name, rank, overlay, routing weight, auto-approval limit, protection days
TIERS = [
    ("authorized", "Authorized", 1, False, 1, None, 90),
    ("gold", "Gold", 2, False, 2, Decimal("50000"), 90),
    ("platinum", "Platinum", 3, False, 3, Decimal("100000"), 120),
    ("titanium", "Titanium", 4, False, 4, Decimal("250000"), 180),
    ("titanium_black", "Titanium Black", 5, True, 5, Decimal("250000"), 180),
]
# tier, path, revenue, services revenue, certified people, competencies (EMEA-1 and NA-1; DEFAULT halves revenue)
REQUIREMENTS = [
    ("gold", "revenue", 5_000_000, 400_000, 2, 1),
    ("gold", "training", 750_000, 60_000, 4, 1),
    ("platinum", "revenue", 20_000_000, 1_600_000, 4, 2),
    ("platinum", "training", 5_000_000, 600_000, 8, 2),
    ("titanium", "revenue", 40_000_000, 3_200_000, 8, 3),
    ("titanium", "training", 20_000_000, 2_400_000, 16, 3),
]
CERTIFICATIONS = [
    ("SALES-SERVER", "Sales — Server", "sales", "server"),
    ("SALES-STORAGE", "Sales — Storage", "sales", "storage"),
    ("SALES-NETWORKING", "Sales — Networking", "sales", "networking"),
    ("TECH-SERVER", "Technical — Server", "technical", "server"),
    ("TECH-STORAGE", "Technical — Storage", "technical", "storage"),
    ("TECH-NETWORKING", "Technical — Networking", "technical", "networking"),
    ("TECH-HCI", "Technical — Hyper-converged infrastructure", "technical", "hci"),
    ("TECH-DP", "Technical — Data protection", "technical", "data_protection"),
    ("SVC-DELIVERY", "Services delivery", "services_delivery", "services"),
]


def install(apps, schema_editor):
    Zone = apps.get_model("partners", "Zone")
    ZoneCountry = apps.get_model("partners", "ZoneCountry")
    Tier = apps.get_model("partners", "Tier")
    TierRequirement = apps.get_model("partners", "TierRequirement")
    Certification = apps.get_model("partners", "Certification")

    zones = {}
    for code, name, is_default, countries in ZONES:
        zone, _ = Zone.objects.get_or_create(
            code=code,
            defaults={"name": name, "is_default": is_default, "min_deal_size": 0, "hard_deck_ceiling": 100000},
        )
        zones[code] = zone
        for country in countries:
            ZoneCountry.objects.get_or_create(country=country, defaults={"zone": zone})
    tiers = {}
    for code, name, rank, overlay, weight, limit, days in TIERS:
        tiers[code], _ = Tier.objects.get_or_create(
            code=code,
            defaults={"name": name, "rank": rank, "is_overlay": overlay, "routing_weight": weight,
                      "auto_approval_limit": limit, "protection_days": days},
        )
    for zone_code, zone in zones.items():
        factor = Decimal("0.5") if zone_code == "DEFAULT" else Decimal("1")
        for tier, path, revenue, services, people, competencies in REQUIREMENTS:
            TierRequirement.objects.get_or_create(
                zone=zone, tier=tiers[tier], path=path,
                defaults={"min_revenue": Decimal(revenue) * factor, "min_services_revenue": Decimal(services) * factor,
                          "min_certified_people": people, "min_competencies": competencies},
            )
    for code, name, track, product_line in CERTIFICATIONS:
        Certification.objects.get_or_create(
            code=code, defaults={"name": name, "track": track, "product_line": product_line, "validity_months": 24}
        )


class Migration(migrations.Migration):
    dependencies = [("partners", "0002_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
