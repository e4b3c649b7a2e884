"""Time an import of N order lines (default 100,000): python -m benchmarks.orders_import [N]."""

import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from portal.csvimport import import_file  # noqa: E402

from .generate import orders_csv, partners_csv  # noqa: E402


def main(lines: int = 100_000):
    import_file(kind="partners", data=partners_csv(200).encode(), name="bench-partners.csv")
    data = orders_csv(lines, partners=200, customers=max(lines // 20, 10)).encode()
    started = time.perf_counter()
    run = import_file(kind="orders", data=data, name=f"bench-{lines}.csv")
    elapsed = time.perf_counter() - started
    print(f"imported {run.created:,} new lines ({run.unchanged:,} unchanged) in {elapsed:.1f} s")
    started = time.perf_counter()
    run = import_file(kind="orders", data=data, name=f"bench-{lines}.csv")
    print(f"re-import (no-op): {run.unchanged:,} unchanged in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
