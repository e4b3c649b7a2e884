"""Set-based rebate generation for a quarter close: every component of every line to put on a statement.

The lines: the partner lines booked from the program start to the end of the quarter that are on no statement
yet — the quarter's own lines and the *prior-period adjustments* (lines of closed quarters that arrived after
those closed). ``calculations.reference_rows`` is the reference; two fast paths produce the same rows (a
property-based test proves it on both databases):

- PostgreSQL: one ``SELECT`` (``REBATE_ROWS_SQL``), linear in the lines — each fact by a join (tier and
  attestation on date ranges, new business by a window over each customer's positive days, blended by one
  ``GROUP BY``), the uplift summed by a ``GROUP BY``; for the close, an ``INSERT … SELECT`` of it;
- any other database: a fixed number of queries and the pure rules of ``calculations.py``.

``rebate_rows`` picks the one for the database; the dashboard accrual reads it, and the close writes the same
rows (on PostgreSQL the same query, as ``INSERT … SELECT``).
Every constant of the SQL (product lines, statuses, tracks, service deliveries, component codes, rounding, the
fiscal calendar) is a query parameter or is composed from the Python definitions.
"""

from bisect import insort
from collections import defaultdict
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q

from deals import compliance
from deals.models import OrderLine, Registration
from partners.models import CertificationRecord, DellOnlyAttestation, Tier
from partners.selectors import tier_ids_on
from portal.fiscal import FISCAL_START_MONTH, Quarter, add_months
from portal.models import Program
from portal.money import percent_of_sql

from . import calculations as calc
from .calculations import RebateRow
from .models import BaseRate, ComponentRate, RebateLine, Statement, statement_order_sql

__all__ = ["RebateRow", "rebate_lines_insert_sql", "rebate_rows", "rebate_rows_python", "rebate_rows_sql"]


def rebate_rows(
    *,
    quarter: Quarter,
    program: Program | None = None,
    partner_ids=None,
    until: date | None = None,
    watermark: int | None = None,
) -> list[RebateRow]:
    """Every rebate row the close of ``quarter`` would write, by the fast path of this database.

    ``partner_ids`` and ``until`` (a date in the quarter) narrow it for an accrual estimate, or ``partner_ids``
    for one chunk of a close; ``watermark``: only order lines up to that id (those there when the close began).
    """
    path = rebate_rows_sql if connection.vendor == "postgresql" else rebate_rows_python
    return path(quarter=quarter, program=program, partner_ids=partner_ids, until=until, watermark=watermark)


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


def _subject_facts(subjects: list[dict], program: Program, watermark: int | None = None):
    """Tier id and ``LineFacts`` of each positive line in ``subjects``, from a fixed number of queries."""
    if not subjects:
        return {}
    partner_ids = {line["partner_id"] for line in subjects}
    tier_ids = tier_ids_on((line["partner_id"], line["booked_on"]) for line in subjects)
    attestations = defaultdict(list)
    for row in DellOnlyAttestation.objects.filter(partner_id__in=partner_ids):
        attestations[row.partner_id].append((row.starts_on, row.ends_on))
    delivery = defaultdict(list)
    # Verified records only (the rule of ``CertificationRecord.objects.active_on``; the dates are checked below).
    for partner_id, earned_on, expires_on in (
        CertificationRecord.objects.verified()
        .filter(person__partner_id__in=partner_ids, certification__track=compliance.DELIVERY_TRACK)
        .values_list("person__partner_id", "earned_on", "expires_on")
    ):
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
            _up_to(watermark),
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
                deal_registration=line["registration_id"] is not None
                and line["registration__status"] == Registration.Status.WON,
                blended=calc.is_blended(
                    product_line=line["product_line"],
                    partner_lines_in_quarter=quarter_lines[
                        (partner_id, line["customer_id"], calc.quarter_bounds(day)[0])
                    ],
                ),
                services=compliance.earns_services_bonus(
                    product_line=line["product_line"],
                    service_delivery=line["service_delivery"],
                    delivery_certified=certified,
                ),
                attested=any(calc.active_on(day, start, end) for start, end in attestations[partner_id]),
            ),
            rates.bonus_rates(day),
        )
    return facts


def _up_to(watermark: int | None) -> Q:
    """The order lines there when a close was planned (every line without a watermark)."""
    return Q() if watermark is None else Q(pk__lte=watermark)


def _credited_lines(credits: list[dict], watermark: int | None = None) -> dict[int, int]:
    """Credit line id → the id of its one credited line (``calculations.credited_line``), in one query."""
    candidates = defaultdict(list)
    for line in OrderLine.objects.filter(
        _up_to(watermark), order_id__in={credit["credited_order_id"] for credit in credits}, credited_order__isnull=True
    ).values("id", "order_id", "line_number", "product_line", "service_delivery"):
        candidates[line["order_id"]].append(
            calc.ReferenceLine(
                id=line["id"],
                order_id=line["order_id"],
                line_number=line["line_number"],
                partner_id=None,
                customer_id=0,
                product_line=line["product_line"],
                net_amount=Decimal(0),
                booked_on=date.min,
                service_delivery=line["service_delivery"],
            )
        )
    chosen = {}
    for credit in credits:
        line = calc.credited_line(
            calc.ReferenceLine(
                id=credit["id"],
                order_id=credit["order_id"],
                line_number=credit["line_number"],
                partner_id=credit["partner_id"],
                customer_id=credit["customer_id"],
                product_line=credit["product_line"],
                net_amount=credit["net_amount"],
                booked_on=credit["booked_on"],
                service_delivery=credit["service_delivery"],
            ),
            candidates[credit["credited_order_id"]],
        )
        if line is not None:
            chosen[credit["id"]] = line.id
    return chosen


def rebate_rows_python(
    *,
    quarter: Quarter,
    program: Program | None = None,
    partner_ids=None,
    until: date | None = None,
    watermark: int | None = None,
) -> list[RebateRow]:
    """Every rebate row the close of ``quarter`` would write, computed with the pure rules in a fixed number
    of queries. ``partner_ids`` and ``until`` (a date in the quarter) narrow it for an accrual estimate."""
    program = program or Program.current()
    start = program.start_date
    targets = OrderLine.objects.filter(partner__isnull=False, booked_on__gte=start, booked_on__lte=until or quarter.end)
    if partner_ids is not None:
        targets = targets.filter(partner_id__in=partner_ids)
    targets = targets.filter(_up_to(watermark))
    targets = list(targets.filter(_unstatemented()).values(*LINE_VALUES))
    credits = [line for line in targets if line["credited_order_id"] is not None]
    subjects = {line["id"]: line for line in targets if line["credited_order_id"] is None and line["net_amount"] > 0}
    credited = _credited_lines(credits, watermark) if credits else {}
    if credited:
        for line in (
            OrderLine.objects.filter(
                _up_to(watermark),
                pk__in=set(credited.values()),
                partner__isnull=False,
                net_amount__gt=0,
                booked_on__gte=start,
            )
            .filter(_unstatemented())
            .values(*LINE_VALUES)
        ):
            subjects.setdefault(line["id"], line)
    facts = _subject_facts(list(subjects.values()), program, watermark)
    earned = {
        line_id: (tier_id, calc.line_components(line_facts, rates))
        for line_id, (tier_id, line_facts, rates) in facts.items()
    }

    rows = []
    for line in targets:
        if line["id"] in earned:
            tier_id, components = earned[line["id"]]
            rows += [_row(line, quarter, tier_id, item) for item in components]
    if credited:
        # What each credited line earned: (component → rate, tier), on a statement already or computed now.
        sources = defaultdict(lambda: ({}, None))
        for line_id, component, rate, tier_id in RebateLine.objects.filter(
            order_line_id__in=set(credited.values())
        ).values_list("order_line_id", "component", "rate", "tier_id"):
            sources[line_id] = ({**sources[line_id][0], component: rate}, tier_id)
        for line_id in set(credited.values()) & earned.keys():
            tier_id, components = earned[line_id]
            sources[line_id] = ({item.component: item.rate for item in components}, tier_id)
        for line in credits:
            rates, tier_id = sources[credited[line["id"]]] if line["id"] in credited else ({}, None)
            for item in calc.credit_components(line["net_amount"], rates) if rates else []:
                rows.append(_row(line, quarter, tier_id, item))
    return sorted(rows)


def _row(line, quarter, tier_id, item: calc.Earned) -> RebateRow:
    return RebateRow(
        order_line_id=line["id"],
        component=item.component,
        partner_id=line["partner_id"],
        tier_id=tier_id,
        net_amount=line["net_amount"],
        rate=calc.normal_rate(item.rate),
        amount=item.amount,
        is_adjustment=line["booked_on"] < quarter.start,
    )


# --- PostgreSQL -----------------------------------------------------------------------------------------------


def _fiscal_quarter_start(day: str) -> str:
    """The first day of the fiscal quarter containing the date ``day`` (portal.fiscal's calendar)."""
    return (
        f"(date_trunc('quarter', ({day}) - make_interval(months => %(fiscal_shift)s))"
        f" + make_interval(months => %(fiscal_shift)s))::date"
    )


def _months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def _lookback_start(day: str) -> str:
    """``day`` minus the new-business look-back, clamped to a shorter month's end as ``add_months`` does."""
    return f"(({day}) - make_interval(months => %(lookback)s))::date"


def _rate_valid(rate: str, day: str) -> str:
    return f"{rate}.valid_from <= {day} AND ({rate}.valid_until IS NULL OR {rate}.valid_until > {day})"


_LINE_COLUMNS = (
    "id, order_id, line_number, partner_id, customer_id, product_line, net_amount, booked_on, service_delivery,"
    " registration_id"
)
_PARTNER_FILTER = "(%(partner_ids)s::bigint[] IS NULL OR {line}.partner_id = ANY(%(partner_ids)s::bigint[]))"
# A close in chunks reads the lines that were there when it was planned (portal.chunks): ids up to a watermark.
_WATERMARK = "(%(watermark)s::bigint IS NULL OR {line}.id <= %(watermark)s::bigint)"
# The lines a close puts on statements: partner lines from the program start to the end, on no statement yet.
_UNSTATEMENTED = "NOT EXISTS (SELECT 1 FROM rebates_rebateline r WHERE r.order_line_id = {line}.id)"
_TARGET = " AND ".join(
    (
        "{line}.partner_id IS NOT NULL AND {line}.booked_on >= %(start)s AND {line}.booked_on <= %(end)s",
        _PARTNER_FILTER,
        _WATERMARK,
        _UNSTATEMENTED,
    )
)

REBATE_ROWS_SQL = f"""
WITH credit AS MATERIALIZED (
    -- The credits to put on statements. Each CTE reads deals_orderline itself, with all its filters, so that
    -- the planner estimates it from the table's statistics (a filter on a CTE is a blind guess).
    SELECT ol.id, ol.partner_id, ol.product_line, ol.net_amount, ol.booked_on, ol.service_delivery,
           ol.credited_order_id
    FROM deals_orderline ol
    WHERE {_TARGET.format(line="ol")} AND ol.credited_order_id IS NOT NULL
), credited AS MATERIALIZED (
    -- The one credited line of each credit (calculations.credited_line): the credited order's line of the same
    -- product line and the same service delivery, else of the same product line; the lowest line number first.
    SELECT DISTINCT ON (k.id) k.id AS credit_id, c.id AS line_id
    FROM credit k JOIN deals_orderline c
      ON c.order_id = k.credited_order_id AND c.product_line = k.product_line AND c.credited_order_id IS NULL
     AND {_WATERMARK.format(line="c")}
    ORDER BY k.id, (c.service_delivery = k.service_delivery) DESC, c.line_number
), subject AS MATERIALIZED (
    -- The positive lines whose components are computed: those to put on statements (is_target), and the
    -- credited lines on no statement yet.
    SELECT {_LINE_COLUMNS}, true AS is_target
    FROM deals_orderline ol
    WHERE {_TARGET.format(line="ol")} AND ol.credited_order_id IS NULL AND ol.net_amount > 0
    UNION ALL
    SELECT {_LINE_COLUMNS}, false
    FROM deals_orderline c
    WHERE c.id IN (SELECT line_id FROM credited)
      AND c.partner_id IS NOT NULL AND c.net_amount > 0 AND c.booked_on >= %(start)s AND {_WATERMARK.format(line="c")}
      AND NOT (c.booked_on <= %(end)s AND {_PARTNER_FILTER.format(line="c")})
      AND {_UNSTATEMENTED.format(line="c")}
), tier_span AS (
    -- Each tier change as the span [since, until) it is the partner's tier; the later row of one day wins.
    SELECT th.partner_id, th.to_tier_id AS tier_id, th.effective_on AS since,
           LEAD(th.effective_on) OVER (PARTITION BY th.partner_id ORDER BY th.effective_on, th.id) AS until
    FROM partners_tierhistory th
    WHERE th.partner_id IN (SELECT partner_id FROM subject)
), attested AS (
    SELECT DISTINCT s.id
    FROM subject s JOIN partners_dellonlyattestation a
      ON a.partner_id = s.partner_id AND a.starts_on <= s.booked_on AND (a.ends_on IS NULL OR a.ends_on > s.booked_on)
), certified AS (
    SELECT DISTINCT s.id
    FROM subject s
    JOIN partners_person pe ON pe.partner_id = s.partner_id
    JOIN partners_certificationrecord cr ON cr.person_id = pe.id
    JOIN partners_certification ce ON ce.id = cr.certification_id
    WHERE {compliance.needs_delivery_certification_sql("s")}
      AND {compliance.delivery_certified_join_sql("s", "cr", "ce", "pe")}
), hardware_day AS (
    -- Each customer's days with a positive line of a hardware product line (any channel), with the day before.
    SELECT d.customer_id, d.product_line, d.booked_on,
           LAG(d.booked_on) OVER (PARTITION BY d.customer_id, d.product_line ORDER BY d.booked_on) AS previous_on
    FROM (SELECT DISTINCT p.customer_id, p.product_line, p.booked_on
          FROM deals_orderline p
          WHERE p.product_line = ANY(%(hardware)s::varchar[]) AND p.net_amount > 0 AND {_WATERMARK.format(line="p")}
            AND p.booked_on >= {_lookback_start("%(start)s::date")}
            AND p.booked_on <= (SELECT max(booked_on) FROM subject)
            AND p.customer_id IN (SELECT customer_id FROM subject WHERE product_line = ANY(%(hardware)s::varchar[]))) d
), blended_group AS (
    -- (partner, customer, quarter) with a positive line of every hardware product line.
    SELECT p.partner_id, p.customer_id, {_fiscal_quarter_start("p.booked_on")} AS quarter_start
    FROM deals_orderline p
    WHERE p.partner_id IS NOT NULL AND p.product_line = ANY(%(hardware)s::varchar[]) AND p.net_amount > 0
      AND {_WATERMARK.format(line="p")} AND p.booked_on >= {_fiscal_quarter_start("%(start)s::date")}
      AND p.booked_on < {_fiscal_quarter_start("(SELECT max(booked_on) FROM subject)")}
                        + make_interval(months => %(quarter_months)s)
      AND p.customer_id IN (SELECT customer_id FROM subject WHERE product_line = ANY(%(hardware)s::varchar[]))
    GROUP BY 1, 2, 3
    HAVING COUNT(DISTINCT p.product_line) = cardinality(%(hardware)s::varchar[])
), ctx AS MATERIALIZED (
    SELECT s.id, s.partner_id, s.net_amount, s.product_line, s.booked_on, s.is_target,
           COALESCE(ts.tier_id, (SELECT id FROM partners_tier WHERE code = %(authorized)s)) AS tier_id,
           (a.id IS NOT NULL) AS attested,
           (s.product_line = ANY(%(hardware)s::varchar[])
            AND (h.previous_on IS NULL OR h.previous_on < {_lookback_start("s.booked_on")})) AS new_business,
           (g.id IS NOT NULL) AS deal_registration,
           (b.partner_id IS NOT NULL) AS blended,
           {compliance.earns_services_bonus_sql("s", "ce.id IS NOT NULL")} AS services
    FROM subject s
    LEFT JOIN tier_span ts
      ON ts.partner_id = s.partner_id AND ts.since <= s.booked_on AND (ts.until IS NULL OR ts.until > s.booked_on)
    LEFT JOIN attested a ON a.id = s.id
    LEFT JOIN certified ce ON ce.id = s.id
    LEFT JOIN hardware_day h
      ON h.customer_id = s.customer_id AND h.product_line = s.product_line AND h.booked_on = s.booked_on
    LEFT JOIN deals_registration g ON g.id = s.registration_id AND g.status = %(won)s
    LEFT JOIN blended_group b
      ON s.product_line = ANY(%(hardware)s::varchar[]) AND b.partner_id = s.partner_id AND b.customer_id = s.customer_id
     AND b.quarter_start = {_fiscal_quarter_start("s.booked_on")}
), earned AS MATERIALIZED (
    -- One pass per component family: the base rate, then the bonuses the line's facts decide.
    SELECT c.id, c.partner_id, c.net_amount, c.booked_on, c.is_target, %(base)s::varchar AS component, c.tier_id,
           br.rate, {percent_of_sql("c.net_amount", "br.rate")} AS amount
    FROM ctx c JOIN rebates_baserate br
      ON br.tier_id = c.tier_id AND br.product_line = c.product_line AND {_rate_valid("br", "c.booked_on")}
    UNION ALL
    SELECT c.id, c.partner_id, c.net_amount, c.booked_on, c.is_target, cr.component, c.tier_id, cr.rate,
           {percent_of_sql("c.net_amount", "cr.rate")}
    FROM ctx c JOIN rebates_componentrate cr
      ON {_rate_valid("cr", "c.booked_on")}
     AND ((cr.component = %(new_business)s AND c.new_business)
          OR (cr.component = %(deal_registration)s AND c.deal_registration)
          OR (cr.component = %(blended)s AND c.blended)
          OR (cr.component = %(services)s AND c.services))
), subject_all AS MATERIALIZED (
    SELECT * FROM earned
    UNION ALL
    -- The uplift: a share of the sum of the line's rounded components, summed by one GROUP BY.
    SELECT c.id, c.partner_id, c.net_amount, c.booked_on, c.is_target, cr.component, c.tier_id, cr.rate,
           {percent_of_sql("COALESCE(e.subtotal, 0)", "cr.rate")}
    FROM ctx c
    JOIN rebates_componentrate cr ON cr.component = %(uplift)s AND {_rate_valid("cr", "c.booked_on")}
    LEFT JOIN (SELECT id, SUM(amount) AS subtotal FROM earned GROUP BY id) e ON e.id = c.id
    WHERE c.attested
), credit_source AS MATERIALIZED (
    -- What each credit's credited line earned: on a statement already, or computed now.
    SELECT x.credit_id, r.component, r.tier_id, r.rate
    FROM credited x JOIN rebates_rebateline r ON r.order_line_id = x.line_id
    UNION ALL
    SELECT x.credit_id, a.component, a.tier_id, a.rate
    FROM credited x JOIN subject_all a ON a.id = x.line_id
), credit_rows AS MATERIALIZED (
    -- The credited line's components on the credit's amount; its uplift on their sum, by one GROUP BY.
    SELECT t.id, t.partner_id, t.net_amount, t.booked_on, k.component, k.tier_id, k.rate,
           {percent_of_sql("t.net_amount", "k.rate")} AS amount
    FROM credit_source k JOIN credit t ON t.id = k.credit_id
    WHERE k.component <> %(uplift)s
), all_rows AS (
    SELECT id, partner_id, net_amount, booked_on, component, tier_id, rate, amount FROM subject_all WHERE is_target
    UNION ALL
    SELECT * FROM credit_rows
    UNION ALL
    SELECT t.id, t.partner_id, t.net_amount, t.booked_on, k.component, k.tier_id, k.rate,
           {percent_of_sql("COALESCE(e.subtotal, 0)", "k.rate")}
    FROM credit_source k JOIN credit t ON t.id = k.credit_id
    LEFT JOIN (SELECT id, SUM(amount) AS subtotal FROM credit_rows GROUP BY id) e ON e.id = t.id
    WHERE k.component = %(uplift)s
)
SELECT id AS order_line_id, partner_id, component, tier_id, net_amount, rate, amount,
       (booked_on < %(quarter_start)s) AS is_adjustment
FROM all_rows
"""  # noqa: S608 — composed from this module's SQL fragments; every value is a query parameter


def _sql_params(
    quarter: Quarter, program: Program, *, partner_ids=None, until: date | None = None, watermark: int | None = None
) -> dict:
    return {
        "watermark": watermark,
        **compliance.SQL_PARAMS,
        "start": program.start_date,
        "end": until or quarter.end,
        "quarter_start": quarter.start,
        "partner_ids": None if partner_ids is None else sorted(partner_ids),
        "lookback": program.new_business_lookback_months,
        "fiscal_shift": FISCAL_START_MONTH - 1,
        "quarter_months": _months_between(quarter.start, quarter.next().start),
        "authorized": Tier.AUTHORIZED,
        "hardware": list(calc.HARDWARE_LINES),
        "won": Registration.Status.WON.value,
        "base": calc.BASE,
        "new_business": calc.NEW_BUSINESS,
        "deal_registration": calc.DEAL_REGISTRATION,
        "blended": calc.BLENDED,
        "services": calc.SERVICES,
        "uplift": calc.EXCLUSIVITY_UPLIFT,
    }


@contextmanager
def _planned_for_batch(cursor):
    """Plan the whole program's rebate query as the batch it is; the transaction's next statements plan as usual.

    Its CTEs are estimated blindly (a filter on a CTE scan is a default guess, off by 10-1000×): a nested loop
    chosen on such a guess is quadratic (5.5 million join rows for 16,611 services lines against 334
    certification records, 17 s of a 31 s query at 200,000 lines). Without nested loops every join is a hash or
    merge join: linear whatever the estimates. JIT compiled hundreds of functions for the query and made it 5×
    slower. An accrual (one partner) is small and estimated well: it is planned as usual.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("the rebate query runs in a transaction (its planner settings are local to it)")
    cursor.execute("SELECT set_config('enable_nestloop', 'off', true), set_config('jit', 'off', true)")
    try:
        yield
    finally:
        cursor.execute(
            "SELECT set_config(name, reset_val, true) FROM pg_settings WHERE name IN ('enable_nestloop', 'jit')"
        )


def rebate_rows_sql(
    *,
    quarter: Quarter,
    program: Program | None = None,
    partner_ids=None,
    until: date | None = None,
    watermark: int | None = None,
) -> list[RebateRow]:
    """The same rows as ``rebate_rows_python``, computed by PostgreSQL in one query."""
    program = program or Program.current()
    params = _sql_params(quarter, program, partner_ids=partner_ids, until=until, watermark=watermark)
    with connection.cursor() as cursor:
        if partner_ids is None:
            with transaction.atomic(), _planned_for_batch(cursor):
                cursor.execute(REBATE_ROWS_SQL, params)
                rows = cursor.fetchall()
        else:
            cursor.execute(REBATE_ROWS_SQL, params)
            rows = cursor.fetchall()
    return sorted(
        RebateRow(
            order_line_id=line_id,
            component=component,
            partner_id=partner_id,
            tier_id=tier_id,
            net_amount=net,
            rate=calc.normal_rate(rate),
            amount=amount,
            is_adjustment=adjustment,
        )
        for line_id, partner_id, component, tier_id, net, rate, amount, adjustment in rows
    )


def rebate_lines_insert_sql(
    *,
    quarter: Quarter,
    issued_on: date,
    program: Program,
    partner_ids=None,
    watermark: int | None = None,
    status: str = Statement.Status.ISSUED,
) -> None:
    """Write the quarter's statements and rebate lines with ``INSERT … SELECT`` (PostgreSQL): of every partner,
    or of ``partner_ids`` (one chunk of a close, its statements written with ``status``)."""
    params = {
        **_sql_params(quarter, program, partner_ids=partner_ids, watermark=watermark),
        "quarter": str(quarter),
        "number_prefix": Statement.number_for(quarter, ""),
        "issued": str(status),
        "issued_on": issued_on,
    }
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS rebates_stage")
        with _planned_for_batch(cursor):
            cursor.execute(f"CREATE TEMP TABLE rebates_stage ON COMMIT DROP AS {REBATE_ROWS_SQL}", params)
        cursor.execute("ANALYZE rebates_stage")
        cursor.execute(
            """
            INSERT INTO rebates_statement (number, partner_id, quarter, status, issued_on, total, line_count,
                                           payment_reference, created_at)
            SELECT %(number_prefix)s || p.code, p.id, %(quarter)s, %(issued)s, %(issued_on)s, 0, 0, '', now()
            FROM partners_partner p WHERE p.id IN (SELECT partner_id FROM rebates_stage)
            ON CONFLICT DO NOTHING
            """,
            params,
        )
        in_statement_order = statement_order_sql(line="l", order="o", rebate="s")
        cursor.execute(
            f"""
            INSERT INTO rebates_rebateline (statement_id, order_line_id, component, tier_id, net_amount, rate, amount,
                                            is_adjustment, position)
            SELECT st.id, s.order_line_id, s.component, s.tier_id, s.net_amount, s.rate, s.amount, s.is_adjustment,
                   row_number() OVER (PARTITION BY st.id ORDER BY {in_statement_order})
            FROM rebates_stage s JOIN rebates_statement st ON st.partner_id = s.partner_id AND st.quarter = %(quarter)s
            JOIN deals_orderline l ON l.id = s.order_line_id JOIN deals_order o ON o.id = l.order_id
            ON CONFLICT DO NOTHING
            """,  # noqa: S608 - the statement order is constant SQL
            params,
        )
        cursor.execute("DROP TABLE rebates_stage")
