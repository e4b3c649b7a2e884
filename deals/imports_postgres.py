"""The set-based PostgreSQL path of the ``orders.csv`` import: the same rules as ``deals.imports``, at program scale.

The file is read row by row (bounded memory) and its raw cells are ``COPY``-ed as text, in batches of
``COPY`` lines written as bytes, into a temporary staging table: no rule runs per row in Python. ``row_problems``
(the Python rules, which stay the reference) is then one query over the staging table, giving the same messages in
the same order; only the VAT, domain and customer-key rules, which need Python's Unicode and IDNA handling, run in
Python, once per *distinct* value the file names. Everything that needs several rows — the rows of one order
agreeing, duplicate lines, order totals, customer matching, credits, registrations, what is already booked — is
one query over the whole file too, and each table is written by one ``INSERT … SELECT``. No model instance is
built per row. It all runs inside the import's transaction: a rejected file leaves nothing behind, and the staging
tables vanish with the transaction.

Customer matching keeps ``CustomerIndex``'s order-dependent rules (the first customer of a key wins, a customer
new in the file can be matched by a later row) by walking the file's *distinct* customer identities in file order
once, in Python: its memory grows with the number of customers a file names, never with its lines.

``tests/deals/test_imports_paths.py`` proves that this path and the Python one leave the same database state and
report the same errors on random files, good and bad cell by cell.
"""

import io
from typing import BinaryIO

from django.conf import settings
from django.db import connection

from partners.models import Partner
from portal.csvimport import ImportRejected, ImportResult, import_progress, stream_csv
from portal.money import AMOUNT_PATTERN
from portal.statistics import statistics_refresh

from .imports import import_orders
from .matching import CustomerIndex, customer_keys
from .models import Customer, Order, OrderLine, Registration
from .registrations.services import registrations_mark_won

# Above this many new lines the planner's statistics of the order tables are refreshed after the import (a stale
# histogram once made a partner's Orders page take 591 ms of SQL).
PROGRESS_EVERY = 20_000
IMPORT_WORK_MEM = "64MB"
TEMP_STATISTICS_TARGET = "10"

_CSV_COLUMNS = [
    "number",  # ``order_number``
    "booked_on",
    "channel",
    "partner_code",
    "customer_name",
    "customer_country",
    "customer_vat",
    "customer_domain",
    "line_number",
    "product_line",
    "sku",
    "description",
    "quantity",
    "net_amount",
    "service_delivery",
    "registration_number",
    "credits_order_number",
]  # ORDER_HEADER, in its order
STAGE_COLUMNS = ["line", "malformed", *_CSV_COLUMNS]
COPY_BATCH_ROWS = 2000
# COPY's text format: a backslash, tab, newline or carriage return inside a cell is escaped, NULL is ``\N``.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL_CELLS = "\t\\N" * len(_CSV_COLUMNS)
TEMP_TABLES = ["import_stage", "import_bad_vat", "import_bad_domain", "import_keys", "import_error", "import_suspect",
               "import_checked", "import_valid", "import_identity", "import_customer_of", "import_new_customer",
               "import_booked", "import_booked_line", "import_line", "import_order_id"]  # fmt: skip


class _Known:
    """A customer as ``CustomerIndex`` needs it: an id and the matching keys (no model instance)."""

    __slots__ = ("pk", "country", "vat_key", "domain_key", "name_key")

    def __init__(self, pk, country, vat_key, domain_key, name_key):
        self.pk, self.country, self.vat_key, self.domain_key, self.name_key = pk, country, vat_key, domain_key, name_key


class _Identity:
    """A customer identity with its keys already computed (``CustomerIndex.match`` reads ``keys`` and
    ``country``)."""

    __slots__ = ("country", "keys")

    def __init__(self, country, keys):
        self.country, self.keys = country, keys


def import_orders_streamed(data: bytes | BinaryIO, *, name: str = "orders.csv", run=None, user=None) -> ImportResult:
    """The importer behind uploads and commands: the set-based path on PostgreSQL, the Python stages elsewhere."""
    if connection.vendor == "postgresql":
        return import_orders_postgres(io.BytesIO(data) if isinstance(data, bytes) else data, run=run)
    return import_orders(data if isinstance(data, bytes) else data.read(), name=name, run=run)


def import_orders_postgres(stream: BinaryIO, *, run=None) -> ImportResult:
    """Book the orders of the ``orders.csv`` in ``stream`` with set operations (see the module docstring)."""
    from .imports import MAX_ORDER_TOTAL, ORDER_HEADER

    csv_stream = stream_csv(stream, header=ORDER_HEADER)
    with connection.cursor() as cursor:
        for table in TEMP_TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")  # noqa: S608 - constant names
        # These statements run once per file over all its rows: compiling them (JIT) cost more than it saved
        # (7 of 10 s of the line resolution at 100,000 lines), and their sorts and hashes spilled to disk in the
        # default 4 MB. Both are set for this transaction only, and put back afterwards.
        # The temporary tables are analysed for their sizes and keys only: a sample of 3,000 rows, not 30,000.
        cursor.execute("SELECT current_setting('jit'), current_setting('work_mem'),"
                       " current_setting('default_statistics_target')")  # fmt: skip
        jit, work_mem, statistics = cursor.fetchone()
        cursor.execute(
            "SELECT set_config('jit', 'off', true), set_config('work_mem', %s, true),"
            " set_config('default_statistics_target', %s, true)",
            [IMPORT_WORK_MEM, TEMP_STATISTICS_TARGET],
        )
        cursor.execute(
            "CREATE TEMP TABLE import_stage (line integer NOT NULL, malformed text, "
            + ", ".join(f"{column} text" for column in _CSV_COLUMNS)
            + ") ON COMMIT DROP"
        )
        rows = _copy_rows(cursor, csv_stream.rows, run=run)
        import_progress(run, rows=rows, stage="checking")
        _check_rows(cursor)
        _check_orders(cursor, max_total=MAX_ORDER_TOTAL)
        new_customers = _resolve_customers(cursor)
        _resolve_lines(cursor)
        _raise_if_errors(cursor)
        import_progress(run, rows=rows, stage="writing")
        created, orders, unchanged = _write(cursor, run=run)
        order_ids = _orders_that_may_win(cursor, run=run)
        cursor.execute("SELECT set_config('default_statistics_target', %s, true)", [statistics])
        statistics_refresh((Customer, Order, OrderLine), rows=created)
        for table in TEMP_TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")  # noqa: S608 - constant names
        cursor.execute("SELECT set_config('jit', %s, true), set_config('work_mem', %s, true)", [jit, work_mem])
    if order_ids:
        registrations_mark_won(order_ids=order_ids)
    return ImportResult(
        rows=rows, created=created, unchanged=unchanged, details={"orders": orders, "customers": new_customers}
    )


def _copy_rows(cursor, rows, *, run) -> int:
    """COPY every row of the file into ``import_stage`` as raw text (a malformed row as its problem); return the
    well-formed rows. The lines are COPY text written in batches of bytes: psycopg's ``write_row`` per row, with
    its per-value adaptation, cost more than all the checks."""
    well_formed = 0
    batch: list[str] = []
    tabs = len(_CSV_COLUMNS) - 1
    with cursor.cursor.copy(f"COPY import_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN") as copy:  # noqa: S608
        for line, row, problem in rows:
            if row is None:
                batch.append(f"{line}\t{problem.translate(_COPY_ESCAPES)}{_NULL_CELLS}\n")
            else:
                well_formed += 1
                if well_formed % PROGRESS_EVERY == 0:
                    import_progress(run, rows=well_formed, stage="reading")
                text = "\t".join(row.values())  # ORDER_HEADER order: the dict is built from the checked header
                if text.count("\t") != tabs or "\\" in text or "\n" in text or "\r" in text:
                    text = "\t".join(value.translate(_COPY_ESCAPES) for value in row.values())
                batch.append(f"{line}\t\\N\t{text}\n")
            if len(batch) >= COPY_BATCH_ROWS:
                copy.write("".join(batch).encode())
                batch.clear()
        if batch:
            copy.write("".join(batch).encode())
    return well_formed


_ORDER_NUMBER_SQL = "(length({0}) <= {1} AND {0} ~ '^(?:{2})$')"
_POSITIVE_INT_SQL = "'^[1-9][0-9]{0,8}$'"
_AMOUNT_SQL = f"'^{AMOUNT_PATTERN.pattern}$'"  # ``parse_money``'s own pattern, anchored


def _check_rows(cursor) -> None:
    """``row_problems`` of every well-formed row as one query: its messages, ranked in the order the Python rules
    give them, into ``import_error`` (which also gets the malformed rows). The VAT and domain rules (Unicode, IDNA)
    and the customer keys run in Python on the file's distinct values only."""
    from portal.catalog import ProductLine
    from portal.countries import ISO_3166_ALPHA2

    from .imports import CHANNELS, DELIVERIES, MAX_LINE_AMOUNT, PRODUCT_LINES
    from .matching import domain_is_valid, vat_is_valid
    from .models import ORDER_NUMBER_MAX_LENGTH, ORDER_NUMBER_PATTERN

    for table, column, valid in (
        ("import_bad_vat", "customer_vat", lambda vat: len(vat) <= 50 and vat_is_valid(vat)),
        ("import_bad_domain", "customer_domain", lambda domain: len(domain) <= 255 and domain_is_valid(domain)),
    ):
        cursor.execute(f"CREATE TEMP TABLE {table} (value text PRIMARY KEY) ON COMMIT DROP")
        cursor.execute(f"SELECT DISTINCT {column} FROM import_stage WHERE {column} <> ''")  # noqa: S608 - constants
        bad = [value for (value,) in cursor.fetchall() if not valid(value)]
        with cursor.cursor.copy(f"COPY {table} FROM STDIN") as copy:
            for value in bad:
                copy.write_row((value,))
    number_ok = _ORDER_NUMBER_SQL.format("s.number", ORDER_NUMBER_MAX_LENGTH, ORDER_NUMBER_PATTERN)
    credited_ok = _ORDER_NUMBER_SQL.format("s.credits_order_number", ORDER_NUMBER_MAX_LENGTH, ORDER_NUMBER_PATTERN)
    amount = f"CASE WHEN s.net_amount ~ {_AMOUNT_SQL} THEN s.net_amount::numeric END"
    year, month, day = ("substr(s.booked_on, 1, 4)::integer", "substr(s.booked_on, 6, 2)::integer",
                        "substr(s.booked_on, 9, 2)::integer")  # fmt: skip
    cursor.execute("CREATE TEMP TABLE import_error (line integer, rank integer, message text) ON COMMIT DROP")
    cursor.execute(
        f"""
        INSERT INTO import_error (line, rank, message)
        SELECT line, 0, malformed FROM import_stage WHERE malformed IS NOT NULL
        UNION ALL
        SELECT line, problem.rank, problem.message
          FROM (SELECT s.line, array_remove(ARRAY[
            CASE WHEN s.number = '' OR length(s.number) > {ORDER_NUMBER_MAX_LENGTH}
                     THEN 'order_number: required, at most {ORDER_NUMBER_MAX_LENGTH} characters'
                     WHEN NOT {number_ok}
                     THEN format('order_number: “%%s” may use only letters, digits, “.”, “_”, “-” and single “/” '
                                 'between them, starting with a letter or digit', s.number) END,
            CASE WHEN CASE WHEN s.booked_on !~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$' THEN true
                               WHEN {year} < 1 OR {month} NOT BETWEEN 1 AND 12 OR {day} < 1 THEN true
                               ELSE extract(month FROM make_date({year}, {month}, 1) + ({day} - 1)) <> {month} END
                     THEN format('booked_on: “%%s” is not a date (YYYY-MM-DD)', s.booked_on) END,
            CASE WHEN NOT s.channel = ANY(%(channels)s)
                     THEN format('channel: “%%s” must be partner or direct', s.channel)
                     WHEN s.channel = 'partner' AND s.partner_code = '' THEN 'partner_code: required on a partner order'
                     WHEN s.channel = 'direct' AND s.partner_code <> ''
                     THEN 'partner_code: must be blank on a direct order' END,
            CASE WHEN s.partner_code <> '' AND p.id IS NULL
                     THEN format('partner_code: unknown partner “%%s”', s.partner_code) END,
            CASE WHEN s.customer_name = '' OR length(s.customer_name) > 255
                     THEN 'customer_name: required, at most 255 characters' END,
            CASE WHEN NOT s.customer_country = ANY(%(countries)s)
                     THEN format('customer_country: “%%s” is not an ISO 3166 alpha-2 code', s.customer_country) END,
            CASE WHEN s.customer_vat IN (SELECT value FROM import_bad_vat)
                     THEN format('customer_vat: “%%s” is not a VAT or company id', s.customer_vat) END,
            CASE WHEN s.customer_domain IN (SELECT value FROM import_bad_domain)
                     THEN format('customer_domain: “%%s” is not a web domain', s.customer_domain) END,
            CASE WHEN s.line_number !~ {_POSITIVE_INT_SQL}
                     THEN format('line_number: “%%s” is not a positive whole number', s.line_number) END,
            CASE WHEN NOT s.product_line = ANY(%(product_lines)s)
                      THEN format('product_line: “%%s” must be one of %%s', s.product_line, %(product_list)s::text)
                      END,
            CASE WHEN s.sku = '' OR length(s.sku) > 80 THEN 'sku: required, at most 80 characters' END,
            CASE WHEN length(s.description) > 255 THEN 'description: at most 255 characters' END,
            CASE WHEN s.quantity !~ {_POSITIVE_INT_SQL}
                      THEN format('quantity: “%%s” is not a positive whole number', s.quantity) END,
            CASE WHEN a.value IS NULL
                      THEN format('net_amount: “%%s” is not an amount (digits, a dot and at most 2 decimals)',
                                  s.net_amount)
                      WHEN a.value = 0 THEN 'net_amount: must not be zero'
                      WHEN abs(a.value) > %(max_line)s
                      THEN format('net_amount: more than %%s on one line', %(max_line_text)s::text)
                      WHEN a.value < 0 AND s.credits_order_number = ''
                      THEN 'net_amount: negative only on a credit, which must name credits_order_number'
                      WHEN a.value > 0 AND s.credits_order_number <> ''
                      THEN 'net_amount: a credit line (credits_order_number) must be negative' END,
            CASE WHEN s.product_line = %(services)s AND NOT s.service_delivery = ANY(%(deliveries)s)
                      THEN 'service_delivery: resold or partner_delivered on a services line'
                      WHEN s.product_line <> %(services)s AND s.service_delivery <> ''
                      THEN 'service_delivery: must be blank on a line that is not services' END,
            CASE WHEN s.credits_order_number <> '' AND s.credits_order_number = s.number
                      THEN 'credits_order_number: an order cannot credit itself'
                      WHEN s.credits_order_number <> '' AND NOT {credited_ok}
                      THEN format('credits_order_number: “%%s” is not an order number', s.credits_order_number)
                      END
                  ], NULL) AS problems
                  FROM import_stage s
                  LEFT JOIN {Partner._meta.db_table} p ON p.code = s.partner_code AND s.partner_code <> ''
                  CROSS JOIN LATERAL (SELECT {amount} AS value) a
                 WHERE s.malformed IS NULL) checked,
               unnest(problems) WITH ORDINALITY AS problem(message, rank)
         WHERE problems <> '{{}}'
        """,  # noqa: S608 - a model's table and constant patterns
        {
            "channels": sorted(CHANNELS),
            "countries": sorted(ISO_3166_ALPHA2),
            "product_lines": sorted(PRODUCT_LINES),
            "product_list": ", ".join(ProductLine.values),
            "max_line": MAX_LINE_AMOUNT,
            "max_line_text": f"{MAX_LINE_AMOUNT:,}",
            "services": ProductLine.SERVICES,
            "deliveries": sorted(DELIVERIES),
        },
    )
    cursor.execute("ANALYZE import_error")
    # The customer keys of the rows without a problem of their own, once per distinct identity, which gets its id.
    cursor.execute(
        "CREATE TEMP TABLE import_keys (id integer, name text, country text, vat text, domain text, vat_key text,"
        " domain_key text, name_key text) ON COMMIT DROP"
    )
    cursor.execute(
        "SELECT DISTINCT customer_name, customer_country, customer_vat, customer_domain FROM import_stage"
        " WHERE malformed IS NULL AND line NOT IN (SELECT line FROM import_error)"
    )
    identities = cursor.fetchall()
    with cursor.cursor.copy("COPY import_keys FROM STDIN") as copy:
        for identity_id, (name, country, vat, domain) in enumerate(identities, start=1):
            copy.write_row((identity_id, name, country, vat, domain, *customer_keys(name, vat, domain)))
    cursor.execute("ANALYZE import_keys")


def _check_orders(cursor, *, max_total) -> None:
    """``order_problems`` as one window query: the rows of one order repeat its fields, line numbers are unique
    within an order, and an order's lines add up to at most ``max_total`` (reported at the line that crosses it).
    Their errors go to ``import_error``; then ``import_valid``: the rows with no problem at all, typed.

    The window query, three sorts of the file, runs only on the orders that can have such a problem, found by
    two hashed ``GROUP BY``: fields whose smallest and largest values differ, a line number twice, a total over
    the limit. A sound file of 100,000 lines has none, and the sorts cost ≈ 1.4 s of its import.
    """
    from .imports import MAX_LINE_AMOUNT, ORDER_FIELDS

    counted = (
        f"CASE WHEN s.net_amount ~ {_AMOUNT_SQL} AND abs(s.net_amount::numeric) <= %(max_line)s"
        " THEN abs(s.net_amount::numeric) END"
    )
    fields_differ = " OR ".join(f"min({column}) <> max({column})" for column in ORDER_FIELDS)
    cursor.execute(
        f"""
        CREATE TEMP TABLE import_suspect ON COMMIT DROP AS
        SELECT s.number FROM import_stage s WHERE s.malformed IS NULL
         GROUP BY s.number HAVING {fields_differ} OR coalesce(sum({counted}), 0) > %(max)s
        UNION
        SELECT number FROM import_stage WHERE malformed IS NULL GROUP BY number, line_number HAVING count(*) > 1
        """,  # noqa: S608 - the column names are constants
        {"max": max_total, "max_line": MAX_LINE_AMOUNT},
    )
    different = ", ".join(
        f"CASE WHEN {column} <> first_value({column}) OVER o THEN '{column}' END" for column in ORDER_FIELDS
    )
    cursor.execute(
        f"""
        CREATE TEMP TABLE import_checked ON COMMIT DROP AS
        SELECT line, number, line_number,
               first_value(line) OVER o AS first_line,
               concat_ws(', ', {different}) AS different,
               min(line) OVER (PARTITION BY number, line_number) AS first_same_line,
               counted_amount IS NOT NULL
                 AND sum(counted_amount) OVER running - counted_amount <= %(max)s
                 AND sum(counted_amount) OVER running > %(max)s AS over_total
          FROM (SELECT s.*, {counted} AS counted_amount
                  FROM import_stage s
                 WHERE s.malformed IS NULL AND s.number IN (SELECT number FROM import_suspect)) s
        WINDOW o AS (PARTITION BY number ORDER BY line),
               running AS (PARTITION BY number ORDER BY line ROWS UNBOUNDED PRECEDING)
        """,  # noqa: S608 - the column names are constants
        {"max": max_total, "max_line": MAX_LINE_AMOUNT},
    )
    cursor.execute(
        """
        INSERT INTO import_error (line, rank, message)
        SELECT line, 100, format('order %%s: %%s differ from line %%s', number, different, first_line)
          FROM import_checked WHERE different <> ''
        UNION ALL
        SELECT line, 101, format('duplicate line: order %%s line %%s is also on line %%s', number, line_number,
                                 first_same_line)
          FROM import_checked WHERE line <> first_same_line
        UNION ALL
        SELECT line, 102, format('order %%s: its lines add up to more than %%s', number, %(max)s::text)
          FROM import_checked WHERE over_total
        """,
        {"max": f"{max_total:,}"},
    )
    cursor.execute(
        f"""
        CREATE TEMP TABLE import_valid ON COMMIT DROP AS
        SELECT s.line, s.number, s.booked_on::date AS booked_on, s.channel, s.partner_code, p.id AS partner_id,
               s.customer_name, s.customer_country, s.customer_vat, s.customer_domain,
               k.vat_key, k.domain_key, k.name_key, k.id AS identity_id,
               s.line_number::integer AS line_number, s.product_line, s.sku, s.description,
               s.quantity::integer AS quantity, s.net_amount::numeric(16, 2) AS net_amount,
               s.net_amount AS net_amount_source, s.service_delivery, s.registration_number, s.credits_order_number
          FROM import_stage s
          JOIN import_keys k ON (k.name, k.country, k.vat, k.domain)
                              = (s.customer_name, s.customer_country, s.customer_vat, s.customer_domain)
          LEFT JOIN {Partner._meta.db_table} p ON p.code = s.partner_code AND s.partner_code <> ''
         WHERE s.malformed IS NULL AND s.line NOT IN (SELECT line FROM import_error)  -- each problem is a line's error
        """  # noqa: S608 - a model's table
    )
    # A temporary table has no statistics until analysed: guessed at half its size, the booked orders it names
    # were guessed at 300,000 (705 in fact) and the line resolution hashed every order line of the program.
    cursor.execute("ANALYZE import_valid")


def _resolve_customers(cursor) -> int:
    """Give every identity of the valid rows its customer (DESIGN §4, ``CustomerIndex``'s rules); the new ones get
    their ids now and are written with the orders. Return how many are new."""
    cursor.execute(
        """
        CREATE TEMP TABLE import_identity ON COMMIT DROP AS
        SELECT identity_id AS id, min(line) AS first_line, customer_name, customer_country, customer_vat,
               customer_domain, vat_key, domain_key, name_key
          FROM import_valid
         GROUP BY identity_id, customer_name, customer_country, customer_vat, customer_domain, vat_key, domain_key,
                  name_key
        """
    )
    customers = Customer._meta.db_table
    # The customers any identity could match, lowest id first: for each key the oldest customer wins.
    cursor.execute(
        f"""
        SELECT c.id, c.country, c.vat_key, c.domain_key, c.name_key
          FROM {customers} c
         WHERE c.vat_key IN (SELECT vat_key FROM import_identity WHERE vat_key <> '')
            OR c.domain_key IN (SELECT domain_key FROM import_identity WHERE domain_key <> '')
            OR (c.country, c.name_key) IN (SELECT customer_country, name_key FROM import_identity)
         ORDER BY c.id
        """  # noqa: S608 - a model's table
    )
    index = CustomerIndex()
    for known in cursor.fetchall():
        index.add(_Known(*known))
    cursor.execute("SELECT id, customer_name, customer_country, customer_vat, customer_domain, vat_key, domain_key,"
                   " name_key FROM import_identity ORDER BY first_line")  # fmt: skip
    customer_of, new = [], []
    for identity_id, name, country, vat, domain, vat_key, domain_key, name_key in cursor.fetchall():
        customer = index.match(_Identity(country, (vat_key, domain_key, name_key)))
        if customer is None:
            customer = _Known(-1 - len(new), country, vat_key, domain_key, name_key)
            new.append((customer, name, vat, domain))
            index.add(customer)
        customer_of.append((identity_id, customer))
    if new:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s) ORDER BY 1",
            [customers, len(new)],
        )
        for (customer, *_fields), (pk,) in zip(new, cursor.fetchall(), strict=True):
            customer.pk = pk
    cursor.execute("CREATE TEMP TABLE import_customer_of (identity_id bigint, customer_id bigint) ON COMMIT DROP")
    with cursor.cursor.copy("COPY import_customer_of FROM STDIN") as copy:
        for identity_id, customer in customer_of:
            copy.write_row((identity_id, customer.pk))
    cursor.execute("ANALYZE import_customer_of")
    cursor.execute(
        "CREATE TEMP TABLE import_new_customer (id bigint, name text, country text, vat text, domain text,"
        " vat_key text, domain_key text, name_key text) ON COMMIT DROP"
    )
    with cursor.cursor.copy("COPY import_new_customer FROM STDIN") as copy:
        for customer, name, vat, domain in new:
            copy.write_row((customer.pk, name, customer.country, vat, domain, customer.vat_key, customer.domain_key,
                            customer.name_key))  # fmt: skip
    return len(new)


def _resolve_lines(cursor) -> None:
    """``resolve_lines`` and ``check_against_booked`` as one query: each valid row with its customer, the booked
    order of its number, the order it credits, its registration and the booked line of the same number; then
    their errors, in the Python path's words."""
    orders, lines, registrations = Order._meta.db_table, OrderLine._meta.db_table, Registration._meta.db_table
    # The booked orders the file names (again, or as credited), read by their unique number and analysed, so the
    # query below probes their lines by index instead of hashing the whole order-line table.
    cursor.execute(
        f"""
        CREATE TEMP TABLE import_booked ON COMMIT DROP AS
        SELECT o.* FROM {orders} o
         WHERE o.number IN (SELECT number FROM import_valid
                            UNION SELECT credits_order_number FROM import_valid WHERE credits_order_number <> '');
        ANALYZE import_booked;
        CREATE TEMP TABLE import_booked_line ON COMMIT DROP AS
        SELECT l.* FROM {lines} l WHERE l.order_id IN (SELECT id FROM import_booked);
        ANALYZE import_booked_line
        """  # noqa: S608 - models' tables
    )
    cursor.execute(
        f"""
        CREATE TEMP TABLE import_line ON COMMIT DROP AS
        WITH valid AS (
            SELECT v.*, co.customer_id
              FROM import_valid v
              JOIN import_customer_of co ON co.identity_id = v.identity_id
        ),
        booked AS (SELECT * FROM import_booked),
        file_order AS (  -- the orders new in this file, as its first valid row gives them
            SELECT DISTINCT ON (number) number, partner_id, customer_id
              FROM valid WHERE number NOT IN (SELECT number FROM booked) ORDER BY number, line
        ),
        credit AS (
            SELECT v.*,
                   b.id AS booked_id, b.booked_on AS booked_booked_on, b.channel AS booked_channel,
                   b.partner_id AS booked_partner_id, b.customer_id AS booked_customer_id,
                   cb.id AS credited_booked_id, fo.number AS credited_file_number,
                   CASE WHEN cb.id IS NOT NULL THEN cb.partner_id ELSE fo.partner_id END AS credited_partner_id,
                   CASE WHEN cb.id IS NOT NULL THEN cb.customer_id ELSE fo.customer_id END AS credited_customer_id,
                   CASE WHEN cb.id IS NOT NULL
                         AND v.partner_id IS NULL AND v.channel = 'direct' AND cb.channel = 'direct'
                         AND cb.partner_id IS NOT NULL
                        THEN cb.partner_id  -- a direct credit of a routed order counts for its partner
                        ELSE v.partner_id END AS line_partner_id,
                   CASE WHEN cb.id IS NOT NULL
                        THEN EXISTS (SELECT 1 FROM import_booked_line l WHERE l.order_id = cb.id
                                                                         AND l.product_line = v.product_line)
                        ELSE EXISTS (SELECT 1 FROM valid w WHERE w.number = fo.number
                                                             AND w.product_line = v.product_line)
                   END AS credited_has_product_line
              FROM valid v
              LEFT JOIN booked b ON b.number = v.number
              LEFT JOIN booked cb ON cb.number = v.credits_order_number AND v.credits_order_number <> ''
              LEFT JOIN file_order fo ON fo.number = v.credits_order_number AND v.credits_order_number <> ''
                                     AND cb.id IS NULL
        ),
        checked AS (
            SELECT c.*, r.id AS registration_id,
                   CASE
                   WHEN c.credits_order_number = '' THEN NULL
                   WHEN c.credited_booked_id IS NULL AND c.credited_file_number IS NULL
                   THEN format('credits_order_number: unknown order “%s”', c.credits_order_number)
                   WHEN c.credited_partner_id IS DISTINCT FROM c.line_partner_id
                     OR c.credited_customer_id <> c.customer_id
                   THEN format('credits_order_number: order %s is not of the same partner and customer',
                               c.credits_order_number)
                   WHEN NOT c.credited_has_product_line
                   THEN format('credits_order_number: order %s has no %s line to credit', c.credits_order_number,
                               c.product_line)
                   END AS credit_problem,
                   CASE
                   WHEN c.registration_number = '' THEN NULL
                   WHEN r.id IS NULL
                   THEN format('registration_number: unknown registration “%s”', c.registration_number)
                   WHEN r.partner_id IS DISTINCT FROM c.line_partner_id OR r.customer_id <> c.customer_id
                   THEN format('registration_number: %s is not a registration of this partner and customer',
                               r.number)
                   END AS registration_problem,
                   concat_ws(', ',
                       CASE WHEN c.booked_booked_on <> c.booked_on THEN 'booked_on' END,
                       CASE WHEN c.booked_channel <> c.channel THEN 'channel' END,
                       CASE WHEN c.booked_channel = 'partner' AND c.booked_partner_id IS DISTINCT FROM c.line_partner_id
                            THEN 'partner_code' END,
                       CASE WHEN c.booked_customer_id <> c.customer_id THEN 'customer' END
                   ) AS booked_different,
                   bl.id AS booked_line_id,
                   bl.id IS NOT NULL AND (bl.product_line, bl.sku, bl.description, bl.quantity, bl.net_amount,
                                          bl.service_delivery, bl.registration_number, coalesce(blc.number, ''))
                     = (c.product_line, c.sku, c.description, c.quantity, c.net_amount,
                        c.service_delivery, c.registration_number, c.credits_order_number) AS booked_same
              FROM credit c
              LEFT JOIN {registrations} r ON r.number = c.registration_number AND c.registration_number <> ''
              LEFT JOIN import_booked_line bl ON bl.order_id = c.booked_id AND bl.line_number = c.line_number
              LEFT JOIN {orders} blc ON blc.id = bl.credited_order_id
        )
        SELECT *,
               CASE
               WHEN credit_problem IS NOT NULL THEN credit_problem
               WHEN registration_problem IS NOT NULL THEN registration_problem
               WHEN booked_id IS NULL THEN NULL
               WHEN booked_different <> ''
               THEN format('order %s is already booked with a different %s', number, booked_different)
               WHEN booked_line_id IS NULL
               THEN format('order %s is already booked without line %s; booked orders are never edited '
                           '(send a credit instead)', number, line_number)
               WHEN NOT booked_same
               THEN format('order %s line %s is already booked with other values', number, line_number)
               END AS problem
          FROM checked
        """  # noqa: S608 - models' tables
    )
    cursor.execute("INSERT INTO import_error SELECT line, 200, problem FROM import_line WHERE problem IS NOT NULL")


def _raise_if_errors(cursor) -> None:
    cursor.execute("SELECT count(*) FROM import_error")
    (total,) = cursor.fetchone()
    if total:
        cursor.execute(
            "SELECT line, message FROM import_error ORDER BY line, rank LIMIT %s",
            [settings.IMPORT_MAX_REPORTED_ERRORS],
        )
        raise ImportRejected([tuple(error) for error in cursor.fetchall()], total=total)


def _write(cursor, *, run) -> tuple[int, int, int]:
    """The new customers, orders and lines, one ``INSERT … SELECT`` each; return (lines, orders, unchanged)."""
    customers, orders, lines = Customer._meta.db_table, Order._meta.db_table, OrderLine._meta.db_table
    cursor.execute(
        f"""
        INSERT INTO {customers} (id, name, country, vat, domain, vat_key, domain_key, name_key, created_at)
        SELECT id, name, country, vat, domain, vat_key, domain_key, name_key, now()
          FROM import_new_customer ORDER BY id
        """  # noqa: S608 - a model's table
    )
    # An order's fields are those of its first line in the file; ids follow the file's order. The new ids are kept
    # by number, so the lines join them from a small table instead of probing the whole order table twice.
    cursor.execute("CREATE TEMP TABLE import_order_id (number text PRIMARY KEY, id bigint) ON COMMIT DROP")
    cursor.execute(
        f"""
        WITH inserted AS (
            INSERT INTO {orders} (number, booked_on, channel, partner_id, customer_id, import_run_id, created_at)
            SELECT number, booked_on, channel, line_partner_id, customer_id, %s, now()
              FROM (SELECT DISTINCT ON (number) number, line, booked_on, channel, line_partner_id, customer_id
                      FROM import_line WHERE booked_id IS NULL ORDER BY number, line) first_of_order
             ORDER BY line
            RETURNING number, id
        )
        INSERT INTO import_order_id SELECT number, id FROM inserted
        """,  # noqa: S608 - a model's table
        [run.pk if run is not None else None],
    )
    order_count = cursor.rowcount
    cursor.execute("ANALYZE import_order_id")
    cursor.execute(
        f"""
        INSERT INTO {lines} (order_id, line_number, product_line, sku, description, quantity, net_amount,
                             net_amount_source, service_delivery, registration_number, registration_id,
                             credited_order_id, partner_id, customer_id, booked_on, channel)
        SELECT o.id, l.line_number, l.product_line, l.sku, l.description, l.quantity, l.net_amount,
               l.net_amount_source, l.service_delivery, l.registration_number, l.registration_id,
               coalesce(l.credited_booked_id, credited.id), l.line_partner_id, l.customer_id, l.booked_on, l.channel
          FROM import_line l
          JOIN import_order_id o ON o.number = l.number
          LEFT JOIN import_order_id credited ON credited.number = l.credits_order_number
                                            AND l.credits_order_number <> '' AND l.credited_booked_id IS NULL
         WHERE l.booked_id IS NULL
         ORDER BY l.line
        """  # noqa: S608 - models' tables
    )
    created = cursor.rowcount
    cursor.execute("SELECT count(*) FROM import_line WHERE booked_id IS NOT NULL")
    (unchanged,) = cursor.fetchone()
    return created, order_count, unchanged


def _orders_that_may_win(cursor, *, run) -> list[int]:
    """The new orders that could win a registration: those with a line of the partner and customer of a
    registration still waiting for its first order. ``registrations_mark_won`` decides which do; giving it only
    these keeps its work proportional to the registrations, not to the file."""
    Status = Registration.Status

    lines, registrations = OrderLine._meta.db_table, Registration._meta.db_table
    cursor.execute(
        f"""
        SELECT DISTINCT l.order_id
          FROM {lines} l
          JOIN import_order_id o ON o.id = l.order_id
          JOIN {registrations} r ON r.partner_id = l.partner_id AND r.customer_id = l.customer_id
         WHERE r.status IN (%s, %s) AND r.won_order_id IS NULL AND r.approved_on IS NOT NULL
        """,  # noqa: S608 - models' tables
        [Status.APPROVED, Status.EXPIRED],
    )
    return [order_id for (order_id,) in cursor.fetchall()]
