"""Recompute ``Customer.name_key`` under the settled rule of DESIGN §4: legal forms are dropped only as the last
words of a name ("NV Energy" keeps its NV). Keys written before dropped them anywhere.

The rule is copied here as it stands today, so this migration gives the same keys whatever the module becomes.
Customers already merged under the old rule stay one customer (their orders are booked); only their keys change,
so future rows match by the new rule.
"""

import re
import unicodedata

from django.db import migrations

LEGAL_FORMS = frozenset(
    {"sa", "sas", "sarl", "gmbh", "ag", "ltd", "limited", "inc", "llc", "plc", "bv", "nv", "spa", "srl"}
)


def _name_key(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    text = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    text = text.replace(".", "")
    tokens = re.sub(r"[^\w\s]|_", " ", text).split()
    end = len(tokens)
    while end > 1 and tokens[end - 1] in LEGAL_FORMS:
        end -= 1
    return " ".join(tokens[:end])


def recompute_name_keys(apps, schema_editor):
    Customer = apps.get_model("deals", "Customer")
    changed = []
    for customer in Customer.objects.only("pk", "name", "name_key").order_by("pk").iterator(chunk_size=2000):
        key = _name_key(customer.name)
        if key != customer.name_key:
            customer.name_key = key
            changed.append(customer)
        if len(changed) >= 2000:
            Customer.objects.bulk_update(changed, ["name_key"])
            changed = []
    Customer.objects.bulk_update(changed, ["name_key"])


class Migration(migrations.Migration):
    dependencies = [("deals", "0005_orderline_net_amount_source")]

    operations = [migrations.RunPython(recompute_name_keys, migrations.RunPython.noop, elidable=True)]
