"""The fast paths equal the reference: on random programs, the rows the database's path computes (the set-based
SQL on PostgreSQL, the bulk Python path elsewhere — and both, on PostgreSQL) equal ``calculations.reference_rows``
applied line by line to a snapshot of the same data.

Random tiers and tier changes (several on one day), attestations, services-delivery certifications, won and
other registrations, rate changes, credits (partial, several lines, of any line of the credited order, with or
without the credited line's delivery), amounts with half-cent ties, and a closed quarter followed by late lines.
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from deals import compliance
from deals.models import OrderLine, Registration
from partners.models import CertificationRecord, DellOnlyAttestation, Tier, TierHistory
from portal.chunks import chunk_name
from portal.fiscal import Quarter
from portal.models import JobRun, Program
from rebates import calculations as calc
from rebates import generator, services
from rebates.models import BaseRate, ComponentRate, RebateLine
from rebates.selectors import rebate_accrual
from tests.factories import rebates as f

Q1, Q2 = Quarter.parse("FY2018-Q1"), Quarter.parse("FY2018-Q2")
TIERS = ["authorized", "gold", "platinum", "titanium", "titanium_black"]
# Every product line, the ones with more rules more often (several lines of one product line in an order).
PRODUCT_LINES = ["server", "storage", "networking", "hci", "data_protection", "services"] + [
    "server",
    "storage",
    "services",
] * 2
DELIVERIES = ["resold", "partner_delivered"]
# History for the 36-month look-back, the edges of the program start, FY2018-Q1 and -Q2.
DAYS = st.one_of(
    st.dates(date(2017, 2, 1), date(2017, 7, 31)),
    st.sampled_from([date(2017, 2, 1), date(2017, 2, 28), date(2017, 4, 30), date(2014, 2, 28), date(2014, 3, 1)]),
    st.dates(date(2016, 12, 1), date(2017, 7, 31)),
    st.dates(date(2014, 1, 25), date(2014, 5, 5)),
)
QUARTER_DAYS = st.dates(date(2017, 2, 1), date(2017, 7, 31))
# Cents chosen so that 1, 2, 3, 8 and 25 points often fall on half a cent.
AMOUNTS = st.one_of(
    st.integers(1, 2_000_000).map(lambda cents: Decimal(cents) / 100),
    st.integers(1, 40_000).map(lambda n: Decimal(n * 50 + 25) / 100),
    st.sampled_from([Decimal("0.50"), Decimal("1.50"), Decimal("0.02"), Decimal("187788.03"), Decimal("10.10")]),
)

partners_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "tiers": st.lists(st.tuples(st.sampled_from(TIERS), DAYS), max_size=3),
            "attestation": st.none() | st.tuples(DAYS, st.none() | st.integers(1, 200)),
            "certification": st.none() | st.tuples(DAYS, st.integers(1, 400)),
        }
    ),
    min_size=1,
    max_size=3,
)
line_strategy = st.tuples(st.sampled_from(PRODUCT_LINES), AMOUNTS, st.sampled_from(DELIVERIES))
orders_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "day": DAYS,
            "partner": st.integers(0, 3),  # 3: a direct order
            "customer": st.integers(0, 2),
            "lines": st.lists(line_strategy, min_size=1, max_size=3),
            # a second line of the first line's product line, of the other delivery: which one a credit is
            # judged against matters (only line 1 is linked to the registration)
            "twin": st.booleans(),
            "registration": st.sampled_from(["won", None, "approved"]),
            "late": st.booleans(),  # imported after FY2018-Q1 closed (when it does)
        }
    ),
    min_size=2,
    max_size=10,
)
credits_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "order": st.integers(0, 9),
            "lines": st.lists(
                st.tuples(st.integers(0, 2), st.sampled_from(DELIVERIES), st.sampled_from(["1", "1/2", "1/3"])),
                min_size=1,
                max_size=2,
            ),
            "after": st.integers(0, 60),
            "late": st.booleans(),
        }
    ),
    min_size=1,
    max_size=5,
)


def snapshot() -> calc.Snapshot:
    """Every table a close reads, as plain values, with plain queries."""
    program = Program.current()
    lines = [
        calc.ReferenceLine(
            id=line.pk,
            order_id=line.order_id,
            line_number=line.line_number,
            partner_id=line.partner_id,
            customer_id=line.customer_id,
            product_line=line.product_line,
            net_amount=line.net_amount,
            booked_on=line.booked_on,
            service_delivery=line.service_delivery,
            registration_won=line.registration is not None and line.registration.status == Registration.Status.WON,
            credited_order_id=line.credited_order_id,
        )
        for line in OrderLine.objects.select_related("registration")
    ]
    ledger = defaultdict(list)
    for row in RebateLine.objects.all():
        ledger[row.order_line_id].append((row.component, row.rate, row.tier_id))
    tier_changes = defaultdict(list)
    for change in TierHistory.objects.order_by("effective_on", "id"):
        tier_changes[change.partner_id].append((change.effective_on, change.to_tier_id))
    attestations = defaultdict(list)
    for row in DellOnlyAttestation.objects.all():
        attestations[row.partner_id].append((row.starts_on, row.ends_on))
    certifications = defaultdict(list)
    for record in CertificationRecord.objects.verified().select_related("person", "certification"):
        if record.certification.track == compliance.DELIVERY_TRACK:
            certifications[record.person.partner_id].append((record.earned_on, record.expires_on))
    return calc.Snapshot(
        lines=lines,
        ledger=ledger,
        tier_changes=tier_changes,
        authorized_tier_id=Tier.objects.get(code="authorized").pk,
        attestations=attestations,
        delivery_certifications=certifications,
        base_rates=[(r.tier_id, r.product_line, r.valid_from, r.valid_until, r.rate) for r in BaseRate.objects.all()],
        component_rates=[(r.component, r.valid_from, r.valid_until, r.rate) for r in ComponentRate.objects.all()],
        program_start=program.start_date,
        lookback_months=program.new_business_lookback_months,
    )


def written_rows(quarter: Quarter) -> list[calc.RebateRow]:
    """The rows the close of ``quarter`` wrote, in the reference's form and order."""
    return sorted(
        calc.RebateRow(
            order_line_id=row.order_line_id,
            component=row.component,
            partner_id=row.statement.partner_id,
            tier_id=row.tier_id,
            net_amount=row.net_amount,
            rate=calc.normal_rate(row.rate),
            amount=row.amount,
            is_adjustment=row.is_adjustment,
        )
        for row in RebateLine.objects.filter(statement__quarter=str(quarter)).select_related("statement")
    )


def registration(partner, made, status):
    if status == "won":
        return f.won_registration(partner=partner, customer=made.customer, won_order=made, approved_on=made.booked_on)
    return Registration.objects.create(
        number=f"DR-A{made.pk:07d}",
        partner=partner,
        customer=made.customer,
        opportunity_name="Approved deal",
        expected_close_on=made.booked_on + timedelta(days=60),
        status=Registration.Status.APPROVED,
        submitted_at=timezone.now(),
        approved_on=made.booked_on,
        protection_ends_on=made.booked_on + timedelta(days=90),
    )


def build(data, *, close_first: bool, rate_change: date | None):
    partners = []
    for spec in data["partners"]:
        p = f.partner()
        for tier, day in spec["tiers"]:
            f.tier_change(p, tier, day)
        if spec["attestation"]:
            start, days = spec["attestation"]
            DellOnlyAttestation.objects.create(
                partner=p, starts_on=start, ends_on=start + timedelta(days=days) if days else None
            )
        if spec["certification"]:
            earned_on, days = spec["certification"]
            f.services_delivery_certification(p, earned_on=earned_on, expires_on=earned_on + timedelta(days=days))
        partners.append(p)
    customers = [f.customer() for _ in range(3)]
    if rate_change:  # the blended rate changes on that day
        old = ComponentRate.objects.get(component="blended", valid_until=None)
        ComponentRate.objects.filter(pk=old.pk).update(valid_until=rate_change)
        ComponentRate.objects.create(component="blended", rate=Decimal("3.5"), valid_from=rate_change)

    def orders(late: bool):
        made_orders = []
        for spec in data["orders"]:
            partner = partners[spec["partner"] % len(partners)] if spec["partner"] < 3 else None
            lines = [
                (pl, amount, {"service_delivery": delivery if pl == "services" else ""})
                for pl, amount, delivery in spec["lines"]
            ]
            if spec["twin"]:
                pl, amount, delivery = spec["lines"][0]
                other = DELIVERIES[1 - DELIVERIES.index(delivery)] if pl == "services" else ""
                lines.append((pl, amount + 1, {"service_delivery": other}))
            if spec["late"] != late:
                made_orders.append(None)
                continue
            made = f.order(
                partner=partner,
                channel="partner" if partner else "direct",
                customer=customers[spec["customer"]],
                booked_on=spec["day"],
                lines=lines,
            )
            if partner and spec["registration"]:
                made.lines.filter(line_number=1).update(registration=registration(partner, made, spec["registration"]))
            made_orders.append(made)
        return made_orders

    def credits(made_orders, late: bool):
        for spec in data["credits"]:
            credited = made_orders[spec["order"] % len(made_orders)]
            if spec["late"] != late or credited is None or credited.partner is None:
                continue
            credited_lines = list(credited.lines.order_by("line_number"))
            lines = []
            for index, delivery, share in spec["lines"]:
                line = credited_lines[index % len(credited_lines)]
                amount = -max((line.net_amount / int(share.split("/")[-1])).quantize(Decimal("0.01")), Decimal("0.01"))
                lines.append(
                    (line.product_line, amount, {"service_delivery": delivery if line.service_delivery else ""})
                )
            f.order(
                partner=credited.partner,
                customer=credited.customer,
                booked_on=min(max(credited.booked_on, date(2017, 2, 1)) + timedelta(days=spec["after"]), Q2.end),
                lines=lines,
                credits=credited,
            )

    if close_first:
        early = orders(late=False)
        credits(early, late=False)
        services.quarter_close(quarter=Q1, as_of=date(2017, 5, 6))
        late_orders = orders(late=True)
        credits([a or b for a, b in zip(early, late_orders, strict=True)], late=True)
    else:
        made = [a or b for a, b in zip(orders(late=False), orders(late=True), strict=True)]
        credits(made, late=False)
        credits(made, late=True)
    return partners


class FastPathEqualsReference(TestCase):
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
    @given(
        data=st.fixed_dictionaries(
            {"partners": partners_strategy, "orders": orders_strategy, "credits": credits_strategy}
        ),
        close_first=st.booleans(),
        rate_change=st.none() | st.dates(date(2017, 2, 2), date(2017, 7, 31)),
        accrual_until=QUARTER_DAYS,
        chunk_partners=st.sampled_from([1, 2, 250]),
    )
    def test_the_fast_path_of_each_database_equals_the_reference(
        self, data, close_first, rate_change, accrual_until, chunk_partners
    ):
        partners = build(data, close_first=close_first, rate_change=rate_change)
        quarter = Q2 if close_first else Q1
        reference = snapshot()
        expected = calc.reference_rows(reference, quarter=quarter)
        credits = {line.id for line in reference.lines if line.credited_order_id}
        event(
            f"credit rows: {min(sum(row.order_line_id in credits for row in expected), 5)}"
        )  # for --hypothesis-show-statistics
        assert generator.rebate_rows(quarter=quarter) == expected
        if connection.vendor == "postgresql":
            assert generator.rebate_rows_python(quarter=quarter) == expected
        # the dashboard accrual: one partner, the lines booked so far
        until = min(max(accrual_until, quarter.start), quarter.end)
        narrowed = calc.reference_rows(reference, quarter=quarter, partner_ids=[partners[0].pk], until=until)
        assert generator.rebate_rows(quarter=quarter, partner_ids=[partners[0].pk], until=until) == narrowed
        # the dashboard shows the reference's sums, computed and stored, then read from the stored row
        sums = {}
        for row in narrowed:
            sums[row.component] = sums.get(row.component, Decimal("0.00")) + row.amount
        for _read in ("computed", "stored"):
            accrual = rebate_accrual(partner=partners[0], as_of=until)
            assert accrual.current and {r["component"]: r["amount"] for r in accrual.by_component} == sums
            assert accrual.total == sum(sums.values(), Decimal("0.00"))
        # and the close writes exactly the reference's rows, in chunks of one, two or every partner
        with override_settings(REBATES_CLOSE_CHUNK_PARTNERS=chunk_partners):
            services.quarter_close(quarter=quarter, as_of=quarter.end + timedelta(days=6))
        event(f"close chunks: {min(JobRun.objects.filter(name=chunk_name(services.CLOSE_JOB)).count(), 4)}")
        assert written_rows(quarter) == expected


def test_the_reference_rows_of_the_worked_example(db):
    """The reference itself, on DESIGN §6's worked example, to the cent (the fast paths are proven against it)."""
    gold = f.partner(tier="gold", attested_on=date(2016, 6, 1))
    customer = f.customer()
    f.order(partner=None, channel="direct", customer=customer, booked_on=date(2016, 5, 3), lines=[("server", "500.00")])
    sale = f.order(
        partner=gold,
        customer=customer,
        booked_on=date(2017, 2, 10),
        lines=[("server", "10000.00"), ("storage", "20000.00")],
    )
    sale.lines.update(
        registration=f.won_registration(partner=gold, customer=customer, won_order=sale, approved_on=date(2017, 2, 1))
    )
    rows = calc.reference_rows(snapshot(), quarter=Q1)
    by_line = defaultdict(dict)
    for row in rows:
        by_line[row.net_amount][row.component] = row.amount
    assert by_line == {
        Decimal("10000.00"): {
            "base": Decimal("200.00"),
            "deal_registration": Decimal("200.00"),
            "blended": Decimal("200.00"),
            "exclusivity_uplift": Decimal("150.00"),
        },
        Decimal("20000.00"): {
            "base": Decimal("400.00"),
            "new_business": Decimal("1600.00"),
            "deal_registration": Decimal("400.00"),
            "blended": Decimal("400.00"),
            "exclusivity_uplift": Decimal("700.00"),
        },
    }
    assert sum(row.amount for row in rows) == Decimal("4250.00")
