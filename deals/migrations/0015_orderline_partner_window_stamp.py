"""The partner window index carries the line id and registration link too (the accrual stamp reads them).

On PostgreSQL the wider index is built beside the old one without locking the order lines (``CONCURRENTLY``:
dropping an index and building one in a transaction holds an exclusive lock on the table, reads included, for the
whole build), then swapped in by name. SQLite has no ``INCLUDE``: its index of (partner, booked on) is unchanged.
"""

from django.db import migrations, models

COLUMNS = "(partner_id, booked_on) INCLUDE ({})"
NARROW = COLUMNS.format("net_amount, product_line")
WIDE = COLUMNS.format("net_amount, product_line, id, registration_id")


def _swap(definition):
    def swap(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in (
            # A build interrupted earlier leaves an invalid index of the new name: start again.
            "DROP INDEX CONCURRENTLY IF EXISTS orderline_partner_window_new",
            f"CREATE INDEX CONCURRENTLY orderline_partner_window_new ON deals_orderline {definition}",
            "DROP INDEX CONCURRENTLY IF EXISTS orderline_partner_window",
            "ALTER INDEX orderline_partner_window_new RENAME TO orderline_partner_window",
        ):
            schema_editor.execute(statement)

    return swap


class Migration(migrations.Migration):
    atomic = False  # CREATE and DROP INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("deals", "0014_orderline_partner_window"),
        ("partners", "0008_partnerviewsession"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="orderline", name="orderline_partner_window"),
                migrations.AddIndex(
                    model_name="orderline",
                    index=models.Index(
                        fields=["partner", "booked_on"],
                        include=("net_amount", "product_line", "id", "registration"),
                        name="orderline_partner_window",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(_swap(WIDE), _swap(NARROW), atomic=False)],
        ),
    ]
