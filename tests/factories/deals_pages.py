"""Minimal customer / order / order-line factories for the order page tests (until tests/factories/orders.py)."""

import datetime
from decimal import Decimal

import factory

from deals.models import Customer, Order, OrderLine

from .partners import PartnerFactory


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n} SA")
    country = "FR"
    vat = factory.Sequence(lambda n: f"FR{n:09d}")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"SO{n:06d}")
    booked_on = datetime.date(2017, 3, 1)
    channel = Order.Channel.PARTNER
    partner = factory.SubFactory(PartnerFactory)
    customer = factory.SubFactory(CustomerFactory)


class OrderLineFactory(factory.django.DjangoModelFactory):
    """A line repeating its order's partner, customer, booked date and channel, as the import writes them."""

    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    line_number = factory.Sequence(lambda n: n + 1)
    product_line = "server"
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    description = "PowerEdge R740"
    quantity = 1
    net_amount = Decimal("1000.00")
    service_delivery = factory.LazyAttribute(lambda line: "resold" if line.product_line == "services" else "")
    partner = factory.SelfAttribute("order.partner")
    customer = factory.SelfAttribute("order.customer")
    booked_on = factory.SelfAttribute("order.booked_on")
    channel = factory.SelfAttribute("order.channel")
