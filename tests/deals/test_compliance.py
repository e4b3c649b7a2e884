"""Services-delivery compliance (DESIGN §5): one rule — pure, ORM and SQL forms agree on every case."""

from datetime import date

import pytest
from django.db import connection

from deals import compliance
from deals.models import OrderLine
from tests.factories import rebates as f


@pytest.mark.parametrize(
    ("delivery", "certified", "earns", "exception"),
    [
        ("resold", False, True, False),
        ("resold", True, True, False),
        ("partner_delivered", True, True, False),
        ("partner_delivered", False, False, True),
    ],
)
def test_services_bonus_resold_or_compliant_partner_delivery(delivery, certified, earns, exception):
    given = {"product_line": "services", "service_delivery": delivery, "delivery_certified": certified}
    assert compliance.earns_services_bonus(**given) is earns
    assert compliance.is_compliance_exception(**given) is exception


def test_other_product_lines_neither_earn_the_services_bonus_nor_are_exceptions():
    given = {"product_line": "hci", "service_delivery": "", "delivery_certified": False}
    assert compliance.earns_services_bonus(**given) is False
    assert compliance.is_compliance_exception(**given) is False


@pytest.mark.django_db
def test_the_orm_and_sql_forms_agree_with_the_pure_rule_on_every_case():
    certified, uncertified = f.partner(), f.partner()
    f.services_delivery_certification(certified, earned_on=date(2017, 3, 1), expires_on=date(2017, 6, 1))
    for p in (certified, uncertified):
        for day in (date(2017, 2, 28), date(2017, 3, 1), date(2017, 5, 31), date(2017, 6, 1)):
            f.order(
                partner=p,
                customer=f.customer(),
                booked_on=day,
                lines=[
                    ("services", "10.00", {"service_delivery": "partner_delivered"}),
                    ("services", "10.00", {"service_delivery": "resold"}),
                    ("hci", "10.00"),
                ],
            )
    active = {(day, p.pk) for p in [certified] for day in (date(2017, 3, 1), date(2017, 5, 31))}
    lines = OrderLine.objects.with_compliance()
    expected = {
        line.pk: compliance.is_compliance_exception(
            product_line=line.product_line,
            service_delivery=line.service_delivery,
            delivery_certified=(line.booked_on, line.partner_id) in active,
        )
        for line in lines
    }
    assert {line.pk: line.compliance_exception for line in lines} == expected
    assert sum(expected.values()) == 6  # partner-delivered: the uncertified partner's 4, the certified one's 2
    if connection.vendor != "postgresql":
        return
    certified_sql = (
        "EXISTS (SELECT 1 FROM partners_certificationrecord cr"
        " JOIN partners_certification ce ON ce.id = cr.certification_id"
        " JOIN partners_person pe ON pe.id = cr.person_id"
        f" WHERE {compliance.delivery_certified_join_sql('l', 'cr', 'ce', 'pe')})"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT l.id, {compliance.earns_services_bonus_sql('l', certified_sql)} FROM deals_orderline l",
            compliance.SQL_PARAMS,
        )
        earns_sql = dict(cursor.fetchall())
    assert earns_sql == {
        line.pk: compliance.earns_services_bonus(
            product_line=line.product_line,
            service_delivery=line.service_delivery,
            delivery_certified=(line.booked_on, line.partner_id) in active,
        )
        for line in lines
    }
