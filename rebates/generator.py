"""Set-based rebate generation for a quarter close: every component of every line to put on a statement.

The lines: the partner lines booked from the program start to the end of the quarter that are on no statement
yet — the quarter's own lines and the *prior-period adjustments* (lines of closed quarters that arrived after
those closed). Two equivalent paths produce the same rows (a test proves it on thousands of random lines):

- PostgreSQL: one ``SELECT`` (``rebate_rows_sql``) and, for the close, an ``INSERT … SELECT`` of it;
- any database: a fixed number of queries and the pure rules of ``calculations.py`` (``rebate_rows_python``).
"""

from bisect import insort
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection
from django.db.models import Exists, OuterRef

from deals.models import OrderLine
from partners.models import CertificationRecord, DellOnlyAttestation, Tier
from partners.selectors import tier_ids_on
from portal.fiscal import Quarter, add_months
from portal.models import Program

from . import calculations as calc
from .models import BaseRate, ComponentRate, RebateLine

ROW_FIELDS = ("order_line_id", "partner_id", "component", "tier_id", "net_amount", "rate", "amount", "is_adjustment")


@dataclass(frozen=True, order=True)
class RebateRow:
    order_line_id: int
    component: str
    partner_id: int
    tier_id: int
    net_amount: Decimal
    rate: Decimal
    amount: Decimal
    is_adjustment: bool


def _normal(rate: Decimal) -> Decimal:
    # 2 and 2.000 are the same rate; compare and store them the same way on both paths.
    return rate.quantize(Decimal("0.001"))


def _unstatemented():
    return ~Exists(RebateLine.objects.filter(order_line=OuterRef("pk")))


LINE_VALUES = (
    "id",
    "order_id",
    "line_number",
    "partner_id",
    "customer_id",
    "product_line",
    "net_amount",
    "booked_on",
    "service_delivery",
    "registration_id",
    "registration__status",
    "credited_order_id",
)


class _Rates:
    """Every rate row, looked up by date in memory (there are a few dozen)."""

    def __init__(self):
        self.base = defaultdict(list)
        for rate in BaseRate.objects.all():
            self.base[(rate.tier_id, rate.product_line)].append(rate)
        self.bonus = defaultdict(list)
        for rate in ComponentRate.objects.all():
            self.bonus[rate.component].append(rate)

    @staticmethod
    def _valid(rates, day):
        for rate in rates:
            if calc.active_on(day, rate.valid_from, rate.valid_until):
                return rate.rate
        return None

    def base_rate(self, tier_id, product_line, day):
        return self._valid(self.base[(tier_id, product_line)], day)

    def bonus_rates(self, day) -> dict[str, Decimal]:
        found = {component: self._valid(rates, day) for component, rates in self.bonus.items()}
        return {component: rate for component, rate in found.items() if rate is not None}


def _subject_facts(subjects: list[dict], program: Program):
    """Tier id and ``LineFacts`` of each positive line in ``subjects``, from a fixed number of queries."""
    if not subjects:
        return {}
    partner_ids = {line["partner_id"] for line in subjects}
    tier_ids = tier_ids_on((line["partner_id"], line["booked_on"]) for line in subjects)
    attestations = defaultdict(list)
    for row in DellOnlyAttestation.objects.filter(partner_id__in=partner_ids):
        attestations[row.partner_id].append((row.starts_on, row.ends_on))
    delivery = defaultdict(list)
    for partner_id, earned_on, expires_on in CertificationRecord.objects.filter(
        person__partner_id__in=partner_ids, certification__track="services_delivery"
    ).values_list("person__partner_id", "earned_on", "expires_on"):
        delivery[partner_id].append((earned_on, expires_on))

    hardware = [line for line in subjects if line["product_line"] in calc.HARDWARE_LINES]
    earlier = defaultdict(list)  # (customer, product line) → sorted dates of positive lines, any channel
    quarter_lines = defaultdict(set)  # (partner, customer, quarter start) → positive hardware product lines
    if hardware:
        customers = {line["customer_id"] for line in hardware}
        first = min(line["booked_on"] for line in hardware)
        last = max(line["booked_on"] for line in hardware)
        since = min(add_months(first, -program.new_business_lookback_months), calc.quarter_bounds(first)[0])
        until = calc.quarter_bounds(last)[1]
        for partner_id, customer_id, product_line, booked_on in OrderLine.objects.filter(
            customer_id__in=customers,
            product_line__in=calc.HARDWARE_LINES,
            net_amount__gt=0,
            booked_on__gte=since,
            booked_on__lte=until,
        ).values_list("partner_id", "customer_id", "product_line", "booked_on"):
            insort(earlier[(customer_id, product_line)], booked_on)
            if partner_id is not None:
                quarter_lines[(partner_id, customer_id, calc.quarter_bounds(booked_on)[0])].add(product_line)

    rates = _Rates()
    facts = {}
    for line in subjects:
        day, partner_id = line["booked_on"], line["partner_id"]
        tier_id = tier_ids[(partner_id, day)]
        certified = any(calc.active_on(day, start, end) for start, end in delivery[partner_id])
        facts[line["id"]] = (
            tier_id,
            calc.LineFacts(
                net_amount=line["net_amount"],
                base_rate=rates.base_rate(tier_id, line["product_line"], day),
                new_business=calc.is_new_business(
                    product_line=line["product_line"],
                    booked_on=day,
                    earlier_positive_dates=earlier[(line["customer_id"], line["product_line"])],
                    lookback_months=program.new_business_lookback_months,
                ),
                deal_registration=line["registration_id"] is not None and line["registration__status"] == "won",
                blended=calc.is_blended(
                    product_line=line["product_line"],
                    partner_lines_in_quarter=quarter_lines[
                        (partner_id, line["customer_id"], calc.quarter_bounds(day)[0])
                    ],
                ),
                services=calc.earns_services(
                    product_line=line["product_line"],
                    service_delivery=line["service_delivery"],
                    delivery_certified=certified,
                ),
                attested=any(calc.active_on(day, start, end) for start, end in attestations[partner_id]),
            ),
            rates.bonus_rates(day),
        )
    return facts


def rebate_rows_python(
    *, quarter: Quarter, program: Program | None = None, partner_ids=None, until: date | None = None
) -> list[RebateRow]:
    """Every rebate row the close of ``quarter`` would write, computed with the pure rules.

    ``partner_ids`` and ``until`` (a date in the quarter) narrow it for an accrual estimate.
    """
    program = program or Program.current()
    start = program.start_date
    targets = OrderLine.objects.filter(partner__isnull=False, booked_on__gte=start, booked_on__lte=until or quarter.end)
    if partner_ids is not None:
        targets = targets.filter(partner_id__in=partner_ids)
    targets = list(targets.filter(_unstatemented()).values(*LINE_VALUES))
    credits = [line for line in targets if line["credited_order_id"] is not None]
    subjects = {line["id"]: line for line in targets if line["credited_order_id"] is None and line["net_amount"] > 0}
    credited_orders = {line["credited_order_id"] for line in credits}
    if credited_orders:
        for line in (
            OrderLine.objects.filter(
                order_id__in=credited_orders,
                partner__isnull=False,
                credited_order__isnull=True,
                net_amount__gt=0,
                booked_on__gte=start,
            )
            .filter(_unstatemented())
            .values(*LINE_VALUES)
        ):
            subjects.setdefault(line["id"], line)
    facts = _subject_facts(list(subjects.values()), program)
    earned = {
        line_id: (tier_id, calc.line_components(line_facts, rates))
        for line_id, (tier_id, line_facts, rates) in facts.items()
    }

    rows = []
    for line in targets:
        if line["id"] in earned:
            tier_id, components = earned[line["id"]]
            rows += _rows(line, quarter, tier_id, components)
    if credits:
        # What each credited (order, product line) earned: (line number, component, rate, tier), ledger or new.
        sources = defaultdict(list)
        for order_id, product_line, line_number, component, rate, tier_id in RebateLine.objects.filter(
            order_line__order_id__in=credited_orders
        ).values_list(
            "order_line__order_id",
            "order_line__product_line",
            "order_line__line_number",
            "component",
            "rate",
            "tier_id",
        ):
            sources[(order_id, product_line)].append((line_number, component, rate, tier_id))
        for line_id, (tier_id, components) in earned.items():
            subject = subjects[line_id]
            if subject["order_id"] in credited_orders:
                for item in components:
                    sources[(subject["order_id"], subject["product_line"])].append(
                        (subject["line_number"], item.component, item.rate, tier_id)
                    )
        for line in credits:
            chosen = {}
            for _line_number, component, rate, tier_id in sorted(
                sources[(line["credited_order_id"], line["product_line"])], key=lambda source: source[0]
            ):
                chosen.setdefault(component, (rate, tier_id))
            if not chosen:
                continue
            components = calc.credit_components(
                line["net_amount"], {component: rate for component, (rate, _tier) in chosen.items()}
            )
            for item in components:
                rows.append(_row(line, quarter, chosen[item.component][1], item))
    return sorted(rows)


def _row(line, quarter, tier_id, item: calc.Earned) -> RebateRow:
    return RebateRow(
        order_line_id=line["id"],
        component=item.component,
        partner_id=line["partner_id"],
        tier_id=tier_id,
        net_amount=line["net_amount"],
        rate=_normal(item.rate),
        amount=item.amount,
        is_adjustment=line["booked_on"] < quarter.start,
    )


def _rows(line, quarter, tier_id, components):
    return [_row(line, quarter, tier_id, item) for item in components]


# --- PostgreSQL -----------------------------------------------------------------------------------------------

REBATE_ROWS_SQL = """
WITH target AS (
    SELECT ol.id, ol.order_id, ol.line_number, ol.partner_id, ol.customer_id, ol.product_line, ol.net_amount,
           ol.booked_on, ol.service_delivery, ol.registration_id, ol.credited_order_id
    FROM deals_orderline ol
    WHERE ol.partner_id IS NOT NULL AND ol.booked_on >= %(start)s AND ol.booked_on <= %(end)s
      AND NOT EXISTS (SELECT 1 FROM rebates_rebateline r WHERE r.order_line_id = ol.id)
), subject AS (
    SELECT t.* FROM target t WHERE t.credited_order_id IS NULL AND t.net_amount > 0
    UNION
    SELECT c.id, c.order_id, c.line_number, c.partner_id, c.customer_id, c.product_line, c.net_amount,
           c.booked_on, c.service_delivery, c.registration_id, c.credited_order_id
    FROM deals_orderline c
    WHERE c.partner_id IS NOT NULL AND c.credited_order_id IS NULL AND c.net_amount > 0 AND c.booked_on >= %(start)s
      AND c.order_id IN (SELECT t.credited_order_id FROM target t WHERE t.credited_order_id IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM rebates_rebateline r WHERE r.order_line_id = c.id)
), dated AS (
    -- The fiscal quarter (February start) containing the booked date.
    SELECT s.*, (date_trunc('quarter', s.booked_on - interval '1 month') + interval '1 month')::date AS qstart
    FROM subject s
), ctx AS (
    SELECT d.*,
        COALESCE((SELECT th.to_tier_id FROM partners_tierhistory th
                  WHERE th.partner_id = d.partner_id AND th.effective_on <= d.booked_on
                  ORDER BY th.effective_on DESC, th.id DESC LIMIT 1), %(authorized)s) AS tier_id,
        EXISTS (SELECT 1 FROM partners_dellonlyattestation a
                WHERE a.partner_id = d.partner_id AND a.starts_on <= d.booked_on
                  AND (a.ends_on IS NULL OR a.ends_on > d.booked_on)) AS attested,
        (d.product_line IN ('server', 'storage') AND NOT EXISTS (
            SELECT 1 FROM deals_orderline p
            WHERE p.customer_id = d.customer_id AND p.product_line = d.product_line AND p.net_amount > 0
              AND p.booked_on >= (d.booked_on - make_interval(months => %(lookback)s))::date
              AND p.booked_on < d.booked_on)) AS new_business,
        (d.registration_id IS NOT NULL AND EXISTS (
            SELECT 1 FROM deals_registration g
            WHERE g.id = d.registration_id AND g.status = 'won')) AS deal_registration,
        (d.product_line IN ('server', 'storage')
         AND EXISTS (SELECT 1 FROM deals_orderline p
                     WHERE p.partner_id = d.partner_id AND p.customer_id = d.customer_id AND p.product_line = 'server'
                       AND p.net_amount > 0 AND p.booked_on >= d.qstart
                       AND p.booked_on < (d.qstart + interval '3 months')::date)
         AND EXISTS (SELECT 1 FROM deals_orderline p
                     WHERE p.partner_id = d.partner_id AND p.customer_id = d.customer_id AND p.product_line = 'storage'
                       AND p.net_amount > 0 AND p.booked_on >= d.qstart
                       AND p.booked_on < (d.qstart + interval '3 months')::date)) AS blended,
        (d.product_line = 'services' AND (d.service_delivery = 'resold' OR (
            d.service_delivery = 'partner_delivered' AND EXISTS (
                SELECT 1 FROM partners_certificationrecord cr
                JOIN partners_person pe ON pe.id = cr.person_id
                JOIN partners_certification ce ON ce.id = cr.certification_id
                WHERE pe.partner_id = d.partner_id AND ce.track = 'services_delivery'
                  AND cr.earned_on <= d.booked_on AND cr.expires_on > d.booked_on)))) AS services
    FROM dated d
), earned AS (
    SELECT c.id, 'base'::varchar AS component, br.rate
    FROM ctx c JOIN rebates_baserate br
      ON br.tier_id = c.tier_id AND br.product_line = c.product_line
     AND br.valid_from <= c.booked_on AND (br.valid_until IS NULL OR br.valid_until > c.booked_on)
    UNION ALL
    SELECT c.id, cr.component, cr.rate
    FROM ctx c JOIN rebates_componentrate cr
      ON cr.valid_from <= c.booked_on AND (cr.valid_until IS NULL OR cr.valid_until > c.booked_on)
     AND cr.component <> 'exclusivity_uplift'
     AND ((cr.component = 'new_business' AND c.new_business)
          OR (cr.component = 'deal_registration' AND c.deal_registration)
          OR (cr.component = 'blended' AND c.blended) OR (cr.component = 'services' AND c.services))
), subject_rows AS (
    SELECT c.id, c.order_id, c.line_number, c.product_line, c.tier_id, e.component, e.rate,
           ROUND(c.net_amount * e.rate / 100, 2) AS amount
    FROM ctx c JOIN earned e ON e.id = c.id
), subject_uplift AS (
    SELECT c.id, c.order_id, c.line_number, c.product_line, c.tier_id, 'exclusivity_uplift'::varchar AS component,
           cr.rate,
           ROUND(COALESCE((SELECT SUM(r.amount) FROM subject_rows r WHERE r.id = c.id), 0) * cr.rate / 100, 2) AS amount
    FROM ctx c JOIN rebates_componentrate cr
      ON cr.component = 'exclusivity_uplift' AND cr.valid_from <= c.booked_on
     AND (cr.valid_until IS NULL OR cr.valid_until > c.booked_on)
    WHERE c.attested
), subject_all AS (
    SELECT * FROM subject_rows UNION ALL SELECT * FROM subject_uplift
), credit_source AS (
    -- What each credited order's lines earned: on a statement already, or computed now.
    SELECT ol.order_id, ol.product_line, ol.line_number, r.component, r.rate, r.tier_id
    FROM rebates_rebateline r JOIN deals_orderline ol ON ol.id = r.order_line_id
    WHERE ol.order_id IN (SELECT t.credited_order_id FROM target t WHERE t.credited_order_id IS NOT NULL)
    UNION ALL
    SELECT a.order_id, a.product_line, a.line_number, a.component, a.rate, a.tier_id FROM subject_all a
), credit_earned AS (
    SELECT DISTINCT ON (t.id, x.component) t.id, x.component, x.rate, x.tier_id
    FROM target t JOIN credit_source x ON x.order_id = t.credited_order_id AND x.product_line = t.product_line
    WHERE t.credited_order_id IS NOT NULL
    ORDER BY t.id, x.component, x.line_number
), credit_rows AS (
    SELECT k.id, k.component, k.rate, k.tier_id, ROUND(t.net_amount * k.rate / 100, 2) AS amount
    FROM credit_earned k JOIN target t ON t.id = k.id
    WHERE k.component <> 'exclusivity_uplift'
), credit_uplift AS (
    SELECT k.id, k.component, k.rate, k.tier_id,
           ROUND(COALESCE((SELECT SUM(r.amount) FROM credit_rows r WHERE r.id = k.id), 0) * k.rate / 100, 2) AS amount
    FROM credit_earned k WHERE k.component = 'exclusivity_uplift'
), all_rows AS (
    SELECT a.id, a.component, a.tier_id, a.rate, a.amount FROM subject_all a WHERE a.id IN (SELECT id FROM target)
    UNION ALL SELECT id, component, tier_id, rate, amount FROM credit_rows
    UNION ALL SELECT id, component, tier_id, rate, amount FROM credit_uplift
)
SELECT x.id AS order_line_id, t.partner_id, x.component, x.tier_id, t.net_amount, x.rate,
       x.amount, (t.booked_on < %(quarter_start)s) AS is_adjustment
FROM all_rows x JOIN target t ON t.id = x.id
"""


def _sql_params(quarter: Quarter, program: Program) -> dict:
    return {
        "start": program.start_date,
        "end": quarter.end,
        "quarter_start": quarter.start,
        "lookback": program.new_business_lookback_months,
        "authorized": Tier.objects.get(code=Tier.AUTHORIZED).pk,
    }


def rebate_rows_sql(*, quarter: Quarter, program: Program | None = None) -> list[RebateRow]:
    """The same rows as ``rebate_rows_python``, computed by PostgreSQL in one query."""
    program = program or Program.current()
    with connection.cursor() as cursor:
        cursor.execute(REBATE_ROWS_SQL, _sql_params(quarter, program))
        rows = cursor.fetchall()
    return sorted(
        RebateRow(
            order_line_id=line_id,
            component=component,
            partner_id=partner_id,
            tier_id=tier_id,
            net_amount=net,
            rate=_normal(rate),
            amount=amount,
            is_adjustment=adjustment,
        )
        for line_id, partner_id, component, tier_id, net, rate, amount, adjustment in rows
    )


def rebate_lines_insert_sql(*, quarter: Quarter, issued_on: date, program: Program) -> None:
    """Write the quarter's statements and rebate lines with ``INSERT … SELECT`` (PostgreSQL)."""
    params = {**_sql_params(quarter, program), "quarter": str(quarter), "issued_on": issued_on}
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS rebates_stage")
        cursor.execute(f"CREATE TEMP TABLE rebates_stage ON COMMIT DROP AS {REBATE_ROWS_SQL}", params)
        cursor.execute(
            """
            INSERT INTO rebates_statement (number, partner_id, quarter, status, issued_on, total, line_count,
                                           payment_reference, created_at)
            SELECT 'RS-' || %(quarter)s || '-' || p.code, p.id, %(quarter)s, 'issued', %(issued_on)s, 0, 0, '', now()
            FROM partners_partner p WHERE p.id IN (SELECT partner_id FROM rebates_stage)
            ON CONFLICT DO NOTHING
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO rebates_rebateline (statement_id, order_line_id, component, tier_id, net_amount, rate, amount,
                                            is_adjustment)
            SELECT st.id, s.order_line_id, s.component, s.tier_id, s.net_amount, s.rate, s.amount, s.is_adjustment
            FROM rebates_stage s JOIN rebates_statement st ON st.partner_id = s.partner_id AND st.quarter = %(quarter)s
            ON CONFLICT DO NOTHING
            """,
            params,
        )
        cursor.execute("DROP TABLE rebates_stage")
