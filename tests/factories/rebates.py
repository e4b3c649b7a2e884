"""Rebate test data: a partner's program history in a few calls (tiers, attestations, certifications, lines)."""

import datetime
import itertools
from decimal import Decimal

from django.utils import timezone

from deals.models import Customer, Order, OrderLine, Registration
from partners.models import Certification, CertificationRecord, DellOnlyAttestation, Person

from .partners import PartnerFactory, tier_set

_numbers = itertools.count(1)


def partner(code=None, *, tier=None, since=datetime.date(2017, 2, 1), attested_on=None, country="FR"):
    """A partner; ``tier`` (a code) effective from ``since``; an open-ended attestation from ``attested_on``."""
    kwargs = {"country": country}
    if code:
        kwargs["code"] = code
    result = PartnerFactory(**kwargs)
    if tier:
        tier_change(result, tier, since)
    if attested_on:
        DellOnlyAttestation.objects.create(partner=result, starts_on=attested_on)
    return result


def tier_change(partner, tier_code, effective_on):
    """``partner`` has ``tier_code`` from ``effective_on`` (through the tier services: history and cache agree)."""
    tier_set(partner, tier_code, effective_on)


def customer(name=None, country="FR"):
    return Customer.objects.create(name=name or f"Customer {next(_numbers)} SA", country=country)


def order(*, partner, customer, booked_on, lines, channel="partner", credits=None, number=None):
    """An order with ``lines``: ``[(product_line, "amount")]`` or ``(product_line, amount, extra-fields)``."""
    made = Order.objects.create(
        number=number or f"SO-T{next(_numbers):07d}",
        booked_on=booked_on,
        channel=channel,
        partner=partner,
        customer=customer,
    )
    for index, spec in enumerate(lines, start=1):
        product_line, amount = spec[0], Decimal(str(spec[1]))
        extra = dict(spec[2]) if len(spec) > 2 else {}
        OrderLine.objects.create(
            order=made,
            line_number=index,
            product_line=product_line,
            sku=f"SKU-{product_line}",
            quantity=1,
            net_amount=amount,
            service_delivery=extra.pop("service_delivery", "resold" if product_line == "services" else ""),
            credited_order=credits,
            partner=partner,
            customer=customer,
            booked_on=booked_on,
            channel=channel,
            **extra,
        )
    return made


def services_delivery_certification(partner, earned_on, expires_on=None, status=CertificationRecord.Status.VERIFIED):
    person = Person.objects.create(partner=partner, email=f"p{next(_numbers)}@example.com", name="Certified")
    return CertificationRecord.objects.create(
        person=person,
        certification=Certification.objects.get(code="SVC-DELIVERY"),
        earned_on=earned_on,
        expires_on=expires_on or earned_on + datetime.timedelta(days=730),
        status=status,
        rejection_reason="not verified" if status == CertificationRecord.Status.REJECTED else "",
    )


def won_registration(*, partner, customer, won_order, approved_on):
    return Registration.objects.create(
        number=f"DR-R{next(_numbers):07d}",
        partner=partner,
        customer=customer,
        opportunity_name="Won deal",
        expected_close_on=approved_on + datetime.timedelta(days=60),
        status=Registration.Status.WON,
        submitted_at=timezone.now(),
        approved_on=approved_on,
        protection_ends_on=approved_on + datetime.timedelta(days=90),
        won_on=won_order.booked_on,
        won_order=won_order,
    )
