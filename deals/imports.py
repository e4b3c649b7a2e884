"""``orders.csv`` import (DESIGN §5, §7): every row validated, all-or-nothing, bulk writes, re-import a no-op.

Five stages, each a function of what the previous one returned, so each can be tested and replaced alone:

1. ``parse_rows``: the file's cells → typed ``OrderRow``s (shape, values, rows of one order agree, amounts fit);
2. ``resolve_customers``: each customer identity → an existing customer or a new, unsaved one;
3. ``resolve_lines``: the partner, credited order and registration of each line (``BookedOrders`` holds what the
   database already has for the orders the file names);
4. ``check_against_booked``: lines already booked identically are no-ops, contradicting ones are errors, the rest
   is the ``ImportPlan``;
5. ``write_plan``: the plan into the database. Only this stage writes: a set-based version (COPY into a staging
   table, then ``INSERT … SELECT``) replaces it without touching the others.

Every stage adds its problems to the file's ``RowErrors``; nothing is written unless there are none.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from partners.models import Partner
from portal.catalog import ProductLine
from portal.countries import is_country_code
from portal.csvimport import ImportResult, RowErrors, bulk_insert, chunks, read_csv
from portal.fiscal import parse_iso_date
from portal.money import parse_money

from .matching import CustomerIdentity, CustomerIndex, domain_is_valid, vat_is_valid
from .models import ORDER_NUMBER_MAX_LENGTH, ORDER_NUMBER_PATTERN, Customer, Order, OrderLine, Registration
from .registrations.services import registrations_mark_won

ORDER_HEADER = [
    "order_number",
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
]
ORDER_FIELDS = ["booked_on", "channel", "partner_code", "customer_name", "customer_country", "customer_vat",
                "customer_domain"]  # fmt: skip
CHANNELS = frozenset(Order.Channel.values)
PRODUCT_LINES = frozenset(ProductLine.values)
DELIVERIES = frozenset(OrderLine.ServiceDelivery.values)
LINE_FIELDS = ["product_line", "sku", "description", "quantity", "net_amount", "service_delivery",
               "registration_number", "credited_order__number"]  # fmt: skip
POSITIVE_INT = re.compile(r"^[1-9][0-9]{0,8}$")  # ASCII digits: int() would also read "1٢" as 12
ORDER_NUMBER = re.compile(ORDER_NUMBER_PATTERN)

# The largest amounts an import accepts. The columns hold 16 digits with 2 decimals (``OrderLine.net_amount``,
# ``RoutingCase.order_total``, statement amounts: below 10^14); the largest real IT orders are in the hundreds of
# millions. One billion per line and ten billion per order (the sum of its lines' absolute amounts) leave every
# order total, and a partner's 12-month revenue over thousands of such orders, room in those columns, and turn a
# typo (an amount with its cents pasted twice) into an import error instead of a nightly job that fails for all.
MAX_LINE_AMOUNT = Decimal("1000000000.00")
MAX_ORDER_TOTAL = Decimal("10000000000.00")


@dataclass(frozen=True)
class OrderRow:
    """One valid row of ``orders.csv``, typed."""

    line: int
    number: str
    booked_on: date
    channel: str
    partner_code: str
    identity: CustomerIdentity
    line_number: int
    product_line: str
    sku: str
    description: str
    quantity: int
    net_amount: Decimal
    net_amount_source: str
    service_delivery: str
    registration_number: str
    credits_order_number: str

    def line_values(self) -> tuple:
        """The line's fields in ``LINE_FIELDS`` order, as the database returns them."""
        return (
            self.product_line,
            self.sku,
            self.description,
            self.quantity,
            self.net_amount,
            self.service_delivery,
            self.registration_number,
            self.credits_order_number,
        )


# --- 1. parse ---------------------------------------------------------------------------------------------------


def row_problems(row: dict[str, str], *, partner_codes: set[str]) -> list[str]:
    """What is wrong with one row on its own (an empty list when nothing is), column by column."""
    return [
        *_number_problems(row),
        *_date_problems(row),
        *_channel_problems(row, partner_codes),
        *_customer_problems(row),
        *_line_problems(row),
        *_amount_problems(row),
        *_delivery_problems(row),
        *_credit_problems(row),
    ]


def _is_order_number(text: str) -> bool:
    return len(text) <= ORDER_NUMBER_MAX_LENGTH and bool(ORDER_NUMBER.fullmatch(text))


def _number_problems(row: dict[str, str]) -> list[str]:
    number = row["order_number"]
    if not number or len(number) > ORDER_NUMBER_MAX_LENGTH:
        return [f"order_number: required, at most {ORDER_NUMBER_MAX_LENGTH} characters"]
    if not _is_order_number(number):
        return [
            f"order_number: “{number}” may use only letters, digits, “.”, “_”, “-” and single “/” between them, "
            "starting with a letter or digit"
        ]
    return []


def _date_problems(row: dict[str, str]) -> list[str]:
    try:
        parse_iso_date(row["booked_on"])
    except ValueError:
        return [f"booked_on: “{row['booked_on']}” is not a date (YYYY-MM-DD)"]
    return []


def _channel_problems(row: dict[str, str], partner_codes: set[str]) -> list[str]:
    problems = []
    channel = row["channel"]
    if channel not in CHANNELS:
        problems.append(f"channel: “{channel}” must be partner or direct")
    elif channel == Order.Channel.PARTNER and not row["partner_code"]:
        problems.append("partner_code: required on a partner order")
    elif channel == Order.Channel.DIRECT and row["partner_code"]:
        problems.append("partner_code: must be blank on a direct order")
    if row["partner_code"] and row["partner_code"] not in partner_codes:
        problems.append(f"partner_code: unknown partner “{row['partner_code']}”")
    return problems


def _line_problems(row: dict[str, str]) -> list[str]:
    problems = []
    if not POSITIVE_INT.match(row["line_number"]):
        problems.append(f"line_number: “{row['line_number']}” is not a positive whole number")
    if row["product_line"] not in PRODUCT_LINES:
        problems.append(f"product_line: “{row['product_line']}” must be one of {', '.join(ProductLine.values)}")
    if not row["sku"] or len(row["sku"]) > 80:
        problems.append("sku: required, at most 80 characters")
    if len(row["description"]) > 255:
        problems.append("description: at most 255 characters")
    if not POSITIVE_INT.match(row["quantity"]):
        problems.append(f"quantity: “{row['quantity']}” is not a positive whole number")
    return problems


def _delivery_problems(row: dict[str, str]) -> list[str]:
    delivery = row["service_delivery"]
    if row["product_line"] == ProductLine.SERVICES:
        if delivery not in DELIVERIES:
            return ["service_delivery: resold or partner_delivered on a services line"]
    elif delivery:
        return ["service_delivery: must be blank on a line that is not services"]
    return []


def _credit_problems(row: dict[str, str]) -> list[str]:
    credited = row["credits_order_number"]
    if credited and credited == row["order_number"]:
        return ["credits_order_number: an order cannot credit itself"]
    if credited and not _is_order_number(credited):
        return [f"credits_order_number: “{credited}” is not an order number"]
    return []


def _customer_problems(row: dict[str, str]) -> list[str]:
    problems = []
    if not row["customer_name"] or len(row["customer_name"]) > 255:
        problems.append("customer_name: required, at most 255 characters")
    if not is_country_code(row["customer_country"]):
        problems.append(f"customer_country: “{row['customer_country']}” is not an ISO 3166 alpha-2 code")
    if row["customer_vat"] and (len(row["customer_vat"]) > 50 or not vat_is_valid(row["customer_vat"])):
        problems.append(f"customer_vat: “{row['customer_vat']}” is not a VAT or company id")
    if row["customer_domain"] and (len(row["customer_domain"]) > 255 or not domain_is_valid(row["customer_domain"])):
        problems.append(f"customer_domain: “{row['customer_domain']}” is not a web domain")
    return problems


def _amount_problems(row: dict[str, str]) -> list[str]:
    try:
        amount = parse_money(row["net_amount"])
    except ValueError as error:
        return [f"net_amount: {error}"]
    if amount == 0:
        return ["net_amount: must not be zero"]
    if abs(amount) > MAX_LINE_AMOUNT:
        return [f"net_amount: more than {MAX_LINE_AMOUNT:,} on one line"]
    if amount < 0 and not row["credits_order_number"]:
        return ["net_amount: negative only on a credit, which must name credits_order_number"]
    if amount > 0 and row["credits_order_number"]:
        return ["net_amount: a credit line (credits_order_number) must be negative"]
    return []


def order_problems(rows: list[tuple[int, dict[str, str]]]) -> dict[int, list[str]]:
    """What is wrong with rows taken together, by line: the rows of one order repeat the same order fields, an
    order's line numbers are unique, and its lines add up to at most ``MAX_ORDER_TOTAL``."""
    problems: dict[int, list[str]] = defaultdict(list)
    first_of_order: dict[str, tuple[int, dict]] = {}
    seen_lines: dict[tuple[str, str], int] = {}
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line, row in rows:
        number = row["order_number"]
        if number in first_of_order:
            first_line, first_row = first_of_order[number]
            different = [column for column in ORDER_FIELDS if row[column] != first_row[column]]
            if different:
                problems[line].append(f"order {number}: {', '.join(different)} differ from line {first_line}")
        else:
            first_of_order[number] = (line, row)
        key = (number, row["line_number"])
        if key in seen_lines:
            problems[line].append(
                f"duplicate line: order {number} line {row['line_number']} is also on line {seen_lines[key]}"
            )
        else:
            seen_lines[key] = line
        try:
            amount = abs(parse_money(row["net_amount"]))
        except ValueError:
            continue
        if amount > MAX_LINE_AMOUNT:
            continue  # reported with its line; the order's total counts the amounts that could be booked
        if totals[number] <= MAX_ORDER_TOTAL < totals[number] + amount:
            problems[line].append(f"order {number}: its lines add up to more than {MAX_ORDER_TOTAL:,}")
        totals[number] += amount
    return problems


def parse_rows(rows: list[tuple[int, dict[str, str]]], *, partner_codes: set[str], errors: RowErrors) -> list[OrderRow]:
    """The valid rows, typed; every problem of the others goes to ``errors`` with its line."""
    together = order_problems(rows)
    parsed = []
    for line, row in rows:
        problems = row_problems(row, partner_codes=partner_codes) + together.get(line, [])
        for problem in problems:
            errors.add(line, problem)
        if not problems:
            parsed.append(_order_row(line, row))
    return parsed


def _order_row(line: int, row: dict[str, str]) -> OrderRow:
    return OrderRow(
        line=line,
        number=row["order_number"],
        booked_on=parse_iso_date(row["booked_on"]),
        channel=row["channel"],
        partner_code=row["partner_code"],
        identity=CustomerIdentity(
            name=row["customer_name"],
            country=row["customer_country"],
            vat=row["customer_vat"],
            domain=row["customer_domain"],
        ),
        line_number=int(row["line_number"]),
        product_line=row["product_line"],
        sku=row["sku"],
        description=row["description"],
        quantity=int(row["quantity"]),
        net_amount=parse_money(row["net_amount"]),
        net_amount_source=row["net_amount"],
        service_delivery=row["service_delivery"],
        registration_number=row["registration_number"],
        credits_order_number=row["credits_order_number"],
    )


# --- 2. resolve customers ---------------------------------------------------------------------------------------


@dataclass
class CustomerResolution:
    """The customer of every identity of the file; ``new`` are the unsaved ones among them, in file order."""

    of: dict[CustomerIdentity, Customer] = field(default_factory=dict)
    new: list[Customer] = field(default_factory=list)


def resolve_customers(rows: list[OrderRow]) -> CustomerResolution:
    """Match every identity against the database, then against the customers new in this file (DESIGN §4)."""
    index = _customer_index({row.identity for row in rows})
    resolution = CustomerResolution()
    for row in rows:
        if row.identity in resolution.of:
            continue
        customer = index.match(row.identity)
        if customer is None:
            identity = row.identity
            vat_key, domain_key, name_key = identity.keys
            customer = Customer(
                name=identity.name,
                country=identity.country,
                vat=identity.vat,
                domain=identity.domain,
                vat_key=vat_key,
                domain_key=domain_key,
                name_key=name_key,
            )
            resolution.new.append(customer)
            index.add(customer)
        resolution.of[row.identity] = customer
    return resolution


def _customer_index(identities: set[CustomerIdentity]) -> CustomerIndex:
    """Index the existing customers that any identity of the file could match (a few chunked queries)."""
    vat_keys, domain_keys, name_keys = set(), set(), set()
    for identity in identities:
        vat_key, domain_key, name_key = identity.keys
        vat_keys.add(vat_key)
        domain_keys.add(domain_key)
        name_keys.add(name_key)
    vat_keys.discard("")
    domain_keys.discard("")
    found = {}
    for keys, lookup in ((vat_keys, "vat_key__in"), (domain_keys, "domain_key__in"), (name_keys, "name_key__in")):
        for chunk in chunks(sorted(keys)):
            for customer in Customer.objects.filter(**{lookup: chunk}):
                found[customer.pk] = customer
    index = CustomerIndex()
    for pk in sorted(found):
        index.add(found[pk])
    return index


# --- 3. resolve orders, credits and registrations ---------------------------------------------------------------


@dataclass
class BookedOrders:
    """What the database already holds for the orders a file names (its own, and those its credits name)."""

    orders: dict[str, Order] = field(default_factory=dict)
    line_values: dict[tuple[int, int], tuple] = field(default_factory=dict)  # (order id, line number) → values
    product_lines: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def booked_orders(rows: list[OrderRow]) -> BookedOrders:
    numbers = {row.number for row in rows} | {row.credits_order_number for row in rows if row.credits_order_number}
    booked = BookedOrders()
    for chunk in chunks(sorted(numbers)):
        for order in Order.objects.filter(number__in=chunk).select_related("partner", "customer"):
            booked.orders[order.number] = order
    number_of_id = {order.pk: number for number, order in booked.orders.items()}
    for chunk in chunks(sorted(number_of_id)):
        for order_id, line_number, *values in OrderLine.objects.filter(order_id__in=chunk).values_list(
            "order_id", "line_number", *LINE_FIELDS
        ):
            booked.line_values[(order_id, line_number)] = tuple(value or "" for value in values)
            booked.product_lines[number_of_id[order_id]].add(values[0])
    return booked


def registrations_named(rows: list[OrderRow]) -> dict[str, Registration]:
    numbers = {row.registration_number for row in rows if row.registration_number}
    # A draft's number is no registration yet (never submitted): a file naming it names an unknown registration.
    registrations = Registration.objects.filter(number__in=numbers).exclude(status=Registration.Status.DRAFT)
    return {r.number: r for r in registrations.select_related("partner")}


@dataclass(frozen=True)
class ResolvedLine:
    """A row with what it refers to: the partner it counts for, its customer, registration and credited order."""

    row: OrderRow
    partner: Partner | None
    customer: Customer
    registration: Registration | None = None
    credited_number: str = ""


@dataclass(frozen=True)
class _FileOrder:
    partner: Partner | None
    customer: Customer
    product_lines: frozenset[str]


def resolve_lines(
    rows: list[OrderRow],
    *,
    partners: dict[str, Partner],
    customers: dict[CustomerIdentity, Customer],
    booked: BookedOrders,
    registrations: dict[str, Registration],
    errors: RowErrors,
) -> list[ResolvedLine]:
    """Resolve each row's references; a row naming an unknown or foreign order or registration is an error."""
    file_orders = _file_orders(rows, partners=partners, customers=customers, booked=booked)
    resolved = []
    for row in rows:
        partner = partners.get(row.partner_code)
        customer = customers[row.identity]
        if row.credits_order_number:
            partner, problem = _credit_partner(row, partner, customer, booked=booked, file_orders=file_orders)
            if problem:
                errors.add(row.line, problem)
                continue
        registration = None
        if row.registration_number:
            registration = registrations.get(row.registration_number)
            problem = _registration_problem(row, registration, partner, customer)
            if problem:
                errors.add(row.line, problem)
                continue
        resolved.append(ResolvedLine(row, partner, customer, registration, row.credits_order_number))
    return resolved


def _file_orders(rows, *, partners, customers, booked) -> dict[str, _FileOrder]:
    """The orders new in this file, as a credit of the same file may name them."""
    first: dict[str, OrderRow] = {}
    product_lines: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row.number not in booked.orders:
            first.setdefault(row.number, row)
            product_lines[row.number].add(row.product_line)
    return {
        number: _FileOrder(partners.get(row.partner_code), customers[row.identity], frozenset(product_lines[number]))
        for number, row in first.items()
    }


def _credit_partner(row: OrderRow, partner, customer, *, booked: BookedOrders, file_orders) -> tuple:
    """``(partner the credit counts for, problem)``: a credit names an order of the same partner and customer
    that has the credited product line (DESIGN §6, §7)."""
    credited_number = row.credits_order_number
    if credited_number in booked.orders:
        credited = booked.orders[credited_number]
        credited_partner, credited_customer = credited.partner, credited.customer
        product_lines = booked.product_lines[credited_number]
        if (
            partner is None
            and row.channel == Order.Channel.DIRECT
            and credited.channel == Order.Channel.DIRECT
            and credited_partner is not None
        ):
            # A direct credit of a routed order a partner accepted: it counts for that partner, as the order.
            partner = credited_partner
    elif credited_number in file_orders and credited_number != row.number:
        other = file_orders[credited_number]
        credited_partner, credited_customer, product_lines = other.partner, other.customer, other.product_lines
    else:
        return partner, f"credits_order_number: unknown order “{credited_number}”"
    if credited_partner != partner or not _same_customer(credited_customer, customer):
        return partner, f"credits_order_number: order {credited_number} is not of the same partner and customer"
    if row.product_line not in product_lines:
        return partner, f"credits_order_number: order {credited_number} has no {row.product_line} line to credit"
    return partner, ""


def _registration_problem(row: OrderRow, registration, partner, customer) -> str:
    if registration is None:
        return f"registration_number: unknown registration “{row.registration_number}”"
    if registration.partner_id != (partner.pk if partner else None) or registration.customer_id != customer.pk:
        return f"registration_number: {registration.number} is not a registration of this partner and customer"
    return ""


def _same_customer(a: Customer, b: Customer) -> bool:
    return a is b or (a.pk is not None and a.pk == b.pk)


# --- 4. check against what is booked ----------------------------------------------------------------------------


@dataclass
class ImportPlan:
    """What the import will write: new customers, the lines of new orders (in file order, an order's first line
    giving its fields) and the ids of booked orders those lines credit."""

    customers: list[Customer]
    lines: list[ResolvedLine]
    credited_ids: dict[str, int]
    unchanged: int

    @property
    def order_count(self) -> int:
        return len({line.row.number for line in self.lines})


def check_against_booked(
    resolved: list[ResolvedLine], *, booked: BookedOrders, new_customers: list[Customer], errors: RowErrors
) -> ImportPlan:
    """Booked orders are never edited: a row identical to a booked line changes nothing, any other row of a booked
    order is an error. The rest, lines of new orders, is the plan."""
    new_lines, unchanged = [], 0
    for line in resolved:
        order = booked.orders.get(line.row.number)
        if order is None:
            new_lines.append(line)
            continue
        problem = _contradiction(line, order, booked)
        if problem:
            errors.add(line.row.line, problem)
        else:
            unchanged += 1
    credited_ids = {
        line.credited_number: booked.orders[line.credited_number].pk
        for line in new_lines
        if line.credited_number in booked.orders
    }
    return ImportPlan(customers=new_customers, lines=new_lines, credited_ids=credited_ids, unchanged=unchanged)


def _contradiction(line: ResolvedLine, order: Order, booked: BookedOrders) -> str:
    row = line.row
    different = []
    if order.booked_on != row.booked_on:
        different.append("booked_on")
    if order.channel != row.channel:
        different.append("channel")
    if order.channel == Order.Channel.PARTNER and order.partner != line.partner:
        different.append("partner_code")
    if order.customer_id != line.customer.pk:
        different.append("customer")
    if different:
        return f"order {row.number} is already booked with a different {', '.join(different)}"
    stored = booked.line_values.get((order.pk, row.line_number))
    if stored is None:
        return (
            f"order {row.number} is already booked without line {row.line_number}; "
            "booked orders are never edited (send a credit instead)"
        )
    if stored != row.line_values():
        return f"order {row.number} line {row.line_number} is already booked with other values"
    return ""


# --- 5. write ---------------------------------------------------------------------------------------------------


def write_plan(plan: ImportPlan, *, run=None) -> int:
    """Write ``plan`` (bulk inserts; COPY for the lines on PostgreSQL) and mark the registrations its orders win;
    return the number of lines written."""
    Customer.objects.bulk_create(plan.customers, batch_size=2000)
    orders: dict[str, Order] = {}
    for line in plan.lines:
        if line.row.number not in orders:
            orders[line.row.number] = Order(
                number=line.row.number,
                booked_on=line.row.booked_on,
                channel=line.row.channel,
                partner=line.partner,
                customer=line.customer,
                import_run=run,
            )
    Order.objects.bulk_create(orders.values(), batch_size=2000)
    order_ids = {**plan.credited_ids, **{number: order.pk for number, order in orders.items()}}
    bulk_insert(OrderLine, [_order_line(line, orders[line.row.number], order_ids) for line in plan.lines])
    registrations_mark_won(order_ids=[order.pk for order in orders.values()])
    return len(plan.lines)


def _order_line(line: ResolvedLine, order: Order, order_ids: dict[str, int]) -> OrderLine:
    row = line.row
    return OrderLine(
        order_id=order.pk,
        line_number=row.line_number,
        product_line=row.product_line,
        sku=row.sku,
        description=row.description,
        quantity=row.quantity,
        net_amount=row.net_amount,
        net_amount_source=row.net_amount_source,
        service_delivery=row.service_delivery,
        registration_number=row.registration_number,
        registration=line.registration,
        credited_order_id=order_ids[line.credited_number] if line.credited_number else None,
        partner=line.partner,
        customer_id=order.customer_id,
        booked_on=row.booked_on,
        channel=row.channel,
    )


def import_orders(data: bytes, *, name: str = "orders.csv", run=None, user=None) -> ImportResult:
    """Book the orders of ``orders.csv``: customers matched or created, lines bulk-inserted, all or nothing.

    The reference path: the five stages over the whole file held in memory. Uploads and commands go through
    ``deals.imports_postgres.import_orders_streamed``, which streams the file through the set-based path on
    PostgreSQL and comes here elsewhere."""
    csv_file = read_csv(data, name=name, header=ORDER_HEADER)
    errors = csv_file.errors
    codes = {row["partner_code"] for _line, row in csv_file.rows if row["partner_code"]}
    partners = {p.code: p for p in Partner.objects.filter(code__in=codes)}
    rows = parse_rows(csv_file.rows, partner_codes=set(partners), errors=errors)
    customers = resolve_customers(rows)
    booked = booked_orders(rows)
    resolved = resolve_lines(
        rows,
        partners=partners,
        customers=customers.of,
        booked=booked,
        registrations=registrations_named(rows),
        errors=errors,
    )
    plan = check_against_booked(resolved, booked=booked, new_customers=customers.new, errors=errors)
    errors.raise_if_any()
    created = write_plan(plan, run=run)
    return ImportResult(
        rows=len(csv_file.rows),
        created=created,
        unchanged=plan.unchanged,
        details={"orders": plan.order_count, "customers": len(plan.customers)},
    )


import_orders_in_memory = import_orders
