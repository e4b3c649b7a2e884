"""Services-delivery compliance (DESIGN §5): the one rule, read by the order pages, the admin and the rebate engine.

A services line is resold (delivered by the vendor) or delivered by the partner; partner delivery needs an active
``services_delivery`` certification of one of the partner's people on the booked date. A partner-delivered line
without one is a *compliance exception*: shown to staff and partner, it earns no services bonus (DESIGN §6).

The rule is written once, in three forms built from the same constants: a pure predicate (the reference, used
by the Python rebate path), an ORM expression (pages and admin) and SQL fragments (the PostgreSQL rebate path).
"""

from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from partners.models import (
    CERTIFICATION_SQL_PARAMS,
    Certification,
    CertificationRecord,
    certification_active_sql,
)
from portal.catalog import ProductLine

DELIVERY_TRACK = Certification.Track.SERVICES_DELIVERY


class ServiceDelivery(models.TextChoices):
    RESOLD = "resold", _("Resold (delivered by the vendor)")
    PARTNER_DELIVERED = "partner_delivered", _("Delivered by the partner")


# --- the rule, pure --------------------------------------------------------------------------------------------


def is_compliance_exception(*, product_line: str, service_delivery: str, delivery_certified: bool) -> bool:
    """A partner-delivered services line whose partner held no active services-delivery certification."""
    return (
        product_line == ProductLine.SERVICES
        and service_delivery == ServiceDelivery.PARTNER_DELIVERED
        and not delivery_certified
    )


def earns_services_bonus(*, product_line: str, service_delivery: str, delivery_certified: bool) -> bool:
    """A services line resold, or delivered by a partner holding an active services-delivery certification."""
    return (
        product_line == ProductLine.SERVICES
        and service_delivery in ServiceDelivery.values
        and not is_compliance_exception(
            product_line=product_line, service_delivery=service_delivery, delivery_certified=delivery_certified
        )
    )


# --- the rule, ORM ---------------------------------------------------------------------------------------------


def delivery_certified(*, partner=None, day=None) -> Exists:
    """``EXISTS`` an active services-delivery certification of ``partner`` on ``day`` (default: the outer order
    line's partner and booked date)."""
    partner = OuterRef("partner") if partner is None else partner
    day = OuterRef("booked_on") if day is None else day
    return Exists(
        CertificationRecord.objects.active_on(day).filter(person__partner=partner, certification__track=DELIVERY_TRACK)
    )


def compliance_exception_condition() -> Q:
    """The exception as a filter on order lines (``OrderLine.objects.with_compliance()`` annotates it)."""
    delivered = Q(product_line=ProductLine.SERVICES, service_delivery=ServiceDelivery.PARTNER_DELIVERED)
    return delivered & ~delivery_certified()


# --- the rule, SQL ---------------------------------------------------------------------------------------------
# Fragments for raw SQL; they name their constants as query parameters (merge ``SQL_PARAMS`` into the query's).

SQL_PARAMS = {
    "cmp_services": ProductLine.SERVICES.value,
    "cmp_resold": ServiceDelivery.RESOLD.value,
    "cmp_partner_delivered": ServiceDelivery.PARTNER_DELIVERED.value,
    "cmp_delivery_track": DELIVERY_TRACK.value,
    **CERTIFICATION_SQL_PARAMS,  # the record's verification status (``certification_active_sql``)
}


def needs_delivery_certification_sql(line: str) -> str:
    """True for a line (alias ``line``) whose services bonus depends on a delivery certification."""
    return f"({line}.product_line = %(cmp_services)s AND {line}.service_delivery = %(cmp_partner_delivered)s)"


def delivery_certified_join_sql(line: str, record: str, certification: str, person: str) -> str:
    """The join condition of a line with its partner's active services-delivery records, on the booked date: the
    one rule of a record counting on a date (``partners.models.certification_active_sql``: verified, in its dates).

    ``record``, ``certification`` and ``person``: aliases of the certification record, certification and person.
    """
    return (
        f"{person}.partner_id = {line}.partner_id AND {certification}.track = %(cmp_delivery_track)s"
        f" AND {certification_active_sql(record, f'{line}.booked_on')}"
    )


def earns_services_bonus_sql(line: str, certified: str) -> str:
    """The pure rule over a line (alias ``line``) and a boolean SQL expression ``certified``."""
    return (
        f"({line}.product_line = %(cmp_services)s AND ({line}.service_delivery = %(cmp_resold)s"
        f" OR ({line}.service_delivery = %(cmp_partner_delivered)s AND {certified})))"
    )
