"""Time the quarter close against a bare ``INSERT … SELECT`` of as many computed rows, on PostgreSQL.

    DATABASE_URL=postgres://portal:portal@127.0.0.1:5432/portal_b_bench python -m benchmarks.quarter_close 200000

(``--explain`` also prints the plan of the rebate query, with its timings, before the close.)

The database named by ``DATABASE_URL`` must end in ``_bench``: it is dropped, re-created and migrated. Loads
N order lines booked in FY2018-Q1 (three per order; half as many history lines over the three years before,
for the new-business look-back), a partner for every 200 lines (a third Dell-only attested, a third with a
services-delivery certification, tier changes at the quarter start and mid-quarter), 2 % of the orders
credited, 5 % linked to a won registration; then times, in the same run, a bare ``INSERT … SELECT`` of one
computed row per line into a copy of the rebate-line table (its indexes, no foreign keys) and into the ledger
itself (rolled back), and ``close_quarter FY2018-Q1`` (the statement emails, queued after commit, are left out:
they are not the close's SQL).
"""

import os
import sys
import time
from datetime import date
from urllib.parse import urlsplit, urlunsplit

import psycopg


def _recreate_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.endswith("_bench"):
        sys.exit(f"refusing to drop {name!r}: the benchmark database name must end in _bench")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


LOAD_SQL = [
    "SELECT setseed(0.42)",
    """
    INSERT INTO deals_customer (name, country, vat, domain, vat_key, domain_key, name_key, created_at)
    SELECT 'Bench Customer ' || g || ' SA', (ARRAY['FR', 'DE', 'GB', 'US', 'BE', 'ES'])[1 + g %% 6], '', '', '', '',
           'bench customer ' || g, now()
    FROM generate_series(1, %(customers)s) g
    """,
    # Orders of the quarter, then history (5 % direct) over the three years before the program start.
    """
    CREATE TEMP TABLE bench_order AS
    SELECT 'BQ' || lpad(g::text, 9, '0') AS number, date '2017-02-01' + floor(random() * 89)::int AS booked_on,
           'partner'::varchar AS channel, (SELECT min(id) FROM partners_partner) + floor(random() * %(partners)s)::int
           AS partner_id, (SELECT min(id) FROM deals_customer) + floor(random() * %(customers)s)::int AS customer_id
    FROM generate_series(1, %(orders)s) g
    UNION ALL
    SELECT 'BH' || lpad(g::text, 9, '0'), date '2014-02-01' + floor(random() * 1095)::int,
           CASE WHEN random() < 0.05 THEN 'direct' ELSE 'partner' END,
           (SELECT min(id) FROM partners_partner) + floor(random() * %(partners)s)::int,
           (SELECT min(id) FROM deals_customer) + floor(random() * %(customers)s)::int
    FROM generate_series(1, %(history_orders)s) g
    """,
    """
    INSERT INTO deals_order (number, booked_on, channel, partner_id, customer_id, created_at)
    SELECT number, booked_on, channel, CASE WHEN channel = 'direct' THEN NULL ELSE partner_id END, customer_id, now()
    FROM bench_order ORDER BY booked_on, number
    """,
    """
    INSERT INTO deals_orderline (order_id, line_number, product_line, sku, description, quantity, net_amount,
                                 net_amount_source, service_delivery, registration_number, registration_id,
                                 credited_order_id, partner_id, customer_id, booked_on, channel)
    SELECT id, line_number, product_line, 'SKU-' || product_line, '', 1, amount, '',
           CASE WHEN product_line <> 'services' THEN '' WHEN random() < 0.5 THEN 'resold'
                ELSE 'partner_delivered' END, '', NULL, NULL, partner_id, customer_id, booked_on, channel
    FROM (SELECT o.*, l AS line_number,
                 (ARRAY['server', 'storage', 'networking', 'hci', 'data_protection', 'services'])
                     [1 + floor(random() * 6)::int] AS product_line,
                 round((100 + random() * 50000)::numeric, 2) + 0.05 AS amount
          FROM deals_order o CROSS JOIN generate_series(1, 3) l) s
    """,
    # 2 % of the quarter's orders credited (half of their first line), within the quarter.
    """
    CREATE TEMP TABLE bench_credit AS
    SELECT o.id AS credited_id, 'BC' || substr(o.number, 3) AS number, LEAST(o.booked_on + 10, date '2017-04-30')
           AS booked_on, o.partner_id, o.customer_id
    FROM deals_order o WHERE o.number LIKE 'BQ%%' AND random() < 0.02
    """,
    """
    INSERT INTO deals_order (number, booked_on, channel, partner_id, customer_id, created_at)
    SELECT number, booked_on, 'partner', partner_id, customer_id, now() FROM bench_credit
    """,
    """
    INSERT INTO deals_orderline (order_id, line_number, product_line, sku, description, quantity, net_amount,
                                 net_amount_source, service_delivery, registration_number, credited_order_id,
                                 partner_id, customer_id, booked_on, channel)
    SELECT o.id, 1, l.product_line, l.sku, '', 1, -round(l.net_amount / 2, 2), '', l.service_delivery, '',
           c.credited_id, c.partner_id, c.customer_id, c.booked_on, 'partner'
    FROM bench_credit c JOIN deals_order o ON o.number = c.number
    JOIN deals_orderline l ON l.order_id = c.credited_id AND l.line_number = 1
    """,
    # 5 % of the quarter's orders won a registration.
    """
    INSERT INTO deals_registration (number, partner_id, customer_id, opportunity_name, expected_close_on, status,
                                    submitted_at, approved_on, protection_ends_on, extension, extension_reason,
                                    decision_note, won_on, won_order_id, created_at)
    SELECT 'DR-B' || o.id, o.partner_id, o.customer_id, 'Bench deal', o.booked_on + 30, 'won', now(),
           o.booked_on - 5, o.booked_on + 85, '', '', '', o.booked_on, o.id, now()
    FROM deals_order o WHERE o.number LIKE 'BQ%%' AND random() < 0.05
    """,
    """
    UPDATE deals_orderline l SET registration_id = g.id
    FROM deals_registration g WHERE g.won_order_id = l.order_id AND l.product_line IN ('server', 'storage')
    """,
    # Tiers: a quarter of the partners Gold from the quarter start, a fifth Platinum from mid-quarter.
    """
    INSERT INTO partners_tierhistory (partner_id, to_tier_id, effective_on, reason, note, figures, created_at)
    SELECT p.id, t.id, date '2017-02-01', 'manual_override', '', '{}'::jsonb, now()
    FROM partners_partner p JOIN partners_tier t ON t.code = 'gold' WHERE p.id %% 4 = 0
    UNION ALL
    SELECT p.id, t.id, date '2017-03-15', 'upgrade', '', '{}'::jsonb, now()
    FROM partners_partner p JOIN partners_tier t ON t.code = 'platinum' WHERE p.id %% 5 = 0
    """,
    # A third of the partners attested (most before the quarter, some from mid-quarter).
    """
    INSERT INTO partners_dellonlyattestation (partner_id, starts_on, signed_by, created_at)
    SELECT id, CASE WHEN id %% 9 = 0 THEN date '2017-03-01' ELSE date '2016-06-01' END, 'Bench', now()
    FROM partners_partner WHERE id %% 3 = 0
    """,
    # A third of the partners certified for services delivery.
    """
    INSERT INTO partners_person (partner_id, email, name)
    SELECT id, 'delivery@bench.example', 'Bench Delivery' FROM partners_partner WHERE id %% 3 = 1
    """,
    """
    INSERT INTO partners_certificationrecord (person_id, certification_id, earned_on, expires_on, expires_on_given,
                                              status, rejection_reason, created_at)
    SELECT pe.id, ce.id, date '2016-01-01', date '2018-01-01', true, 'verified', '', now()
    FROM partners_person pe JOIN partners_certification ce ON ce.code = 'SVC-DELIVERY'
    WHERE pe.email = 'delivery@bench.example'
    """,
    "ANALYZE",
]

BARE_SQL = """
INSERT INTO {table} (statement_id, order_line_id, component, tier_id, net_amount, rate, amount, is_adjustment)
SELECT %(statement)s, ol.id, 'base', %(tier)s, ol.net_amount, 2, round(ol.net_amount * 2 / 100, 2), false
FROM deals_orderline ol
WHERE ol.partner_id IS NOT NULL AND ol.booked_on >= %(start)s AND ol.booked_on <= %(end)s
"""


def _bare(connection, transaction, quarter) -> tuple[float, float, int]:
    """Seconds to insert one computed row per line, committed: into a copy of the ledger (its indexes, no foreign
    keys), and into the ledger itself (its indexes and deferred foreign-key checks), emptied afterwards."""
    from partners.models import Partner, Tier
    from rebates.models import Statement

    params = {"start": quarter.start, "end": quarter.end, "tier": Tier.objects.get(code=Tier.AUTHORIZED).pk}
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_rebateline (LIKE rebates_rebateline INCLUDING ALL)")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(BARE_SQL.format(table="bench_rebateline"), {**params, "statement": 0})
        rows = cursor.rowcount
    copy = time.perf_counter() - started
    statement = Statement.objects.create(
        number="BENCH", partner=Partner.objects.first(), quarter="BENCH", issued_on=quarter.end
    )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(BARE_SQL.format(table="rebates_rebateline"), {**params, "statement": statement.pk})
    ledger = time.perf_counter() - started
    with connection.cursor() as cursor:  # the ledger refuses DELETE; this database is the benchmark's own
        cursor.execute("TRUNCATE rebates_rebateline, rebates_statement")
        cursor.execute("ANALYZE rebates_rebateline")
    return copy, ledger, rows


def load(lines: int) -> tuple[int, int, int]:
    """Load the program into the current (migrated) database; return (partners, quarter lines, of attested)."""
    from django.db import connection, transaction

    from portal.csvimport import import_file

    from .generate import partners_csv

    partners = max(lines // 200, 50)
    import_file(kind="partners", data=partners_csv(partners).encode(), name="p.csv")
    params = {
        "partners": partners,
        "customers": max(lines // 5, 100),
        "orders": lines // 3,
        "history_orders": lines // 6,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in LOAD_SQL[:-1]:
            cursor.execute(statement, params)
    with connection.cursor() as cursor:
        if not connection.in_atomic_block:  # ANALYZE cannot run in a transaction block (a test's)
            cursor.execute(LOAD_SQL[-1])
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE a.partner_id IS NOT NULL) FROM deals_orderline ol "
            "LEFT JOIN (SELECT DISTINCT partner_id FROM partners_dellonlyattestation) a "
            "ON a.partner_id = ol.partner_id "
            "WHERE ol.partner_id IS NOT NULL AND ol.booked_on >= '2017-02-01' AND ol.booked_on <= '2017-04-30'"
        )
        quarter_lines, attested = cursor.fetchone()
    return partners, quarter_lines, attested


def main(lines: int, *, explain: bool = False) -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must name a PostgreSQL database ending in _bench")
    _recreate_database(url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from portal.fiscal import Quarter
    from rebates import services

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    partners, quarter_lines, attested = load(lines)
    print(
        f"loaded in {time.perf_counter() - started:.1f} s: {partners:,} partners, {quarter_lines:,} partner lines "
        f"in FY2018-Q1 ({attested:,} of attested partners)",
        flush=True,
    )

    quarter = Quarter.parse("FY2018-Q1")
    bare, bare_ledger, bare_rows = _bare(connection, transaction, quarter)

    if explain:
        from portal.models import Program
        from rebates import generator

        with connection.cursor() as cursor:
            cursor.execute(
                f"EXPLAIN (ANALYZE, BUFFERS) {generator.REBATE_ROWS_SQL}",
                generator._sql_params(quarter, Program.current()),
            )
            print("\n".join(row[0] for row in cursor.fetchall()), flush=True)

    services._enqueue_emails = lambda quarter: None  # the emails are not the close's SQL
    started = time.perf_counter()
    result = services.quarter_close(quarter=quarter, as_of=date(2017, 5, 6))
    close = time.perf_counter() - started
    print(
        f"bare INSERT…SELECT of {bare_rows:,} rows: {bare:.2f} s into a copy, {bare_ledger:.2f} s into the ledger | "
        f"close_quarter {close:.2f} s ({result['rebate_lines']:,} rebate lines, {result['statements']:,} "
        f"statements, {result['rebate_lines'] / close:,.0f} lines/s) | ratio {close / bare:.1f}× the copy, "
        f"{close / bare_ledger:.1f}× the ledger",
        flush=True,
    )


if __name__ == "__main__":
    arguments = [argument for argument in sys.argv[1:] if argument != "--explain"]
    main(int(arguments[0]) if arguments else 200_000, explain="--explain" in sys.argv)
