"""Install DESIGN §6's rebate rates as editable data, and on PostgreSQL make issued rebate lines immutable."""

from datetime import date
from decimal import Decimal

from django.db import migrations

PROGRAM_START = date(2017, 2, 1)
PRODUCT_LINES = ["server", "storage", "networking", "hci", "data_protection", "services"]
# Base points by tier, the same for every product line: storage pays the same as server (the EMC alignment).
BASE_RATES = {"authorized": 1, "gold": 2, "platinum": 3, "titanium": 4, "titanium_black": 5}
COMPONENT_RATES = {
    "new_business": 8,
    "deal_registration": 2,
    "blended": 2,
    "services": 1,
    "exclusivity_uplift": 25,
}


def install(apps, schema_editor):
    Tier = apps.get_model("partners", "Tier")
    BaseRate = apps.get_model("rebates", "BaseRate")
    ComponentRate = apps.get_model("rebates", "ComponentRate")
    for code, points in BASE_RATES.items():
        tier = Tier.objects.get(code=code)
        for product_line in PRODUCT_LINES:
            BaseRate.objects.get_or_create(
                tier=tier,
                product_line=product_line,
                valid_from=PROGRAM_START,
                defaults={"rate": Decimal(points)},
            )
    for component, points in COMPONENT_RATES.items():
        ComponentRate.objects.get_or_create(
            component=component, valid_from=PROGRAM_START, defaults={"rate": Decimal(points)}
        )


def uninstall(apps, schema_editor):
    apps.get_model("rebates", "BaseRate").objects.all().delete()
    apps.get_model("rebates", "ComponentRate").objects.all().delete()


# A rebate line belongs to an issued (then paid) statement from the moment it is written: the ledger is
# append-only. Statements themselves still change status (issued → paid).
LEDGER_TRIGGER = """
CREATE OR REPLACE FUNCTION rebates_rebateline_immutable() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM rebates_statement s WHERE s.id = OLD.statement_id AND s.status IN ('issued', 'paid')) THEN
        RAISE EXCEPTION USING
            MESSAGE = 'rebate line ' || OLD.id || ' is on an issued statement and cannot be changed',
            ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER rebates_rebateline_immutable BEFORE UPDATE OR DELETE ON rebates_rebateline
    FOR EACH ROW EXECUTE FUNCTION rebates_rebateline_immutable();
"""
LEDGER_TRIGGER_DROP = """
DROP TRIGGER IF EXISTS rebates_rebateline_immutable ON rebates_rebateline;
DROP FUNCTION IF EXISTS rebates_rebateline_immutable();
"""


def trigger_install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(LEDGER_TRIGGER)


def trigger_uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(LEDGER_TRIGGER_DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("rebates", "0001_initial"),
        ("partners", "0003_program_defaults"),
    ]

    operations = [
        migrations.RunPython(install, uninstall),
        migrations.RunPython(trigger_install, trigger_uninstall),
    ]
