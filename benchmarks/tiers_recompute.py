"""Time the tier evaluation against a bare ``SUM … GROUP BY`` over the same window, on 5,000 partners.

    DATABASE_URL=postgres://… python -m benchmarks.tiers_recompute 1000000

Loads the lines through the real import (in files of 250,000), then times, twice each: the bare aggregate,
the read-only evaluation of every partner, and the full evaluation (decisions and writes).
"""

import os
import sys
import time
from datetime import date

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from django.db import connection  # noqa: E402

from partners.tiers import engine  # noqa: E402
from portal.csvimport import import_file  # noqa: E402

from .generate import orders_csv, partners_csv  # noqa: E402

BARE = (
    "SELECT partner_id, SUM(net_amount), SUM(net_amount) FILTER (WHERE product_line = 'services') "
    "FROM deals_orderline WHERE partner_id IS NOT NULL AND booked_on > %s AND booked_on <= %s GROUP BY partner_id"
)


def main(lines: int) -> None:
    started = time.perf_counter()
    import_file(kind="partners", data=partners_csv(5000).encode(), name="p.csv")
    print(f"5,000 partners imported in {time.perf_counter() - started:.1f} s", flush=True)
    chunk = 250_000
    for index in range(max(lines // chunk, 1)):
        data = orders_csv(chunk, partners=5000, customers=50000, seed=100 + index).replace("BO", f"B{index}O")
        started = time.perf_counter()
        import_file(kind="orders", data=data.encode(), name=f"orders-{index}.csv")
        print(f"{chunk:,} lines imported in {time.perf_counter() - started:.1f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    as_of = date(2017, 6, 1)
    for _ in range(2):
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(BARE, [date(2016, 6, 1), as_of])
            rows = cursor.fetchall()
            bare = time.perf_counter() - started
        started = time.perf_counter()
        engine.tier_evaluations(as_of=as_of)
        read = time.perf_counter() - started
        started = time.perf_counter()
        engine.tier_evaluate(as_of=as_of)
        full = time.perf_counter() - started
        print(f"bare SUM…GROUP BY {bare:.2f} s ({len(rows)} partners) | evaluations {read:.2f} s | "
              f"evaluate and write {full:.2f} s", flush=True)  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
