"""The order factories with fixed values, for page tests that assert on dates, amounts and descriptions."""

import datetime
from decimal import Decimal

import factory

from . import orders


class CustomerFactory(orders.CustomerFactory):
    vat = factory.Sequence(lambda n: f"FR{n:09d}")


class OrderFactory(orders.OrderFactory):
    number = factory.Sequence(lambda n: f"SO{n:06d}")
    booked_on = datetime.date(2017, 3, 1)
    customer = factory.SubFactory(CustomerFactory)


class OrderLineFactory(orders.OrderLineFactory):
    order = factory.SubFactory(OrderFactory)
    description = "PowerEdge R740"
    net_amount = Decimal("1000.00")
