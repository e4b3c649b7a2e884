import factory

from deals.models import Customer, Order, OrderLine

from .partners import PartnerFactory


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n} SA")
    country = "FR"


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"SO{n:07d}")
    booked_on = factory.Faker("date_between", start_date="-1y", end_date="today")
    channel = Order.Channel.PARTNER
    partner = factory.SubFactory(PartnerFactory)
    customer = factory.SubFactory(CustomerFactory)


class OrderLineFactory(factory.django.DjangoModelFactory):
    """An order line; its denormalised partner, customer, booked date and channel repeat the order's."""

    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    line_number = factory.Sequence(lambda n: n + 1)
    product_line = "server"
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    quantity = 1
    net_amount = factory.Faker("pydecimal", left_digits=5, right_digits=2, positive=True, min_value=1)
    service_delivery = factory.LazyAttribute(lambda line: "resold" if line.product_line == "services" else "")
    partner = factory.SelfAttribute("order.partner")
    customer = factory.SelfAttribute("order.customer")
    booked_on = factory.SelfAttribute("order.booked_on")
    channel = factory.SelfAttribute("order.channel")
