"""Drop the single-column indexes of five foreign keys that a composite index already leads with.

Only the indexes go: altering the fields the usual way would also drop and re-add each foreign key, which
re-validates every row of a million-line table. The index names are Django's own for these fields, the same on
PostgreSQL and SQLite.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = (
    ("deals_order", "customer_id", "deals_order_customer_id_55b95d6f"),
    ("deals_order", "partner_id", "deals_order_partner_id_171053b9"),
    ("deals_orderline", "customer_id", "deals_orderline_customer_id_584fe339"),
    ("deals_orderline", "order_id", "deals_orderline_order_id_95253dd6"),
    ("deals_orderline", "partner_id", "deals_orderline_partner_id_8d4c0ae6"),
)


def _field(to, related_name, *, null=False):
    return models.ForeignKey(
        blank=null,
        null=null,
        db_index=False,
        on_delete=django.db.models.deletion.PROTECT,
        related_name=related_name,
        to=to,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0012_registration_drafts"),
        ("partners", "0008_partnerviewsession"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField("order", "customer", _field("deals.customer", "orders")),
                migrations.AlterField("order", "partner", _field("partners.partner", "orders", null=True)),
                migrations.AlterField("orderline", "customer", _field("deals.customer", "+")),
                migrations.AlterField("orderline", "order", _field("deals.order", "lines")),
                migrations.AlterField("orderline", "partner", _field("partners.partner", "+", null=True)),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{index}"', reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("{column}")'
                )
                for table, column, index in INDEXES
            ],
        ),
    ]
