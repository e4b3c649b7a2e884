"""Time the nightly deal and tier jobs against bare SQL doing comparable work, in the same run, on PostgreSQL.

    DATABASE_URL=postgres://portal:portal@127.0.0.1:5432/portal_l_bench python -m benchmarks.nightly [CUSTOMERS]

Generates (with ``INSERT … SELECT generate_series``, seconds) 5,000 partners, CUSTOMERS customers (default
50,000), about four partner orders per customer over three years and 8,000 direct orders, then times:

- ``apply_channel_locks`` on an empty lock table (every customer locked), then the day after (a few releases),
  vs the ``INSERT … SELECT`` of the same locks by a window query;
- ``route_direct_orders`` on a quarter of the direct orders and on all of them (rolled back after each run, so
  both start from the same state) vs the routing decisions as one query;
- the tier evaluation with its writes (first run: every partner changes; second run: nothing changes) vs the
  trailing-window ``SUM … GROUP BY``.

Every timed job runs inside a transaction rolled back afterwards, except the tier runs (the second one measures
the "nothing changed" night).
"""

import os
import sys
import time
from contextlib import contextmanager
from datetime import date, timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from deals.models import ChannelLock, Order, RoutingCase  # noqa: E402
from deals.routing import locks, services  # noqa: E402
from partners.tiers import engine  # noqa: E402
from portal.csvimport import import_file  # noqa: E402

from .generate import COUNTRIES, partners_csv  # noqa: E402

PARTNERS = 5000
DIRECT_ORDERS = 8000
AS_OF = date(2019, 12, 31)

# Partner orders 2016-01-01 … 2019-12-31, direct orders 2017-02-01 … 2019-12-31 (the program's first day on).
GENERATE = [
    """INSERT INTO deals_customer (name, country, vat, domain, vat_key, domain_key, name_key, created_at)
       SELECT 'Bench Customer ' || n || ' SA', (%(countries)s::text[])[1 + n %% 6], '', '', 'BV' || n, '',
              'bench customer ' || n, now()
       FROM generate_series(1, %(all_customers)s) AS n""",
    """CREATE TEMP TABLE bench_ids AS SELECT row_number() OVER (ORDER BY id) AS n, id, country
       FROM deals_customer""",
    """CREATE TEMP TABLE bench_partners AS SELECT row_number() OVER (ORDER BY id) AS n, id, country
       FROM partners_partner""",
    """INSERT INTO deals_order (number, booked_on, channel, partner_id, customer_id, created_at)
       SELECT 'BP' || o, DATE '2016-01-01' + ((hashint4(o) & 2147483647) %% 1460),
              'partner', p.id, c.id, now()
       FROM generate_series(1, %(partner_orders)s) AS o
       JOIN bench_ids c ON c.n = 1 + (hashint4(o * 7) & 2147483647) %% %(customers)s
       JOIN bench_partners p ON p.n = 1 + (hashint4(o * 13) & 2147483647) %% %(partners)s""",
    """INSERT INTO deals_order (number, booked_on, channel, partner_id, customer_id, created_at)
       SELECT 'BD' || o, DATE '2017-02-01' + ((hashint4(o + 99) & 2147483647) %% 1064),
              'direct', NULL, c.id, now()
       FROM generate_series(1, %(direct_orders)s) AS o
       JOIN bench_ids c ON c.n = 1 + (hashint4(o * 31) & 2147483647) %% %(all_customers)s""",
    """INSERT INTO deals_orderline (order_id, line_number, product_line, sku, description, quantity, net_amount,
              net_amount_source, service_delivery, registration_number, partner_id, customer_id, booked_on,
              channel)
       SELECT id, l, product_line, 'SKU', '', 1, amount, '',
              CASE WHEN product_line = 'services' THEN 'resold' ELSE '' END, '', partner_id, customer_id,
              booked_on, channel
       FROM (SELECT o.id, l, o.partner_id, o.customer_id, o.booked_on, o.channel,
                    (ARRAY['server','storage','networking','hci','data_protection','services'])
                    [1 + (hashint4((o.id * 3 + l)::int) & 2147483647) %% 6] AS product_line,
                    (100 + (hashint4((o.id * 5 + l)::int) & 2147483647) %% 80000)::numeric(16, 2) AS amount
             FROM deals_order o CROSS JOIN generate_series(1, 1 + o.id %% 3) AS l) AS generated""",
    "ANALYZE",
]

# The same locks the job derives (latest positive partner order per customer, active on AS_OF), written by SQL.
BARE_LOCKS = """
    CREATE TEMP TABLE bare_locks AS
    SELECT customer_id, partner_id, order_id, booked_on, (booked_on + INTERVAL '36 months')::date AS expires_on
    FROM (SELECT customer_id, partner_id, order_id, booked_on,
                 row_number() OVER (PARTITION BY customer_id ORDER BY booked_on DESC, order_id DESC, id DESC) AS r
          FROM deals_orderline
          WHERE partner_id IS NOT NULL AND net_amount > 0 AND booked_on <= %(as_of)s) AS latest
    WHERE r = 1 AND booked_on + INTERVAL '36 months' > %(as_of)s
"""

# The routing decision of every direct order without a case, as one query.
BARE_ROUTING = """
    CREATE TEMP TABLE bare_routing AS
    SELECT o.id, t.total,
           CASE WHEN EXISTS (SELECT 1 FROM deals_orderline l WHERE l.customer_id = o.customer_id
                             AND l.partner_id IS NOT NULL AND l.net_amount > 0 AND l.booked_on <= o.booked_on
                             AND l.booked_on + INTERVAL '36 months' > o.booked_on) THEN 'locked'
                WHEN EXISTS (SELECT 1 FROM deals_registration r JOIN deals_registrationline rl
                             ON rl.registration_id = r.id WHERE r.customer_id = o.customer_id
                             AND r.approved_on <= o.booked_on AND r.protection_ends_on >= o.booked_on)
                     THEN 'registration'
                WHEN t.total < 100000 THEN 'under_ceiling' ELSE 'not_routed' END AS reason
    FROM deals_order o
    JOIN (SELECT order_id, SUM(net_amount) AS total FROM deals_orderline GROUP BY order_id) t ON t.order_id = o.id
    WHERE o.channel = 'direct' AND o.partner_id IS NULL AND o.booked_on <= %(as_of)s
      AND NOT EXISTS (SELECT 1 FROM deals_routingcase c WHERE c.order_id = o.id)
"""

BARE_TIERS = """
    SELECT partner_id, SUM(net_amount), SUM(net_amount) FILTER (WHERE product_line = 'services')
    FROM deals_orderline WHERE partner_id IS NOT NULL AND booked_on > %s AND booked_on <= %s GROUP BY partner_id
"""


class _Rollback(Exception):
    pass


@contextmanager
def rolled_back():
    """Run the block in a transaction and roll it back, so the next measurement starts from the same state."""
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


def timed(label, work, results):
    started = time.perf_counter()
    outcome = work()
    elapsed = time.perf_counter() - started
    results.append((label, elapsed))
    print(f"  {label:<52} {elapsed:8.2f} s   {outcome if outcome is not None else ''}", flush=True)
    return elapsed


def _sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def generate(customers: int) -> None:
    call_command("migrate", verbosity=0)
    if Order.objects.filter(lines__isnull=False).exists():
        print("reusing the generated data", flush=True)
        return
    started = time.perf_counter()
    import_file(kind="partners", data=partners_csv(PARTNERS).encode(), name="bench-partners.csv")
    params = {
        "countries": COUNTRIES,
        "customers": customers,
        "all_customers": customers + customers // 4,  # a fifth of them never bought through a partner
        "partners": PARTNERS,
        "partner_orders": customers * 4,
        "direct_orders": DIRECT_ORDERS,
    }
    with transaction.atomic():
        for statement in GENERATE[:-1]:
            _sql(statement, params)
    _sql(GENERATE[-1])
    print(f"generated in {time.perf_counter() - started:.1f} s", flush=True)


def bench_locks(results) -> None:
    print("apply_channel_locks", flush=True)
    with rolled_back():
        ChannelLock.objects.all().delete()
        timed("bare INSERT … SELECT of the locks", lambda: _sql(BARE_LOCKS, {"as_of": AS_OF}), results)
    with rolled_back():
        ChannelLock.objects.all().delete()
        timed("channel_locks_refresh (empty table)", lambda: locks.channel_locks_refresh(as_of=AS_OF), results)
        day_after = AS_OF + timedelta(days=1)
        timed("channel_locks_refresh (the day after)", lambda: locks.channel_locks_refresh(as_of=day_after), results)


def bench_routing(results) -> None:
    print("route_direct_orders", flush=True)
    quarter_day = date(2017, 10, 31)  # about a quarter of the direct orders are booked by then
    for day in (quarter_day, AS_OF):
        count = Order.objects.filter(channel="direct", booked_on__lte=day, routing_case__isnull=True).count()
        with rolled_back():
            bare = {"as_of": day}
            timed(f"bare routing decisions, {count:,} orders", lambda bare=bare: _sql(BARE_ROUTING, bare), results)
        with rolled_back():
            timed(f"routing_run, {count:,} orders", lambda day=day: services.routing_run(as_of=day), results)
            assert RoutingCase.objects.count() >= count


def bench_tiers(results) -> None:
    print("recompute_tiers", flush=True)
    as_of = date(2019, 6, 1)
    window = engine.tier_window_start(as_of, engine.Program.current())
    for attempt in ("first", "second"):
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(BARE_TIERS, [window, as_of])
            cursor.fetchall()
            results.append((f"bare SUM … GROUP BY ({attempt})", time.perf_counter() - started))
            print(f"  {'bare SUM … GROUP BY':<52} {results[-1][1]:8.2f} s", flush=True)
        timed(f"tier_evaluate ({attempt} run)", lambda: engine.tier_evaluate(as_of=as_of), results)


def main(customers: int) -> None:
    if connection.vendor != "postgresql":
        sys.exit("benchmarks.nightly needs PostgreSQL: set DATABASE_URL")
    generate(customers)
    results: list[tuple[str, float]] = []
    bench_locks(results)
    bench_routing(results)
    bench_tiers(results)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
