"""Generate a whole channel program straight into PostgreSQL with ``COPY``, deterministically (one seeded RNG).

The program is anchored on a day (``as_of``, by default the day it was generated): 24 months of orders end on it,
the program starts on the first day of the quarter before it (so that quarter is the one to close and the
anchor's quarter is open), and every job of the benchmark runs as of that day. What it holds:

- partners across the seed zones' countries, with a skewed size (partner ``BP00000`` is the large one), a
  status-match tier history on the program start, upgrades inside both quarters, 1.25X attestations (some ended
  mid-quarter), people with certification records, an admin login each (and a finance login for some);
- customers owned mostly by one partner (locks and incumbents), in that partner's country;
- orders booked day after day: partner orders (some credits naming an earlier order of the same partner and
  customer), direct orders (routed by the routing job), won registrations linked to their order lines, and
  registrations still protected, submitted or expired.

Rows are written in PostgreSQL's text ``COPY`` format with foreign keys checked by construction (a superuser's
session runs with ``session_replication_role = replica`` while loading, so no per-row trigger runs), then sequences
are moved past the ids and the tables analysed. Nothing here imports Django: the loader is a bare psycopg connection.
"""

import hashlib
import random
import tempfile
import time
from base64 import b64encode
from bisect import bisect_left
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate

from portal.fiscal import Quarter, add_months

GENERATOR_VERSION = 2
BENCH_PASSWORD = "bench-portal-2017"

COUNTRIES = [("FR", 18), ("DE", 16), ("GB", 14), ("US", 25), ("BE", 6), ("ES", 6), ("IT", 6), ("NL", 5), ("CA", 4)]
PRODUCT_LINES = ["server", "storage", "networking", "hci", "data_protection", "services"]
PRODUCT_WEIGHTS = [30, 25, 15, 10, 10, 10]
TIER_IDS = {"authorized": 1, "gold": 2, "platinum": 3, "titanium": 4}
PROTECTION_DAYS = {1: 90, 2: 90, 3: 120, 4: 180}
CERTIFICATION_IDS = range(1, 10)  # the seed catalogue; 9 is SVC-DELIVERY
NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class Sizes:
    partners: int = 5_000
    customers: int = 200_000
    lines: int = 3_000_000
    months: int = 24
    seed: int = 2017
    attested_share: float = 0.33  # of partners: a ratio of counts, not money

    def key(self, as_of: date) -> dict:
        return {**asdict(self), "as_of": as_of.isoformat(), "version": GENERATOR_VERSION}


@dataclass(frozen=True)
class Calendar:
    """The days a generated program is built around."""

    as_of: date

    @property
    def open_quarter(self) -> Quarter:
        return Quarter.containing(self.as_of)

    @property
    def close_quarter(self) -> Quarter:
        return self.open_quarter.previous()

    @property
    def program_start(self) -> date:
        return self.close_quarter.start

    def first_day(self, months: int) -> date:
        return add_months(self.as_of, -months) + timedelta(days=1)


def password_hash(password: str, *, salt: str = "benchsalt0123456", iterations: int = 1_000_000) -> str:
    """Django's ``pbkdf2_sha256`` format, computed once for every generated login."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${b64encode(digest).decode()}"


def registration_number(pk: int) -> str:
    text = ""
    value = pk
    for _index in range(8):
        value, digit = divmod(value, len(NUMBER_ALPHABET))
        text = NUMBER_ALPHABET[digit] + text
    return f"DR-{text}"


def customer_identity(index: int, country: str) -> tuple[str, str, str, str, str, str]:
    """``(name, vat, domain, vat_key, domain_key, name_key)`` of generated customer ``index`` (keys as
    ``deals.matching.customer_keys`` computes them: the import matches these rows by VAT id)."""
    suffix = {"FR": "SARL", "DE": "GmbH", "GB": "Ltd", "US": "Inc", "IT": "Srl", "NL": "BV"}.get(country, "SA")
    vat = f"{country}{index:09d}"
    domain = f"c{index}.example.com"
    return f"Bench Customer {index} {suffix}", vat, domain, vat, domain, f"bench customer {index}"


def _text(value) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    return str(value)


class _Copy:
    """Rows for one table in PostgreSQL's text ``COPY`` format, spooled to a file (one ``COPY`` may be in progress
    per connection, and the generator writes several tables at once), then copied in one statement."""

    def __init__(self, cursor, table: str, columns: list[str]):
        self.cursor, self.table, self.columns = cursor, table, columns
        self.file = tempfile.TemporaryFile(mode="w+b")
        self.buffer: list[str] = []
        self.rows = 0

    def row(self, *values) -> None:
        self.buffer.append("\t".join(_text(value) for value in values))
        self.rows += 1
        if len(self.buffer) >= 20_000:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.file.write(("\n".join(self.buffer) + "\n").encode())
            self.buffer = []

    def close(self) -> int:
        self.flush()
        self.file.seek(0)
        with self.cursor.copy(f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN") as copy:
            while chunk := self.file.read(1 << 20):
                copy.write(chunk)
        self.file.close()
        return self.rows


def cents_text(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _replica_mode(cursor, log) -> bool:
    """Skip the per-row foreign-key triggers while loading (rows are consistent by construction); that needs a
    superuser. Another role loads with the checks on, run at commit (deferred): the same data, only slower."""
    cursor.execute("SAVEPOINT replica_mode")
    try:
        cursor.execute("SET session_replication_role = replica")
    except Exception as error:  # psycopg.errors.InsufficientPrivilege, without importing psycopg's error classes
        cursor.execute("ROLLBACK TO SAVEPOINT replica_mode")
        log(f"  foreign keys checked while loading (slower): {type(error).__name__}")
        return False
    cursor.execute("RELEASE SAVEPOINT replica_mode")
    return True


def generate(connection, *, sizes: Sizes, as_of: date, log=print) -> dict:
    """Load a program of ``sizes`` anchored on ``as_of`` into the (migrated, empty) database of ``connection``."""
    started = time.perf_counter()
    rng = random.Random(sizes.seed)
    calendar = Calendar(as_of)
    program_start = calendar.program_start
    first_day = calendar.first_day(sizes.months)
    stamp = datetime.combine(program_start, datetime.min.time()).isoformat() + "+00"
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        replica = _replica_mode(cursor, log)
        cursor.execute("UPDATE portal_program SET start_date = %s WHERE id = 1", [program_start])
        partners = _partners(cursor, rng, sizes, calendar, stamp, counts)
        customers = _customers(cursor, rng, sizes, partners, stamp, counts)
        log(f"  partners, people, logins and {sizes.customers:,} customers in {time.perf_counter() - started:.0f} s")
        numbering = _orders(cursor, rng, sizes, calendar, first_day, partners, customers, counts)
        log(f"  {counts['deals_orderline']:,} order lines in {time.perf_counter() - started:.0f} s")
        _open_registrations(cursor, rng, sizes, calendar, partners, customers, counts, numbering)
        if replica:
            cursor.execute("SET session_replication_role = DEFAULT")
        for table in counts:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")  # noqa: S608
    connection.commit()
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.autocommit = False
    log(f"  loaded and analysed in {time.perf_counter() - started:.0f} s")
    return counts


# --- partners ----------------------------------------------------------------------------------------------------


@dataclass
class _Partner:
    pk: int
    code: str
    country: str
    weight: float
    tier_id: int
    attested: bool


def _partners(cursor, rng, sizes: Sizes, calendar: Calendar, stamp: str, counts: dict) -> list[_Partner]:
    countries = [c for c, _w in COUNTRIES]
    country_cum = list(accumulate(w for _c, w in COUNTRIES))
    partners = []
    for index in range(sizes.partners):
        country = rng.choices(countries, cum_weights=country_cum)[0]
        share = index / max(sizes.partners - 1, 1)  # 0 = the largest partner
        jitter = rng.random()
        if index == 0 or share < 0.02 * (0.5 + jitter):
            tier = 4
        elif share < 0.10 * (0.5 + jitter):
            tier = 3
        elif share < 0.35 * (0.5 + jitter):
            tier = 2
        else:
            tier = 1
        partners.append(
            _Partner(
                pk=index + 1,
                code=f"BP{index:05d}",
                country=country,
                weight=(index + 1) ** -0.62,
                tier_id=tier,
                attested=index > 0 and rng.random() < sizes.attested_share,
            )
        )
    legacy = {4: ("premier_plus", "platinum"), 3: ("premier", "gold"), 2: ("preferred", "silver"), 1: ("", "")}
    upgrades = _tier_history(cursor, rng, calendar, partners, stamp, counts)
    copy = _Copy(
        cursor,
        "partners_partner",
        ["id", "code", "name", "country", "kind", "active", "legacy_dell_tier", "legacy_emc_tier", "tier_id",
         "computed_tier_id", "at_risk", "at_risk_reason", "evaluated_on", "created_at"],
    )  # fmt: skip
    for partner in partners:
        dell, emc = legacy[partner.tier_id]
        tier = upgrades.get(partner.pk, partner.tier_id)
        kind = "service_provider" if partner.pk % 7 == 0 else "reseller"
        copy.row(partner.pk, partner.code, f"Bench Partner {partner.pk - 1} SAS", partner.country, kind, True,
                 dell, emc, tier, tier, False, "", None, stamp)  # fmt: skip
    counts["partners_partner"] = copy.close()
    _attestations(cursor, rng, calendar, partners, stamp, counts)
    _people(cursor, rng, calendar, partners, stamp, counts)
    _logins(cursor, rng, partners, counts)
    return partners


def _tier_history(cursor, rng, calendar: Calendar, partners, stamp: str, counts: dict) -> dict[int, int]:
    """A status match on the program start for everyone; upgrades inside the closing and the open quarter."""
    copy = _Copy(
        cursor,
        "partners_tierhistory",
        ["id", "partner_id", "from_tier_id", "to_tier_id", "effective_on", "reason", "note", "figures", "created_at"],
    )
    pk = 0
    final = {}
    close_days = (calendar.close_quarter.end - calendar.close_quarter.start).days
    open_days = max((calendar.as_of - calendar.open_quarter.start).days, 1)
    for partner in partners:
        pk += 1
        copy.row(pk, partner.pk, None, partner.tier_id, calendar.program_start, "status_match", "", "{}", stamp)
        tier = partner.tier_id
        if tier < 4 and rng.random() < 0.06:
            day = calendar.close_quarter.start + timedelta(days=rng.randrange(1, close_days))
            pk += 1
            copy.row(pk, partner.pk, tier, tier + 1, day, "upgrade", "", '{"bench": true}', stamp)
            tier += 1
        if tier < 4 and rng.random() < 0.03:
            day = calendar.open_quarter.start + timedelta(days=rng.randrange(open_days))
            pk += 1
            copy.row(pk, partner.pk, tier, tier + 1, day, "upgrade", "", '{"bench": true}', stamp)
            tier += 1
        final[partner.pk] = tier
    counts["partners_tierhistory"] = copy.close()
    return final


def _attestations(cursor, rng, calendar: Calendar, partners, stamp: str, counts: dict) -> None:
    copy = _Copy(
        cursor,
        "partners_dellonlyattestation",
        ["id", "partner_id", "starts_on", "ends_on", "signed_by", "verified_by_id", "verified_at", "created_at"],
    )
    pk = 0
    span = (calendar.program_start - add_months(calendar.program_start, -30)).days
    quarter_days = (calendar.close_quarter.end - calendar.close_quarter.start).days
    for partner in partners:
        if not partner.attested:
            continue
        pk += 1
        starts = calendar.program_start - timedelta(days=rng.randrange(span))
        ends = calendar.close_quarter.start + timedelta(days=rng.randrange(1, quarter_days)) if pk % 10 == 0 else None
        copy.row(pk, partner.pk, starts, ends, "Bench signatory", None, stamp, stamp)
    counts["partners_dellonlyattestation"] = copy.close()


def _people(cursor, rng, calendar: Calendar, partners, stamp: str, counts: dict) -> None:
    people = _Copy(cursor, "partners_person", ["id", "partner_id", "email", "name", "user_id"])
    records = _Copy(
        cursor,
        "partners_certificationrecord",
        [
            "id",
            "person_id",
            "certification_id",
            "earned_on",
            "expires_on",
            "expires_on_given",
            "status",
            "rejection_reason",
            "created_at",
        ],
    )
    person_pk = record_pk = 0
    span = (calendar.as_of - add_months(calendar.as_of, -30)).days
    top = partners[0].weight
    for partner in partners:
        for number in range(2 + int(30 * partner.weight / top * rng.random() + rng.randrange(4))):
            person_pk += 1
            people.row(person_pk, partner.pk, f"person{number}@{partner.code.lower()}.example.com",
                       f"Person {number} of {partner.code}", None)  # fmt: skip
            for certification in rng.sample(CERTIFICATION_IDS, rng.randint(1, 3)):
                record_pk += 1
                earned = calendar.as_of - timedelta(days=rng.randrange(span))
                records.row(
                    record_pk, person_pk, certification, earned, add_months(earned, 24), False, "verified", "", stamp
                )
    counts["partners_person"] = people.close()
    counts["partners_certificationrecord"] = records.close()


def _logins(cursor, rng, partners, counts: dict) -> None:
    """One admin per partner, a finance user for a third of them, and one staff superuser (``staff@bench…``)."""
    hashed = password_hash(BENCH_PASSWORD)
    users = _Copy(
        cursor,
        "portal_user",
        ["id", "password", "last_login", "is_superuser", "first_name", "last_name", "is_staff", "is_active",
         "date_joined", "email", "language"],
    )  # fmt: skip
    emails = _Copy(cursor, "account_emailaddress", ["id", "email", "verified", '"primary"', "user_id"])
    memberships = _Copy(cursor, "partners_membership", ["id", "role", "created_at", "user_id", "partner_id"])
    joined = "2017-01-01T00:00:00+00"
    pk = 1
    users.row(pk, hashed, None, True, "Bench", "Staff", True, True, joined, "staff@bench.example.com", "en")
    emails.row(pk, "staff@bench.example.com", True, True, pk)
    membership_pk = 0
    for partner in partners:
        roles = ["admin", "finance"] if partner.pk % 3 == 1 else ["admin"]
        for role in roles:
            pk += 1
            membership_pk += 1
            email = f"{role}@{partner.code.lower()}.example.com"
            language = "fr" if partner.country in {"FR", "BE"} else "en"
            users.row(pk, hashed, None, False, role.title(), partner.code, False, True, joined, email, language)
            emails.row(pk, email, True, True, pk)
            memberships.row(membership_pk, role, joined, pk, partner.pk)
    counts["portal_user"] = users.close()
    counts["account_emailaddress"] = emails.close()
    counts["partners_membership"] = memberships.close()


# --- customers ---------------------------------------------------------------------------------------------------


@dataclass
class _Customers:
    country: list[str]
    owned: dict[int, list[int]]  # partner pk → customer indexes
    by_country: dict[str, list[int]]


def _customers(cursor, rng, sizes: Sizes, partners, stamp: str, counts: dict) -> _Customers:
    cum = list(accumulate(p.weight for p in partners))
    owners = rng.choices(range(len(partners)), cum_weights=cum, k=sizes.customers)
    copy = _Copy(
        cursor,
        "deals_customer",
        ["id", "name", "country", "vat", "domain", "vat_key", "domain_key", "name_key", "created_at"],
    )
    result = _Customers(country=[], owned={}, by_country={})
    for index, owner in enumerate(owners):
        partner = partners[owner]
        country = partner.country
        name, vat, domain, vat_key, domain_key, name_key = customer_identity(index, country)
        copy.row(index + 1, name, country, vat, domain, vat_key, domain_key, name_key, stamp)
        result.country.append(country)
        result.owned.setdefault(partner.pk, []).append(index)
        result.by_country.setdefault(country, []).append(index)
    counts["deals_customer"] = copy.close()
    return result


# --- orders ------------------------------------------------------------------------------------------------------


def _amount_cents(rng) -> int:
    cents = rng.randrange(20_00, 30_000_00)
    if rng.random() < 0.03:
        cents *= 10
    return cents


def _orders(cursor, rng, sizes: Sizes, calendar: Calendar, first_day: date, partners, customers, counts) -> tuple:
    orders = _Copy(
        cursor,
        "deals_order",
        ["id", "number", "booked_on", "channel", "created_at", "customer_id", "import_run_id", "partner_id"],
    )
    lines = _Copy(
        cursor,
        "deals_orderline",
        ["id", "order_id", "line_number", "product_line", "sku", "description", "quantity", "net_amount",
         "net_amount_source", "service_delivery", "registration_number", "registration_id", "credited_order_id",
         "partner_id", "customer_id", "booked_on", "channel"],
    )  # fmt: skip
    registrations = _RegistrationWriter(cursor)
    days = (calendar.as_of - first_day).days + 1
    cum = list(accumulate(p.weight for p in partners))
    product_cum = list(accumulate(PRODUCT_WEIGHTS))
    last_order: dict[tuple[int, int], tuple[int, str, str, int]] = {}
    order_pk = line_pk = 0
    written = 0
    while written < sizes.lines:
        offset = written * days // sizes.lines  # the lines spread evenly over the days, in booking order
        day = first_day + timedelta(days=offset)
        created = f"{day.isoformat()}T12:00:00+00"
        order_pk += 1
        number = f"BN{order_pk:09d}"
        if rng.random() < 0.05:  # a direct order, for the routing job
            customer = rng.randrange(sizes.customers)
            orders.row(order_pk, number, day, "direct", created, customer + 1, None, None)
            count = min(rng.randint(1, 4), sizes.lines - written)
            for line_number, product in enumerate(_products(rng, product_cum, count), start=1):
                line_pk += 1
                delivery = ("resold" if rng.random() < 0.6 else "partner_delivered") if product == "services" else ""
                sku = f"SKU-{product[:3].upper()}-{rng.randrange(1000):03d}"
                quantity, cents = rng.randint(1, 20), _amount_cents(rng)
                lines.row(line_pk, order_pk, line_number, product, sku, f"{product} item", quantity, cents_text(cents),
                          "", delivery, "", None, None, None, customer + 1, day, "direct")  # fmt: skip
            written += count
            continue
        partner = partners[bisect_left(cum, rng.random() * cum[-1])]
        owned = customers.owned.get(partner.pk)
        if owned and rng.random() < 0.85:
            customer = owned[rng.randrange(len(owned))]
        else:
            pool = customers.by_country.get(partner.country) or range(sizes.customers)
            customer = pool[rng.randrange(len(pool))]
        orders.row(order_pk, number, day, "partner", created, customer + 1, None, partner.pk)
        previous = last_order.get((partner.pk, customer))
        if previous is not None and rng.random() < 0.025:  # a credit of part of an earlier order's first line
            credited_pk, product, delivery, cents = previous
            line_pk += 1
            credit = -max(cents * rng.randint(10, 100) // 100, 1)
            lines.row(line_pk, order_pk, 1, product, f"SKU-{product[:3].upper()}-CR", f"credit {product}",
                      1, cents_text(credit), "", delivery, "", None, credited_pk, partner.pk, customer + 1, day,
                      "partner")  # fmt: skip
            written += 1
            continue
        count = min(rng.randint(1, 4), sizes.lines - written)
        products = _products(rng, product_cum, count)
        registration = None
        if rng.random() < 0.04 and {"server", "storage"} & set(products):
            registration = registrations.won(rng, partner, customer + 1, day, order_pk, products)
        first = None
        for line_number, product in enumerate(products, start=1):
            line_pk += 1
            delivery = ("resold" if rng.random() < 0.6 else "partner_delivered") if product == "services" else ""
            cents = _amount_cents(rng)
            linked = registration if registration and product in {"server", "storage"} else None
            lines.row(line_pk, order_pk, line_number, product, f"SKU-{product[:3].upper()}-{rng.randrange(1000):03d}",
                      f"{product} item", rng.randint(1, 20), cents_text(cents), "", delivery,
                      linked[1] if linked else "", linked[0] if linked else None, None, partner.pk, customer + 1,
                      day, "partner")  # fmt: skip
            if first is None:
                first = (order_pk, product, delivery, cents)
        last_order[(partner.pk, customer)] = first
        written += count
    counts["deals_order"] = orders.close()
    counts["deals_orderline"] = lines.close()
    registrations.close(counts)
    return registrations.pk, registrations.line_pk, registrations.event_pk  # the open ones continue it


def _products(rng, product_cum, count: int) -> list[str]:
    chosen: list[str] = []
    while len(chosen) < count:
        product = PRODUCT_LINES[bisect_left(product_cum, rng.random() * product_cum[-1])]
        if product not in chosen:
            chosen.append(product)
    return chosen


class _RegistrationWriter:
    def __init__(self, cursor):
        self.registrations = _Copy(
            cursor,
            "deals_registration",
            ["id", "number", "opportunity_name", "expected_close_on", "status", "submitted_at", "decided_at",
             "approved_on", "protection_ends_on", "extension", "extension_reason", "decision_note", "won_on",
             "created_at", "conflict_with_id", "customer_id", "partner_id", "submitted_by_id",
             "extension_requested_on", "submission_token", "won_order_id"],
        )  # fmt: skip
        self.lines = _Copy(
            cursor, "deals_registrationline", ["id", "registration_id", "product_line", "estimated_amount"]
        )
        self.events = _Copy(
            cursor,
            "deals_registrationevent",
            ["id", "registration_id", "actor_id", "from_status", "to_status", "note", "created_at"],
        )
        self.pk = self.line_pk = self.event_pk = 0

    def add(self, rng, partner, customer_id: int, *, status: str, approved: date | None, submitted: date,
            products, won_on: date | None = None, won_order: int | None = None) -> tuple[int, str]:  # fmt: skip
        self.pk += 1
        number = registration_number(self.pk)
        protection = approved + timedelta(days=PROTECTION_DAYS[partner.tier_id]) if approved else None
        submitted_at = f"{submitted.isoformat()}T09:00:00+00"
        decided_at = f"{approved.isoformat()}T15:00:00+00" if approved else None
        self.registrations.row(
            self.pk, number, f"Bench opportunity {self.pk}", (won_on or submitted) + timedelta(days=30), status,
            submitted_at, decided_at, approved, protection, "", "", "", won_on, submitted_at, None, customer_id,
            partner.pk, None, None, None, won_order,
        )  # fmt: skip
        for product in products:
            self.line_pk += 1
            self.lines.row(self.line_pk, self.pk, product, cents_text(_amount_cents(rng)))
        steps = [("", "submitted", submitted)]
        if approved:
            steps.append(("submitted", "approved", approved))
        if status not in {"submitted", "approved"}:
            steps.append((steps[-1][1], status, won_on or protection or submitted))
        for from_status, to_status, day in steps:
            self.event_pk += 1
            self.events.row(self.event_pk, self.pk, None, from_status, to_status, "", f"{day.isoformat()}T16:00:00+00")
        return self.pk, number

    def won(self, rng, partner, customer_id: int, day: date, order_pk: int, products) -> tuple[int, str]:
        approved = day - timedelta(days=rng.randrange(1, 80))
        registered = [p for p in products if p in {"server", "storage"}]
        return self.add(rng, partner, customer_id, status="won", approved=approved,
                        submitted=approved - timedelta(days=1), products=registered, won_on=day,
                        won_order=order_pk)  # fmt: skip

    def close(self, counts: dict) -> None:
        counts["deals_registration"] = self.registrations.close()
        counts["deals_registrationline"] = self.lines.close()
        counts["deals_registrationevent"] = self.events.close()


def _open_registrations(cursor, rng, sizes: Sizes, calendar: Calendar, partners, customers, counts, numbering) -> None:
    """Registrations without an order: protected ones (routing's registration reason), submitted, expired."""
    fresh = _RegistrationWriter(cursor)
    fresh.pk, fresh.line_pk, fresh.event_pk = numbering
    for _index in range(max(sizes.lines // 150, 10)):
        partner = partners[rng.randrange(len(partners))]
        owned = customers.owned.get(partner.pk) or [rng.randrange(sizes.customers)]
        customer_id = owned[rng.randrange(len(owned))] + 1
        products = rng.sample(["server", "storage", "hci", "networking"], rng.randint(1, 2))
        kind = rng.random()
        if kind < 0.6:  # approved, protected on the anchor day (routing's registration reason)
            approved = calendar.as_of - timedelta(days=rng.randrange(1, 80))
            fresh.add(rng, partner, customer_id, status="approved", approved=approved,
                      submitted=approved - timedelta(days=1), products=products)  # fmt: skip
        elif kind < 0.8:
            submitted = calendar.as_of - timedelta(days=rng.randrange(0, 3))
            fresh.add(rng, partner, customer_id, status="submitted", approved=None, submitted=submitted,
                      products=products)  # fmt: skip
        else:
            approved = calendar.program_start - timedelta(days=rng.randrange(200, 400))
            fresh.add(rng, partner, customer_id, status="expired", approved=approved,
                      submitted=approved - timedelta(days=2), products=products)  # fmt: skip
    extra: dict[str, int] = {}
    fresh.close(extra)
    for table, rows in extra.items():
        counts[table] += rows
