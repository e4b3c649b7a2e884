"""Trigram (pg_trgm GIN) indexes for the staff order search on PostgreSQL; nothing on other databases.

Django's ``icontains`` on PostgreSQL is ``UPPER(column::text) LIKE UPPER('%word%')``: an index on that very
expression with ``gin_trgm_ops`` serves it, where a B-tree cannot (a leading ``%``). ``pg_trgm`` is a trusted
extension: the database owner creates it without being a superuser.
"""

from django.db import migrations

INDEXES = [
    ("deals_order_number_trgm", "deals_order", "number"),
    ("deals_customer_name_trgm", "deals_customer", "name"),
    ("partners_partner_name_trgm", "partners_partner", "name"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (UPPER({column}::text) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0009_event_kinds"),
        ("partners", "0007_at_risk_details"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
