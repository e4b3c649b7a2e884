"""What PostgreSQL itself does for each job: bare SQL doing comparable work, timed in the same run.

Each baseline runs on the same database copy as its job and leaves it as it found it: writes happen inside a
transaction that is rolled back (the harness vacuums the touched tables afterwards, so the job does not pay for
the baseline's dead rows).

The foreign keys Django creates are ``DEFERRABLE INITIALLY DEFERRED``: their checks run at ``COMMIT``, which a
rolled-back baseline never reaches, while the job commits and pays them (7.6 s of the 18 s lock run at 1,000,000
lines). Each baseline therefore starts with ``SET CONSTRAINTS ALL IMMEDIATE`` (``CHECKED``): its rows are checked
as they are written, so the baseline does the same integrity work as the job, inside the time measured.
"""

import time

CHECKED = "SET CONSTRAINTS ALL IMMEDIATE"

TIERS = """
SELECT l.partner_id, SUM(l.net_amount), SUM(l.net_amount) FILTER (WHERE l.product_line = 'services')
FROM deals_orderline l
WHERE l.partner_id IS NOT NULL AND l.booked_on > %(window_start)s AND l.booked_on <= %(as_of)s
GROUP BY l.partner_id
"""

LOCKS = """
WITH latest AS (
    SELECT DISTINCT ON (l.customer_id) l.customer_id, l.partner_id, l.order_id, l.booked_on
    FROM deals_orderline l
    WHERE l.partner_id IS NOT NULL AND l.net_amount > 0 AND l.booked_on <= %(as_of)s
      AND l.booked_on > (%(as_of)s::date - make_interval(months => %(lock_months)s))::date
    ORDER BY l.customer_id, l.booked_on DESC, l.order_id DESC, l.id DESC
), locks AS (
    INSERT INTO deals_channellock
        (customer_id, partner_id, locked_on, last_order_id, last_booked_on, expires_on, released_on, applied_on,
         updated_at)
    SELECT customer_id, partner_id, booked_on, order_id, booked_on,
           (booked_on + make_interval(months => %(lock_months)s))::date, NULL, %(as_of)s, now()
    FROM latest
    WHERE (booked_on + make_interval(months => %(lock_months)s))::date > %(as_of)s
    RETURNING customer_id, partner_id, last_order_id, last_booked_on, expires_on
)
INSERT INTO deals_channellockevent
    (customer_id, kind, partner_id, order_id, effective_on, expires_on, recorded_on, created_at)
SELECT customer_id, 'locked', partner_id, last_order_id, last_booked_on, expires_on, %(as_of)s, now() FROM locks
"""

ROUTING = """
CREATE TEMP TABLE bench_routing_decisions AS
WITH direct AS (
    SELECT o.id, o.booked_on, o.customer_id, c.country, SUM(l.net_amount) AS total,
           array_agg(DISTINCT l.product_line) AS product_lines
    FROM deals_order o
    JOIN deals_customer c ON c.id = o.customer_id
    JOIN deals_orderline l ON l.order_id = o.id
    WHERE o.channel = 'direct' AND o.partner_id IS NULL
      AND o.booked_on >= %(program_start)s AND o.booked_on <= %(as_of)s
      AND NOT EXISTS (SELECT 1 FROM deals_routingcase rc WHERE rc.order_id = o.id)
    GROUP BY o.id, c.country
)
SELECT d.id AS order_id, d.total, z.hard_deck_ceiling, lock.partner_id AS incumbent_id,
       reg.id AS registration_id, reg.partner_id AS registration_partner_id,
       CASE WHEN lock.partner_id IS NOT NULL THEN 'locked'
            WHEN reg.id IS NOT NULL THEN 'registration'
            WHEN d.total < z.hard_deck_ceiling THEN 'under_ceiling'
            ELSE 'not_routed' END AS reason,
       COALESCE(reg.partner_id, lock.partner_id) AS target_id
FROM direct d
JOIN partners_zone z ON z.id = COALESCE(
    (SELECT zc.zone_id FROM partners_zonecountry zc WHERE zc.country = d.country),
    (SELECT dz.id FROM partners_zone dz WHERE dz.is_default))
LEFT JOIN LATERAL (
    SELECT l.partner_id FROM deals_orderline l
    WHERE l.customer_id = d.customer_id AND l.partner_id IS NOT NULL AND l.net_amount > 0
      AND l.booked_on <= d.booked_on
      AND l.booked_on > (d.booked_on - make_interval(months => %(lock_months)s))::date
    ORDER BY l.booked_on DESC, l.order_id DESC, l.id DESC LIMIT 1
) lock ON true
LEFT JOIN LATERAL (
    SELECT r.id, r.partner_id FROM deals_registration r
    WHERE r.customer_id = d.customer_id AND r.status = 'approved'
      AND r.approved_on <= d.booked_on AND r.protection_ends_on >= d.booked_on
      AND EXISTS (SELECT 1 FROM deals_registrationline rl
                  WHERE rl.registration_id = r.id AND rl.product_line = ANY (d.product_lines))
    ORDER BY r.approved_on, r.id LIMIT 1
) reg ON true
"""

STATEMENTS = """
INSERT INTO rebates_statement
    (number, partner_id, quarter, status, issued_on, total, line_count, paid_on, payment_reference, created_at)
SELECT 'RS-' || %(quarter)s || '-' || p.code, p.id, %(quarter)s, 'issued', %(as_of)s, 0, 0, NULL, '', now()
FROM partners_partner p
WHERE EXISTS (SELECT 1 FROM deals_orderline l
              WHERE l.partner_id = p.id AND l.booked_on BETWEEN %(quarter_start)s AND %(quarter_end)s)
"""

# Every component of every line of the quarter in one pass: tiers and attestations joined on ranges, the
# new-business look-back as an anti-join on the (customer, product line, booked on) index, blended from one
# window over (partner, customer), the uplift from a GROUP BY of the line's other components. Credits are priced
# as ordinary lines here (the job prices them from the credited line): the same amount of work.
REBATE_LINES = """
WITH tier_ranges AS (
    SELECT h.partner_id, h.to_tier_id AS tier_id, h.effective_on AS starts_on,
           LEAD(h.effective_on) OVER (PARTITION BY h.partner_id ORDER BY h.effective_on, h.id) AS ends_on
    FROM partners_tierhistory h
), lines AS (
    SELECT l.id, l.partner_id, l.customer_id, l.product_line, l.net_amount, l.booked_on, l.service_delivery,
           l.registration_id, t.tier_id,
           bool_or(l.product_line = 'server' AND l.net_amount > 0) OVER customer
               AND bool_or(l.product_line = 'storage' AND l.net_amount > 0) OVER customer AS blended
    FROM deals_orderline l
    JOIN tier_ranges t ON t.partner_id = l.partner_id AND t.starts_on <= l.booked_on
                      AND (t.ends_on IS NULL OR l.booked_on < t.ends_on)
    WHERE l.partner_id IS NOT NULL AND l.booked_on BETWEEN %(quarter_start)s AND %(quarter_end)s
      AND l.booked_on >= %(program_start)s
    WINDOW customer AS (PARTITION BY l.partner_id, l.customer_id)
), rates AS (
    SELECT component, rate FROM rebates_componentrate
    WHERE valid_from <= %(quarter_start)s AND (valid_until IS NULL OR valid_until > %(quarter_end)s)
), priced AS (
    SELECT l.id, l.partner_id, l.tier_id, l.net_amount, l.booked_on,
           br.rate AS base_rate,
           CASE WHEN l.product_line IN ('server', 'storage') AND NOT EXISTS (
                    SELECT 1 FROM deals_orderline e
                    WHERE e.customer_id = l.customer_id AND e.product_line = l.product_line AND e.net_amount > 0
                      AND e.booked_on < l.booked_on
                      AND e.booked_on >= (l.booked_on - make_interval(months => %(lookback_months)s))::date)
                THEN (SELECT rate FROM rates WHERE component = 'new_business') END AS new_business_rate,
           CASE WHEN r.status = 'won' THEN (SELECT rate FROM rates WHERE component = 'deal_registration') END
               AS deal_registration_rate,
           CASE WHEN l.product_line IN ('server', 'storage') AND l.blended
                THEN (SELECT rate FROM rates WHERE component = 'blended') END AS blended_rate,
           CASE WHEN l.product_line = 'services' AND (l.service_delivery = 'resold' OR EXISTS (
                    SELECT 1 FROM partners_certificationrecord cr
                    JOIN partners_person pe ON pe.id = cr.person_id
                    WHERE pe.partner_id = l.partner_id AND cr.certification_id = %(delivery_certification)s
                      AND cr.status = 'verified' AND cr.earned_on <= l.booked_on AND cr.expires_on > l.booked_on))
                THEN (SELECT rate FROM rates WHERE component = 'services') END AS services_rate
    FROM lines l
    JOIN rebates_baserate br ON br.tier_id = l.tier_id AND br.product_line = l.product_line
         AND br.valid_from <= l.booked_on AND (br.valid_until IS NULL OR br.valid_until > l.booked_on)
    LEFT JOIN deals_registration r ON r.id = l.registration_id
), components AS (
    SELECT p.id, p.partner_id, p.tier_id, p.net_amount, p.booked_on, c.component, c.rate,
           round(p.net_amount * c.rate / 100, 2) AS amount
    FROM priced p
    CROSS JOIN LATERAL (VALUES ('base', p.base_rate), ('new_business', p.new_business_rate),
                               ('deal_registration', p.deal_registration_rate), ('blended', p.blended_rate),
                               ('services', p.services_rate)) AS c(component, rate)
    WHERE c.rate IS NOT NULL AND c.rate > 0
), uplift AS (
    SELECT c.id, c.partner_id, c.tier_id, c.net_amount, 'exclusivity_uplift' AS component,
           (SELECT rate FROM rates WHERE component = 'exclusivity_uplift') AS rate,
           round(SUM(c.amount) * (SELECT rate FROM rates WHERE component = 'exclusivity_uplift') / 100, 2) AS amount
    FROM components c
    JOIN partners_dellonlyattestation a ON a.partner_id = c.partner_id AND a.starts_on <= c.booked_on
                                       AND (a.ends_on IS NULL OR a.ends_on > c.booked_on)
    GROUP BY c.id, c.partner_id, c.tier_id, c.net_amount
), everything AS (
    SELECT id, partner_id, tier_id, net_amount, component, rate, amount FROM components
    UNION ALL
    SELECT id, partner_id, tier_id, net_amount, component, rate, amount FROM uplift
)
INSERT INTO rebates_rebateline (statement_id, order_line_id, component, tier_id, net_amount, rate, amount,
                                is_adjustment)
SELECT s.id, e.id, e.component, e.tier_id, e.net_amount, e.rate, e.amount, false
FROM everything e JOIN rebates_statement s ON s.partner_id = e.partner_id AND s.quarter = %(quarter)s
"""

# The statements were inserted in the same transaction: without statistics the planner would loop over them.
ANALYZE_STATEMENTS = "ANALYZE rebates_statement"

STATEMENT_TOTALS = """
UPDATE rebates_statement s SET total = x.total, line_count = x.lines
FROM (SELECT statement_id, SUM(amount) AS total, COUNT(*) AS lines FROM rebates_rebateline
      GROUP BY statement_id) x
WHERE x.statement_id = s.id AND s.quarter = %(quarter)s
"""

EXPORT = """
COPY (
    SELECT s.number, p.code, o.number, l.line_number, l.product_line, l.booked_on, rl.net_amount, rl.component,
           rl.rate, rl.amount
    FROM rebates_rebateline rl
    JOIN rebates_statement s ON s.id = rl.statement_id
    JOIN partners_partner p ON p.id = s.partner_id
    JOIN deals_orderline l ON l.id = rl.order_line_id
    JOIN deals_order o ON o.id = l.order_id
    WHERE s.quarter = %(quarter)s
    ORDER BY s.number, o.number, l.line_number, rl.component
) TO STDOUT WITH (FORMAT csv, HEADER)
"""

STATEMENT_LINES = """
COPY (
    SELECT s.number, o.number, l.line_number, l.product_line, l.booked_on, rl.net_amount, rl.component, rl.rate,
           rl.amount
    FROM rebates_rebateline rl
    JOIN rebates_statement s ON s.id = rl.statement_id
    JOIN deals_orderline l ON l.id = rl.order_line_id
    JOIN deals_order o ON o.id = l.order_id
    WHERE rl.statement_id = %(statement_id)s
    ORDER BY o.number, l.line_number, rl.component
) TO STDOUT WITH (FORMAT csv, HEADER)
"""

ACCRUAL = """
WITH tier_ranges AS (
    SELECT h.partner_id, h.to_tier_id AS tier_id, h.effective_on AS starts_on,
           LEAD(h.effective_on) OVER (PARTITION BY h.partner_id ORDER BY h.effective_on, h.id) AS ends_on
    FROM partners_tierhistory h WHERE h.partner_id = %(partner_id)s
)
SELECT l.product_line, SUM(round(l.net_amount * br.rate / 100, 2)), COUNT(*)
FROM deals_orderline l
JOIN tier_ranges t ON t.starts_on <= l.booked_on AND (t.ends_on IS NULL OR l.booked_on < t.ends_on)
JOIN rebates_baserate br ON br.tier_id = t.tier_id AND br.product_line = l.product_line
                        AND br.valid_from <= l.booked_on AND (br.valid_until IS NULL OR br.valid_until > l.booked_on)
WHERE l.partner_id = %(partner_id)s AND l.booked_on BETWEEN %(quarter_start)s AND %(as_of)s
  AND NOT EXISTS (SELECT 1 FROM rebates_rebateline rl WHERE rl.order_line_id = l.id)
GROUP BY l.product_line
"""


def timed(connection, statements: list[tuple[str, dict]], *, rollback: bool) -> tuple[float, list[int]]:
    """Run ``statements`` in one transaction (rolled back if ``rollback``); return the seconds and the rows each
    statement returned or wrote."""
    rows = []
    with connection.cursor() as cursor:
        cursor.execute(CHECKED)  # the foreign keys checked as the job's commit checks them (module docstring)
        started = time.perf_counter()
        for sql, params in statements:
            cursor.execute(sql, params)
            rows.append(cursor.rowcount if cursor.description is None else len(cursor.fetchall()))
        seconds = time.perf_counter() - started
    if rollback:
        connection.rollback()
    else:
        connection.commit()
    return seconds, rows


def copy_out(connection, sql: str, params: dict) -> tuple[float, int]:
    """Time a ``COPY … TO STDOUT`` read to the end; return (seconds, bytes)."""
    size = 0
    with connection.cursor() as cursor:
        started = time.perf_counter()
        with cursor.copy(sql, params) as copy:
            for chunk in copy:
                size += len(chunk)
        seconds = time.perf_counter() - started
    connection.rollback()
    return seconds, size
