"""Deterministic synthetic program data for benchmarks (no randomness from outside a seeded generator)."""

import random
from datetime import date, timedelta

PRODUCT_LINES = ["server", "storage", "networking", "hci", "data_protection", "services"]
COUNTRIES = ["FR", "DE", "GB", "US", "BE", "ES"]


def partners_csv(count: int) -> str:
    rows = ["partner_code,name,country,kind,legacy_dell_tier,legacy_emc_tier,dell_only_attested_on,admin_email"]
    for n in range(count):
        rows.append(f"B{n:05d},Bench Partner {n} SAS,{COUNTRIES[n % len(COUNTRIES)]},reseller,,,,")
    return "\n".join(rows) + "\n"


def orders_csv(lines: int, *, partners: int, customers: int, seed: int = 7, start=date(2015, 2, 1), days=1200) -> str:
    rng = random.Random(seed)
    header = (
        "order_number,booked_on,channel,partner_code,customer_name,customer_country,customer_vat,customer_domain,"
        "line_number,product_line,sku,description,quantity,net_amount,service_delivery,registration_number,"
        "credits_order_number"
    )
    rows = [header]
    order = 0
    written = 0
    while written < lines:
        order += 1
        booked = start + timedelta(days=rng.randrange(days))
        customer = rng.randrange(customers)
        country = COUNTRIES[customer % len(COUNTRIES)]
        direct = rng.random() < 0.05
        partner = "" if direct else f"B{rng.randrange(partners):05d}"
        for line_number in range(1, min(rng.randint(1, 4), lines - written) + 1):
            product = rng.choice(PRODUCT_LINES)
            delivery = rng.choice(["resold", "partner_delivered"]) if product == "services" else ""
            cents = rng.randrange(10_000, 50_000_000)
            rows.append(
                f"BO{order:08d},{booked.isoformat()},{'direct' if direct else 'partner'},{partner},"
                f"Bench Customer {customer} SA,{country},{country}B{customer:07d},,{line_number},{product},"
                f"SKU-{product[:3].upper()}-{rng.randrange(1000)},{product} item,{rng.randint(1, 20)},"
                f"{cents // 100}.{cents % 100:02d},{delivery},,"
            )
            written += 1
    return "\n".join(rows) + "\n"
