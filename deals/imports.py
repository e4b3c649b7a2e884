"""``orders.csv`` import (DESIGN §5, §7): every row validated, all-or-nothing, bulk writes, re-import a no-op."""

import re
from collections import defaultdict
from dataclasses import dataclass

from partners.models import Partner
from portal.catalog import ProductLine
from portal.csvimport import ImportResult, RowErrors, bulk_insert, chunks, read_csv
from portal.fiscal import parse_iso_date
from portal.money import parse_money

from .matching import CustomerIdentity, CustomerIndex
from .models import Customer, Order, OrderLine, Registration
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
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")
CHANNELS = frozenset(Order.Channel.values)
PRODUCT_LINES = frozenset(ProductLine.values)
DELIVERIES = frozenset(OrderLine.ServiceDelivery.values)
LINE_FIELDS = ["product_line", "sku", "description", "quantity", "net_amount", "service_delivery",
               "registration_number", "credited_order__number"]  # fmt: skip
POSITIVE_INT = re.compile(r"^[1-9]\d{0,8}$")


@dataclass
class ParsedLine:
    line: int
    row: dict
    booked_on: object
    line_number: int
    quantity: int
    net_amount: object
    identity: CustomerIdentity


def _parse_rows(csv_file, errors: RowErrors, partners: dict[str, Partner]) -> list[ParsedLine]:
    parsed = []
    first_of_order: dict[str, tuple[int, dict]] = {}
    seen_lines: dict[tuple[str, str], int] = {}
    for line, row in csv_file.rows:
        before = len(errors.errors)
        number = row["order_number"]
        if not number or len(number) > 50:
            errors.add(line, "order_number: required, at most 50 characters")
        booked_on = None
        try:
            booked_on = parse_iso_date(row["booked_on"])
        except ValueError:
            errors.add(line, f"booked_on: “{row['booked_on']}” is not a date (YYYY-MM-DD)")
        channel = row["channel"]
        if channel not in CHANNELS:
            errors.add(line, f"channel: “{channel}” must be partner or direct")
        elif channel == Order.Channel.PARTNER and not row["partner_code"]:
            errors.add(line, "partner_code: required on a partner order")
        elif channel == Order.Channel.DIRECT and row["partner_code"]:
            errors.add(line, "partner_code: must be blank on a direct order")
        if row["partner_code"] and row["partner_code"] not in partners:
            errors.add(line, f"partner_code: unknown partner “{row['partner_code']}”")
        if not row["customer_name"] or len(row["customer_name"]) > 255:
            errors.add(line, "customer_name: required, at most 255 characters")
        if not COUNTRY_PATTERN.match(row["customer_country"]):
            errors.add(line, f"customer_country: “{row['customer_country']}” is not an ISO 3166 alpha-2 code")
        if not POSITIVE_INT.match(row["line_number"]):
            errors.add(line, f"line_number: “{row['line_number']}” is not a positive whole number")
        if row["product_line"] not in PRODUCT_LINES:
            errors.add(line, f"product_line: “{row['product_line']}” must be one of {', '.join(ProductLine.values)}")
        if not row["sku"] or len(row["sku"]) > 80:
            errors.add(line, "sku: required, at most 80 characters")
        if len(row["description"]) > 255:
            errors.add(line, "description: at most 255 characters")
        if not POSITIVE_INT.match(row["quantity"]):
            errors.add(line, f"quantity: “{row['quantity']}” is not a positive whole number")
        net_amount = None
        try:
            net_amount = parse_money(row["net_amount"])
        except ValueError as error:
            errors.add(line, f"net_amount: {error}")
        else:
            if net_amount == 0:
                errors.add(line, "net_amount: must not be zero")
            elif net_amount < 0 and not row["credits_order_number"]:
                errors.add(line, "net_amount: negative only on a credit, which must name credits_order_number")
            elif net_amount > 0 and row["credits_order_number"]:
                errors.add(line, "net_amount: a credit line (credits_order_number) must be negative")
        delivery = row["service_delivery"]
        if row["product_line"] == ProductLine.SERVICES:
            if delivery not in DELIVERIES:
                errors.add(line, "service_delivery: resold or partner_delivered on a services line")
        elif delivery:
            errors.add(line, "service_delivery: must be blank on a line that is not services")
        if row["credits_order_number"] == number and number:
            errors.add(line, "credits_order_number: an order cannot credit itself")
        # The rows of one order repeat the same order fields.
        if number in first_of_order:
            first_line, first_row = first_of_order[number]
            different = [column for column in ORDER_FIELDS if row[column] != first_row[column]]
            if different:
                errors.add(line, f"order {number}: {', '.join(different)} differ from line {first_line}")
        else:
            first_of_order[number] = (line, row)
        key = (number, row["line_number"])
        if key in seen_lines:
            errors.add(
                line, f"duplicate line: order {number} line {row['line_number']} is also on line {seen_lines[key]}"
            )
        else:
            seen_lines[key] = line
        if len(errors.errors) == before:
            parsed.append(
                ParsedLine(
                    line=line,
                    row=row,
                    booked_on=booked_on,
                    line_number=int(row["line_number"]),
                    quantity=int(row["quantity"]),
                    net_amount=net_amount,
                    identity=CustomerIdentity(
                        name=row["customer_name"],
                        country=row["customer_country"],
                        vat=row["customer_vat"],
                        domain=row["customer_domain"],
                    ),
                )
            )
    return parsed


def _customer_index(identities: set[CustomerIdentity]) -> CustomerIndex:
    """Index the existing customers that any identity of the file could match (a few chunked queries)."""
    index = CustomerIndex()
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
    for pk in sorted(found):
        index.add(found[pk])
    return index


def import_orders(data: bytes, *, name: str = "orders.csv", run=None, user=None) -> ImportResult:
    """Book the orders of ``orders.csv``: customers matched or created, lines bulk-inserted."""
    csv_file = read_csv(data, name=name, header=ORDER_HEADER)
    errors = RowErrors()
    partner_codes = {row["partner_code"] for _line, row in csv_file.rows if row["partner_code"]}
    partners = {p.code: p for p in Partner.objects.filter(code__in=partner_codes)}
    parsed = _parse_rows(csv_file, errors, partners)

    # Customers: match every identity against the database, then against customers new in this file.
    index = _customer_index({p.identity for p in parsed})
    new_customers: list[Customer] = []
    customer_of: dict[CustomerIdentity, Customer] = {}
    for item in parsed:
        if item.identity in customer_of:
            continue
        customer = index.match(item.identity)
        if customer is None:
            vat_key, domain_key, name_key = item.identity.keys
            customer = Customer(
                name=item.identity.name,
                country=item.identity.country,
                vat=item.identity.vat,
                domain=item.identity.domain,
                vat_key=vat_key,
                domain_key=domain_key,
                name_key=name_key,
            )
            new_customers.append(customer)
            index.add(customer)
        customer_of[item.identity] = customer

    # Orders already booked, and orders credited by this file.
    numbers = {p.row["order_number"] for p in parsed}
    credited_numbers = {p.row["credits_order_number"] for p in parsed if p.row["credits_order_number"]}
    existing_orders: dict[str, Order] = {}
    for chunk in chunks(sorted(numbers | credited_numbers)):
        for order in Order.objects.filter(number__in=chunk).select_related("partner"):
            existing_orders[order.number] = order
    existing_lines: dict[tuple[int, int], tuple] = {}
    product_lines_of: dict[str, set[str]] = defaultdict(set)
    order_ids = [order.pk for order in existing_orders.values()]
    for chunk in chunks(order_ids):
        for order_id, line_number, *values in OrderLine.objects.filter(order_id__in=chunk).values_list(
            "order_id", "line_number", *LINE_FIELDS
        ):
            existing_lines[(order_id, line_number)] = tuple(value or "" for value in values)
    number_of_id = {order.pk: number for number, order in existing_orders.items()}
    for (order_id, _line_number), values in existing_lines.items():
        product_lines_of[number_of_id[order_id]].add(values[0])
    # Orders of this file: their partner, customer and product lines (a credit may name one of them).
    file_orders: dict[str, ParsedLine] = {}
    for item in parsed:
        file_orders.setdefault(item.row["order_number"], item)
        if item.row["order_number"] not in existing_orders:
            product_lines_of[item.row["order_number"]].add(item.row["product_line"])

    registration_numbers = {p.row["registration_number"] for p in parsed if p.row["registration_number"]}
    registrations = {
        r.number: r for r in Registration.objects.filter(number__in=registration_numbers).select_related("partner")
    }

    new_orders: dict[str, Order] = {}
    new_lines: list[tuple[ParsedLine, OrderLine]] = []
    unchanged = 0
    for item in parsed:
        row = item.row
        number = row["order_number"]
        partner = partners.get(row["partner_code"])
        customer = customer_of[item.identity]
        # Credits name an order of the same partner and customer that has the credited product line.
        credited = None
        if row["credits_order_number"]:
            credited_number = row["credits_order_number"]
            if credited_number in existing_orders:
                credited = existing_orders[credited_number]
                credited_partner, credited_customer = credited.partner, credited.customer
            elif credited_number in file_orders and credited_number != number:
                other = file_orders[credited_number]
                credited_partner = partners.get(other.row["partner_code"])
                credited_customer = customer_of[other.identity]
                credited = credited_number  # resolved after the orders are created
            else:
                errors.add(item.line, f"credits_order_number: unknown order “{credited_number}”")
                continue
            if (
                partner is None
                and row["channel"] == Order.Channel.DIRECT
                and isinstance(credited, Order)
                and credited.channel == Order.Channel.DIRECT
                and credited_partner is not None
            ):
                # A direct credit of a routed order a partner accepted: it counts for that partner, as the order.
                partner = credited_partner
            if credited_partner != partner or not _same_customer(credited_customer, customer):
                errors.add(
                    item.line, f"credits_order_number: order {credited_number} is not of the same partner and customer"
                )
                continue
            if row["product_line"] not in product_lines_of[credited_number]:
                errors.add(
                    item.line,
                    f"credits_order_number: order {credited_number} has no {row['product_line']} line to credit",
                )
                continue
        registration = None
        if row["registration_number"]:
            registration = registrations.get(row["registration_number"])
            if registration is None:
                errors.add(item.line, f"registration_number: unknown registration “{row['registration_number']}”")
                continue
            if registration.partner_id != (partner.pk if partner else None) or registration.customer_id != customer.pk:
                errors.add(
                    item.line,
                    f"registration_number: {registration.number} is not a registration of this partner and customer",
                )
                continue
        order = existing_orders.get(number)
        if order is not None:
            different = []
            if order.booked_on != item.booked_on:
                different.append("booked_on")
            if order.channel != row["channel"]:
                different.append("channel")
            if order.channel == Order.Channel.PARTNER and order.partner != partner:
                different.append("partner_code")
            if order.customer_id != customer.pk:
                different.append("customer")
            if different:
                errors.add(item.line, f"order {number} is already booked with a different {', '.join(different)}")
                continue
            stored = existing_lines.get((order.pk, item.line_number))
            if stored is None:
                errors.add(
                    item.line,
                    f"order {number} is already booked without line {item.line_number}; "
                    "booked orders are never edited (send a credit instead)",
                )
                continue
            if stored != _line_values(item):
                errors.add(item.line, f"order {number} line {item.line_number} is already booked with other values")
                continue
            unchanged += 1
            continue
        if number not in new_orders:
            new_orders[number] = Order(
                number=number,
                booked_on=item.booked_on,
                channel=row["channel"],
                partner=partner,
                customer=customer,
                import_run=run,
            )
        new_lines.append(
            (
                item,
                OrderLine(
                    line_number=item.line_number,
                    product_line=row["product_line"],
                    sku=row["sku"],
                    description=row["description"],
                    quantity=item.quantity,
                    net_amount=item.net_amount,
                    net_amount_source=row["net_amount"],
                    service_delivery=row["service_delivery"],
                    registration_number=row["registration_number"],
                    registration=registration,
                    partner=partner,
                    booked_on=item.booked_on,
                    channel=row["channel"],
                ),
            )
        )
        if credited is not None:
            new_lines[-1][1]._credited_number = row["credits_order_number"]
    errors.raise_if_any()

    Customer.objects.bulk_create(new_customers, batch_size=2000)
    for order in new_orders.values():
        order.customer_id = order.customer.pk
    Order.objects.bulk_create(new_orders.values(), batch_size=2000)
    all_orders = {**existing_orders, **new_orders}
    lines = []
    for item, order_line in new_lines:
        order = new_orders[item.row["order_number"]]
        order_line.order_id = order.pk
        order_line.customer_id = order.customer_id
        credited_number = getattr(order_line, "_credited_number", None)
        if credited_number:
            order_line.credited_order_id = all_orders[credited_number].pk
        lines.append(order_line)
    bulk_insert(OrderLine, lines)
    registrations_mark_won(order_ids=[order.pk for order in new_orders.values()])
    return ImportResult(
        rows=len(csv_file.rows),
        created=len(lines),
        unchanged=unchanged,
        details={"orders": len(new_orders), "customers": len(new_customers)},
    )


def _line_values(item: ParsedLine) -> tuple:
    """The line's fields in ``LINE_FIELDS`` order, as the database returns them."""
    row = item.row
    return (
        row["product_line"],
        row["sku"],
        row["description"],
        item.quantity,
        item.net_amount,
        row["service_delivery"],
        row["registration_number"],
        row["credits_order_number"],
    )


def _same_customer(a: Customer, b: Customer) -> bool:
    return a is b or (a.pk is not None and a.pk == b.pk)
