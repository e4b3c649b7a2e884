"""The orders file the import is timed on, and the same rows resolved to ids for the ``COPY`` baseline.

The file is one day of the vendor's orders (booked on the anchor day): partner orders of existing customers
(matched by VAT id), some new customers, direct orders and credits of earlier orders. The baseline loads the
very same customers, orders and lines, already resolved, with ``COPY`` into the real tables (same indexes).
"""

import csv
import random
from bisect import bisect_left
from datetime import date
from itertools import accumulate
from pathlib import Path

from . import baselines
from .program import PRODUCT_WEIGHTS, _amount_cents, _products, cents_text

HEADER = [
    "order_number", "booked_on", "channel", "partner_code", "customer_name", "customer_country", "customer_vat",
    "customer_domain", "line_number", "product_line", "sku", "description", "quantity", "net_amount",
    "service_delivery", "registration_number", "credits_order_number",
]  # fmt: skip

CUSTOMER_COLUMNS = ["id", "name", "country", "vat", "domain", "vat_key", "domain_key", "name_key", "created_at"]
ORDER_COLUMNS = ["id", "number", "booked_on", "channel", "created_at", "customer_id", "import_run_id", "partner_id"]
LINE_COLUMNS = [
    "id", "order_id", "line_number", "product_line", "sku", "description", "quantity", "net_amount",
    "net_amount_source", "service_delivery", "registration_number", "registration_id", "credited_order_id",
    "partner_id", "customer_id", "booked_on", "channel",
]  # fmt: skip


def write(connection, *, lines: int, seed: int, as_of: date, folder: Path) -> dict:
    """Write ``orders-<lines>.csv`` and the baseline's three TSV files into ``folder``; return their paths."""
    rng = random.Random(seed * 7919 + lines)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, code, country FROM partners_partner ORDER BY id")
        partners = cursor.fetchall()
        cursor.execute("SELECT id, name, country, vat, domain, vat_key, domain_key, name_key FROM deals_customer")
        customers = cursor.fetchall()
        cursor.execute(
            "SELECT o.id, o.number, o.partner_id, o.customer_id, l.product_line, l.service_delivery, l.net_amount "
            "FROM deals_order o JOIN deals_orderline l ON l.order_id = o.id AND l.line_number = 1 "
            "WHERE o.channel = 'partner' AND l.net_amount > 0 AND o.id % 37 = 0 ORDER BY o.id LIMIT 20000"
        )
        creditable = cursor.fetchall()
        cursor.execute(
            "SELECT (SELECT max(id) FROM deals_customer), (SELECT max(id) FROM deals_order), "
            "(SELECT max(id) FROM deals_orderline)"
        )
        max_customer, max_order, max_line = (value or 0 for value in cursor.fetchone())
    connection.rollback()
    partner_by_id = {pk: (code, country) for pk, code, country in partners}
    customer_by_id = {row[0]: row for row in customers}
    by_country: dict[str, list] = {}
    for row in customers:
        by_country.setdefault(row[2], []).append(row)
    cum = list(accumulate((index + 1) ** -0.62 for index in range(len(partners))))
    product_cum = list(accumulate(PRODUCT_WEIGHTS))
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"import-{lines}.{name}" for name in ("csv", "customers.tsv", "orders.tsv", "lines.tsv")}
    created = f"{as_of.isoformat()}T12:00:00+00"
    new_customers = 0
    with (
        open(paths["csv"], "w", newline="", encoding="utf-8") as csv_file,
        open(paths["customers.tsv"], "w", encoding="utf-8") as customer_file,
        open(paths["orders.tsv"], "w", encoding="utf-8") as order_file,
        open(paths["lines.tsv"], "w", encoding="utf-8") as line_file,
    ):
        writer = csv.writer(csv_file, lineterminator="\n")
        writer.writerow(HEADER)
        written = order_count = 0
        while written < lines:
            order_count += 1
            order_id = max_order + order_count
            number = f"BI{as_of:%Y%m%d}{order_count:07d}"
            direct = rng.random() < 0.05
            partner_id = None if direct else partners[bisect_left(cum, rng.random() * cum[-1])][0]
            credited = None
            if not direct and creditable and rng.random() < 0.02:
                credited = creditable[rng.randrange(len(creditable))]
                partner_id = credited[2]
                customer = customer_by_id[credited[3]]
            elif rng.random() < 0.05:
                new_customers += 1
                country = partner_by_id[partner_id][1] if partner_id else rng.choice(sorted(by_country))
                index = max_customer + new_customers
                name, vat = f"Bench New Customer {index} SA", f"{country}N{index:09d}"
                domain = f"n{index}.example.com"
                customer = (index, name, country, vat, domain, vat, domain, f"bench new customer {index}")
                customer_file.write("\t".join(str(value) for value in (*customer, created)) + "\n")
            else:
                pool = by_country.get(partner_by_id[partner_id][1]) if partner_id else customers
                customer = pool[rng.randrange(len(pool))]
            code = partner_by_id[partner_id][0] if partner_id else ""
            channel = "direct" if direct else "partner"
            order_file.write(
                "\t".join([str(order_id), number, as_of.isoformat(), channel, created, str(customer[0]), "\\N",
                           str(partner_id) if partner_id else "\\N"]) + "\n"
            )  # fmt: skip
            if credited is not None:
                items = [(credited[4], credited[5], -max(int(credited[6] * 100) * rng.randint(10, 90) // 100, 1))]
            else:
                count = min(rng.randint(1, 4), lines - written)
                items = []
                for product in _products(rng, product_cum, count):
                    delivery = ""
                    if product == "services":
                        delivery = "resold" if rng.random() < 0.6 else "partner_delivered"
                    items.append((product, delivery, _amount_cents(rng)))
            for line_number, (product, delivery, cents) in enumerate(items, start=1):
                written += 1
                sku = f"SKU-{product[:3].upper()}-{rng.randrange(1000):03d}"
                quantity = 1 if cents < 0 else rng.randint(1, 20)
                writer.writerow([number, as_of.isoformat(), channel, code, customer[1], customer[2], customer[3],
                                 customer[4], line_number, product, sku, f"{product} item", quantity,
                                 cents_text(cents), delivery, "", credited[1] if credited else ""])  # fmt: skip
                line_file.write(
                    "\t".join([str(max_line + written), str(order_id), str(line_number), product, sku,
                               f"{product} item", str(quantity), cents_text(cents), "", delivery, "", "\\N",
                               str(credited[0]) if credited else "\\N", str(partner_id) if partner_id else "\\N",
                               str(customer[0]), as_of.isoformat(), channel]) + "\n"
                )  # fmt: skip
    return {"paths": {name: str(path) for name, path in paths.items()}, "new_customers": new_customers}


def copy_baseline(connection, paths: dict) -> None:
    """``COPY`` the resolved rows into the real tables (the caller times it and rolls back), their foreign keys
    checked as they are written, as the import's commit checks them (``baselines.CHECKED``)."""
    with connection.cursor() as cursor:
        cursor.execute(baselines.CHECKED)
        for table, columns, name in (
            ("deals_customer", CUSTOMER_COLUMNS, "customers.tsv"),
            ("deals_order", ORDER_COLUMNS, "orders.tsv"),
            ("deals_orderline", LINE_COLUMNS, "lines.tsv"),
        ):
            with (
                open(paths[name], "rb") as file,
                cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                while chunk := file.read(1 << 20):
                    copy.write(chunk)
