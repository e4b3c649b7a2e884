"""Registrations for tests: a factory for a row in any state, and ``submit`` through the real service."""

import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from deals.matching import CustomerIdentity
from deals.models import Registration, RegistrationLine
from deals.registrations.services import registration_submit

from .deals_pages import CustomerFactory, OrderFactory
from .partners import MembershipFactory, PartnerFactory

TODAY = datetime.date(2017, 6, 1)


class RegistrationFactory(factory.django.DjangoModelFactory):
    """A registration row in ``status`` (approved-like statuses get approval and protection dates)."""

    class Meta:
        model = Registration
        skip_postgeneration_save = True

    number = factory.Sequence(lambda n: f"DR-T{n:07d}")
    partner = factory.SubFactory(PartnerFactory)
    customer = factory.SubFactory(CustomerFactory)
    opportunity_name = factory.Sequence(lambda n: f"Opportunity {n}")
    expected_close_on = datetime.date(2017, 9, 30)
    status = Registration.Status.SUBMITTED
    submitted_at = factory.LazyFunction(timezone.now)
    approved_on = factory.LazyAttribute(lambda r: TODAY if r.status in ("approved", "won", "lost", "expired") else None)
    protection_ends_on = factory.LazyAttribute(
        lambda r: r.approved_on + datetime.timedelta(days=90) if r.approved_on else None
    )

    won_order = factory.Maybe(
        factory.LazyAttribute(lambda r: r.status == "won"),
        yes_declaration=factory.SubFactory(
            OrderFactory,
            partner=factory.SelfAttribute("..partner"),
            customer=factory.SelfAttribute("..customer"),
            booked_on=factory.SelfAttribute("..approved_on"),
        ),
        no_declaration=None,
    )
    won_on = factory.LazyAttribute(lambda r: r.approved_on if r.status == "won" else None)

    @factory.post_generation
    def lines(self, create, extracted, **kwargs):
        """``lines={"server": "1000.00"}``; default one server line of 1,000."""
        if not create:
            return
        for product_line, amount in (extracted or {"server": "1000.00"}).items():
            RegistrationLine.objects.create(
                registration=self, product_line=product_line, estimated_amount=Decimal(amount)
            )


def identity_of(customer) -> CustomerIdentity:
    return CustomerIdentity(name=customer.name, country=customer.country, vat=customer.vat, domain=customer.domain)


def submit(
    partner=None, *, customer=None, identity=None, lines=None, user=None, today=TODAY, close_in_days=60, **kwargs
):
    """Submit through ``registration_submit`` (the partner's sales user by default); return the result."""
    partner = partner or PartnerFactory()
    if user is None:
        user = MembershipFactory(partner=partner, role="sales").user
    if identity is None:
        identity = identity_of(customer or CustomerFactory())
    lines = {key: Decimal(str(value)) for key, value in (lines or {"server": "10000.00"}).items()}
    return registration_submit(
        partner=partner,
        user=user,
        identity=identity,
        opportunity_name=kwargs.pop("opportunity_name", "Datacenter refresh"),
        expected_close_on=kwargs.pop("expected_close_on", today + datetime.timedelta(days=close_in_days)),
        lines=lines,
        today=today,
        **kwargs,
    )
