"""Orders for the channel-lock and routing tests: a partner order or a direct order, with its lines, in one call."""

import itertools
from datetime import date
from decimal import Decimal

from deals.models import Customer, Order, OrderLine
from partners.models import Partner, Tier

from .orders import CustomerFactory
from .partners import MembershipFactory, PartnerFactory

_numbers = itertools.count(1)


def tier(code: str) -> Tier:
    return Tier.objects.get(code=code)


def partner(country: str = "FR", tier_code: str = "authorized", **kwargs) -> Partner:
    return PartnerFactory(country=country, tier=tier_code, **kwargs)


def customer(country: str = "FR", **kwargs) -> Customer:
    return CustomerFactory(country=country, **kwargs)


def order(
    *,
    customer: Customer,
    booked_on: date,
    partner: Partner | None = None,
    lines: dict[str, str] | None = None,
    number: str | None = None,
    credits: Order | None = None,
) -> Order:
    """An order as the import writes it: direct when ``partner`` is None; ``lines`` = {product line: amount};
    ``credits`` names the order its negative lines credit."""
    channel = Order.Channel.PARTNER if partner else Order.Channel.DIRECT
    the_order = Order.objects.create(
        number=number or f"RT{next(_numbers):07d}",
        booked_on=booked_on,
        channel=channel,
        partner=partner,
        customer=customer,
    )
    for line_number, (product_line, amount) in enumerate((lines or {"server": "1000.00"}).items(), start=1):
        OrderLine.objects.create(
            order=the_order,
            line_number=line_number,
            product_line=product_line,
            sku=f"SKU-{product_line[:3].upper()}",
            quantity=1,
            net_amount=Decimal(amount),
            service_delivery="resold" if product_line == "services" else "",
            partner=partner,
            customer=customer,
            booked_on=booked_on,
            channel=channel,
            credited_order=credits if Decimal(amount) < 0 else None,
        )
    return the_order


def partner_user(partner: Partner, role: str = "sales"):
    return MembershipFactory(partner=partner, role=role).user
