"""The tier engine (DESIGN §3): set-based figures, the evaluation on a date, the nightly job, Titanium Black expiry.

Reads are a fixed number of queries whatever the number of partners (one ``SUM … GROUP BY`` over the order
lines of the window, one count over the active certification records, one over the attestations); the rules
themselves live in ``partners.calculations``. Writes are bulk operations.
"""

import gc
import json
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from deals.models import OrderLine
from portal.bulkcopy import copy_create, staging_table
from portal.chunks import ChunkedJob, chunk_ranges, chunked_run, in_range
from portal.fiscal import add_months, fiscal_year_of, fiscal_year_start
from portal.jobs import exclusive, job_run_once
from portal.models import JobRun, Program
from portal.money import round_money

from .. import calculations as calc
from ..models import (
    Certification,
    CertificationRecord,
    DellOnlyAttestation,
    Partner,
    Tier,
    TierHistory,
    TierRequirement,
    TitaniumBlackAward,
    Zone,
    ZoneCountry,
)
from ..selectors import tier_ids_on, tier_ids_on_day, tiers_by_code
from .notifications import email_at_risk, email_tier_changes

RECOMPUTE_JOB = "tiers.recompute"
EXPIRE_JOB = "tiers.titanium_black_expire"

# --------------------------------------------------------------------------------------------------------------
# Figures, for every partner at once


def tier_window_start(as_of: date, program: Program) -> date:
    """Return the exclusive start of the revenue window: ``start < booked_on <= as_of``."""
    return add_months(as_of, -program.tier_window_months)


def _partner_lookups(field: str, partner_ids, id_range) -> dict:
    """The filter of a grouped read on ``field`` (a partner id): ``id_range`` (lo, hi), inclusive, when given,
    else ``partner_ids`` (``None``: every partner).

    A chunk passes its range as well as its ids: the read then sends two bounds, not thousands of ids, and the
    few rows of partners of the range that are not in the chunk (inactive ones) are read and ignored.
    """
    if id_range is not None:
        lo, hi = id_range
        return {
            **({f"{field}__gte": lo} if lo is not None else {}),
            **({f"{field}__lte": hi} if hi is not None else {}),
        }
    if partner_ids is not None:
        return {f"{field}__in": partner_ids}
    return {}


def tier_raw_figures(*, as_of: date, program: Program, partner_ids=None, id_range=None) -> dict[int, calc.TierFigures]:
    """Return each partner's figures on ``as_of`` before 1.25X, in two grouped queries.

    ``id_range`` (lo, hi): read every partner of that id range instead (it holds ``partner_ids``); the
    answer may then have partners not asked for.

    Revenue: the net amounts of the order lines counting for a partner (its channel orders and the routed
    orders it accepted: both carry ``OrderLine.partner``), credits included, booked in the window.
    People: distinct persons with an active record; competencies: distinct product lines of the active
    technical and services-delivery records.
    """
    lines = OrderLine.objects.filter(
        partner__isnull=False, booked_on__gt=tier_window_start(as_of, program), booked_on__lte=as_of
    )
    records = CertificationRecord.objects.active_on(as_of)
    lines = lines.filter(**_partner_lookups("partner_id", partner_ids, id_range))
    records = records.filter(**_partner_lookups("person__partner_id", partner_ids, id_range))
    revenue = lines.values("partner_id").annotate(
        revenue=Sum("net_amount"), services=Sum("net_amount", filter=Q(product_line="services"))
    )
    people = records.values(partner_id=F("person__partner_id")).annotate(
        people=Count("person_id", distinct=True),
        competencies=Count(
            "certification__product_line",
            distinct=True,
            filter=Q(certification__track__in=Certification.COMPETENCY_TRACKS),
        ),
    )
    figures: dict[int, dict] = defaultdict(dict)
    for row in revenue:
        figures[row["partner_id"]]["qualifying_revenue"] = round_money(Decimal(row["revenue"] or 0))
        figures[row["partner_id"]]["services_revenue"] = round_money(Decimal(row["services"] or 0))
    for row in people:
        figures[row["partner_id"]]["certified_people"] = row["people"]
        figures[row["partner_id"]]["competencies"] = row["competencies"]
    return {partner_id: calc.TierFigures(**values) for partner_id, values in figures.items()}


def attested_partner_ids(as_of: date, partner_ids=None, id_range=None) -> set[int]:
    """The partners (of ``partner_ids``, of ``id_range``, or all) with a Dell-only attestation active on
    ``as_of``: one query."""
    attestations = DellOnlyAttestation.objects.active_on(as_of)
    attestations = attestations.filter(**_partner_lookups("partner_id", partner_ids, id_range))
    return set(attestations.values_list("partner_id", flat=True))


def _requirement_paths() -> tuple[dict[str, int], int | None, dict[int, list[calc.RequirementPath]], dict[int, str]]:
    """Return (country → zone id, default zone id, zone id → paths, zone id → zone code), in three queries."""
    by_zone: dict[int, list[calc.RequirementPath]] = defaultdict(list)
    for requirement in TierRequirement.objects.select_related("tier").filter(tier__is_overlay=False):
        by_zone[requirement.zone_id].append(
            calc.RequirementPath(
                tier=requirement.tier.code,
                path=requirement.path,
                min_revenue=requirement.min_revenue,
                min_services_revenue=requirement.min_services_revenue,
                min_certified_people=requirement.min_certified_people,
                min_competencies=requirement.min_competencies,
            )
        )
    zones = list(Zone.objects.all())
    default_zone_id = next((zone.pk for zone in zones if zone.is_default), None)
    countries = dict(ZoneCountry.objects.values_list("country", "zone_id"))
    return countries, default_zone_id, by_zone, {zone.pk: zone.code for zone in zones}


class PartnerRow(NamedTuple):
    """What an evaluation reads of a partner, as plain values: the nightly job reads 5,000 of them, and a model
    instance each cost more than the rules it is evaluated by."""

    pk: int
    code: str
    name: str
    country: str
    tier_id: int | None
    computed_tier_id: int | None
    at_risk: bool
    at_risk_reason: str
    at_risk_details: dict
    evaluated_on: date | None
    joined_on: date | None

    def join_date(self, program_start: date) -> date:
        """``Partner.join_date``: ``joined_on``, or the program start when blank (DESIGN §3)."""
        return self.joined_on or program_start


@dataclass
class TierEvaluation:
    """One partner evaluated on one date (read only): what export, pages and the nightly job share."""

    partner: PartnerRow
    as_of: date
    tier: str  # effective tier on ``as_of`` (from the history), ``titanium_black`` included
    tier_id: int | None
    zone: str
    raw: calc.TierFigures
    figures: calc.TierFigures  # 1.25X applied when attested
    attested: bool
    multiplier: Decimal
    computation: calc.TierComputation
    joined_on: date  # the day it joined the program (its status match is effective then)
    requirements: list[calc.RequirementPath] = field(default_factory=list)

    @property
    def review_on(self) -> date:
        """The next annual review that can change this partner's tier downwards."""
        return calc.annual_review_date(self.as_of, self.joined_on)

    @property
    def computed_tier(self) -> str:
        return self.computation.tier

    @property
    def at_risk(self) -> bool:
        """Mid-year view: the computed tier is below the effective tier."""
        return self.computation.is_below(self.tier)

    def figures_json(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "zone": self.zone,
            **self.figures.as_json(),
            "raw_qualifying_revenue": str(self.raw.qualifying_revenue),
            "raw_services_revenue": str(self.raw.services_revenue),
            "multiplier": str(self.multiplier) if self.attested else None,
            "computed_tier": self.computed_tier,
        }


def tier_evaluations(*, as_of: date, partner_ids=None, active_only: bool = True, id_range=None) -> list[TierEvaluation]:
    """Evaluate partners on ``as_of`` without writing anything, in a fixed number of queries.

    ``id_range`` (lo, hi), inclusive, holding every one of ``partner_ids`` (a chunk's): the figures, the history
    and the attestations are read for the range, without sending the ids; the result is the same.
    """
    program = Program.current()
    all_tiers = list(tiers_by_code().values())
    tiers = {tier.pk: tier.code for tier in all_tiers}
    ranks = {tier.code: tier.rank for tier in all_tiers if not tier.is_overlay}  # the order staff keep
    partners = Partner.objects.all()
    if active_only:
        partners = partners.filter(active=True)
    if partner_ids is not None:
        partner_ids = list(partner_ids)
        if id_range is None:
            partners = partners.filter(pk__in=partner_ids)
        else:  # two bounds, not thousands of ids; the range's others dropped below
            partners = partners.filter(**_partner_lookups("pk", None, id_range))
    partners = [PartnerRow(*row) for row in partners.order_by("code").values_list(*PartnerRow._fields)]
    if partner_ids is not None and id_range is not None:
        wanted = set(partner_ids)
        partners = [partner for partner in partners if partner.pk in wanted]
    authorized_id = next(pk for pk, code in tiers.items() if code == Tier.AUTHORIZED)
    # Every partner at once (the nightly run): one windowed query over the history, no list of 5,000 ids.
    read_ids = partner_ids if id_range is None else None
    on_day = tier_ids_on_day(as_of, partner_ids=read_ids, authorized_id=authorized_id, id_range=id_range)
    day_tiers = {(partner.pk, as_of): on_day.get(partner.pk, authorized_id) for partner in partners}
    raw = tier_raw_figures(as_of=as_of, program=program, partner_ids=read_ids, id_range=id_range)
    attested = attested_partner_ids(as_of, read_ids, id_range)
    countries, default_zone_id, paths, zone_codes = _requirement_paths()
    evaluations = []
    for partner in partners:
        zone_id = countries.get(partner.country, default_zone_id)
        partner_raw = raw.get(partner.pk, calc.TierFigures())
        is_attested = partner.pk in attested
        figures = calc.figures_for_evaluation(
            partner_raw, attested=is_attested, multiplier=program.exclusivity_multiplier
        )
        requirements = paths.get(zone_id, [])
        evaluations.append(
            TierEvaluation(
                partner=partner,
                as_of=as_of,
                tier=tiers[day_tiers[partner.pk, as_of]],
                tier_id=day_tiers[partner.pk, as_of],
                zone=zone_codes.get(zone_id, ""),
                raw=partner_raw,
                figures=figures,
                attested=is_attested,
                multiplier=program.exclusivity_multiplier,
                joined_on=partner.join_date(program.start_date),
                computation=calc.compute_tier(figures, requirements, ranks=ranks),
                requirements=requirements,
            )
        )
    return evaluations


# --------------------------------------------------------------------------------------------------------------
# The evaluation: decide and write


def _evaluated_earlier_this_year(as_of: date) -> bool:
    """Did a nightly evaluation already run this program year before ``as_of``?"""
    year_start = fiscal_year_start(fiscal_year_of(as_of))
    return JobRun.objects.filter(
        name=RECOMPUTE_JOB,
        period__gte=year_start.isoformat(),
        period__lt=as_of.isoformat(),
        finished_at__isnull=False,
    ).exists()


@transaction.atomic
def tier_evaluate(*, as_of: date, partner_ids=None, changed_by=None) -> dict:
    """Evaluate the active partners (or ``partner_ids``) on ``as_of``: write changes, flags and emails.

    Idempotent: the tier each decision starts from is the effective tier on ``as_of``, which already
    includes a change this evaluation wrote before, so a re-run decides "no change" and writes nothing.
    """
    exclusive("tiers.evaluate")  # two evaluations at once would both write the same change
    titanium_black_expire(as_of=as_of)
    return _evaluate(as_of=as_of, partner_ids=partner_ids, changed_by=changed_by)


@contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector: an evaluation allocates ~100,000 objects a chunk (rows, figures,
    decisions, email contexts), which set off full collections of the whole process's heap — 0.08-0.19 s of a
    0.9 s night on the bench copy. What it allocates is freed by reference counting; cycles wait until after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _evaluate(*, as_of: date, partner_ids, changed_by, id_range=None) -> dict:
    with _collector_paused():
        return _evaluate_partners(as_of=as_of, partner_ids=partner_ids, changed_by=changed_by, id_range=id_range)


def _evaluate_partners(*, as_of: date, partner_ids, changed_by, id_range) -> dict:
    tier_of_code = tiers_by_code()
    evaluations = tier_evaluations(as_of=as_of, partner_ids=partner_ids, id_range=id_range)
    year_start = fiscal_year_start(fiscal_year_of(as_of))
    ran_this_year = _evaluated_earlier_this_year(as_of)

    history: list[TierHistory] = []
    updates: list[tuple] = []
    evaluated_ids: list[int] = []
    lost_black: list[int] = []
    at_risk_news: list[tuple[TierEvaluation, calc.TierDecision]] = []
    at_risk_count = 0
    for evaluation in evaluations:
        partner = evaluation.partner
        if evaluation.joined_on > as_of:
            continue  # not a partner of the program yet: its status match takes effect on the day it joins
        earlier = ran_this_year or (partner.evaluated_on is not None and year_start <= partner.evaluated_on < as_of)
        decision = calc.decide_tier(
            current=evaluation.tier,
            computed=evaluation.computation,
            on=as_of,
            annual_review=calc.is_annual_review(
                on=as_of, joined_on=evaluation.joined_on, previous_evaluation_this_year=earlier
            ),
            review_on=evaluation.review_on,
        )
        new_tier = tier_of_code[decision.tier]
        computed_tier = tier_of_code[evaluation.computed_tier]
        if decision.changed:
            history.append(
                TierHistory(
                    partner_id=partner.pk,
                    from_tier_id=evaluation.tier_id,
                    to_tier=new_tier,
                    effective_on=as_of,
                    reason=decision.reason,
                    figures=evaluation.figures_json(),
                    changed_by=changed_by,
                )
            )
        at_risk_count += decision.at_risk
        if decision.loses_titanium_black:
            lost_black.append(partner.pk)
        if decision.at_risk and not (partner.at_risk and partner.computed_tier_id == computed_tier.pk):
            at_risk_news.append((evaluation, decision))
        if partner.evaluated_on is not None and partner.evaluated_on > as_of:
            continue  # a replay of an earlier date: the pages keep the later evaluation's state
        evaluated_ids.append(partner.pk)
        state = (new_tier.pk, computed_tier.pk, decision.at_risk, decision.at_risk_reason, decision.at_risk_details)
        stored = (partner.tier_id, partner.computed_tier_id, partner.at_risk, partner.at_risk_reason)
        if state != (*stored, partner.at_risk_details):
            updates.append((partner.pk, *state))

    copy_create(TierHistory, history)  # by COPY: a bulk insert's statement is split and bound client-side
    _partner_states_write(updates, evaluated_on=as_of)
    # The partners whose state did not change: their stamp alone (the others got it with their state, so each row
    # is written once; a row written twice also writes each of its indexes twice, the name's trigrams included).
    evaluated = Partner.objects.filter(Q(evaluated_on__isnull=True) | Q(evaluated_on__lt=as_of))
    joined = Q(joined_on__isnull=True) | Q(joined_on__lte=as_of)
    if partner_ids is None:
        evaluated.filter(joined, active=True).update(evaluated_on=as_of)  # every partner just evaluated, one UPDATE
    elif id_range is not None:  # a chunk: its partners are the active ones of its range (locked), two bounds
        evaluated.filter(joined, active=True, **_partner_lookups("pk", None, id_range)).update(evaluated_on=as_of)
    else:
        evaluated.filter(pk__in=evaluated_ids).update(evaluated_on=as_of)
    if lost_black:
        TitaniumBlackAward.objects.filter(
            partner_id__in=lost_black, ended_on__isnull=True, awarded_on__lte=as_of, ends_on__gt=as_of
        ).update(ended_on=as_of, end_reason=TierHistory.Reason.ANNUAL_REVIEW)
    email_tier_changes(history)
    email_at_risk(at_risk_news, tier_of_code)
    return {
        "as_of": as_of.isoformat(),
        "evaluated": len(evaluations),
        "changes": len(history),
        "at_risk": at_risk_count,
        "titanium_black_lost": len(lost_black),
    }


def _partner_states_write(rows: list[tuple[int, int, int, bool, str, dict]], *, evaluated_on: date) -> None:
    """Set (tier, computed tier, at risk, reason and its details) of many partners, and their ``evaluated_on``.

    On PostgreSQL the rows are copied into a temporary table joined by one ``UPDATE … FROM``; on SQLite (3.33+) one
    ``UPDATE … FROM (VALUES …)`` per 1,000; elsewhere ``bulk_update``. Django's ``bulk_update`` builds a ``CASE``
    per field and row in Python, which dominated the nightly job on the first evaluation of thousands of partners,
    and a ``VALUES`` list of 2,300 rows is 14,000 placeholders that psycopg splits and binds client-side (on the
    bench copy 0.03-0.06 s of CPU, against 0.01 s for the ``COPY``).
    """
    if not rows:
        return
    rows = [(*row[:5], json.dumps(row[5], sort_keys=True)) for row in rows]
    if connection.vendor == "postgresql":
        _partner_states_copy(rows, evaluated_on)
    elif connection.vendor == "sqlite":
        _partner_states_values(rows, evaluated_on)
    else:
        partners = [
            Partner(
                pk=pk,
                tier_id=t,
                computed_tier_id=c,
                at_risk=r,
                at_risk_reason=why,
                at_risk_details=json.loads(details),
                evaluated_on=evaluated_on,
            )
            for pk, t, c, r, why, details in rows
        ]
        fields = ["tier", "computed_tier", "at_risk", "at_risk_reason", "at_risk_details", "evaluated_on"]
        Partner.objects.bulk_update(partners, fields, batch_size=500)


# Only the model's table name is interpolated into these statements; every value is copied or a parameter.
_STATES_SET = (
    "tier_id = v.tier_id, computed_tier_id = v.computed_tier_id, at_risk = v.at_risk, "
    "at_risk_reason = v.at_risk_reason, at_risk_details = v.at_risk_details, evaluated_on = %s"
)


_STATES_COLUMNS = ["id", "tier_id", "computed_tier_id", "at_risk", "at_risk_reason", "at_risk_details"]


def _partner_states_copy(rows: list[tuple], evaluated_on: date) -> None:
    table = connection.ops.quote_name(Partner._meta.db_table)
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        staging_table(cursor, "partner_states", Partner, _STATES_COLUMNS, rows),
    ):
        update = f"UPDATE {table} AS p SET {_STATES_SET} FROM partner_states AS v WHERE p.id = v.id"  # noqa: S608
        cursor.execute(update, [evaluated_on])


def _partner_states_values(rows: list[tuple], evaluated_on: date) -> None:
    table = connection.ops.quote_name(Partner._meta.db_table)
    stamp = connection.ops.adapt_datefield_value(evaluated_on)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            batch = rows[start : start + 1000]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(batch))
            sql = (
                f"UPDATE {table} AS p SET {_STATES_SET} "  # noqa: S608
                f"FROM (SELECT column1 AS id, column2 AS tier_id, column3 AS computed_tier_id, column4 AS at_risk, "
                f"column5 AS at_risk_reason, column6 AS at_risk_details FROM (VALUES {values})) AS v WHERE p.id = v.id"
            )
            cursor.execute(sql, [stamp, *(value for row in batch for value in row)])


def tier_recompute_all(*, as_of: date, force: bool = False, dispatch: bool = False) -> dict | None:
    """Run the nightly evaluation of every active partner on ``as_of``, once per date, in partner-range chunks
    (``portal.chunks``): here, or (``dispatch``) spread over the workers.

    Return the summary, or ``None`` when that date was already evaluated (``force=True`` re-runs it; the
    result is the same, and no duplicate history row is written). Each partner's evaluation reads only its
    own data, so chunks give the result of one process.
    """
    return chunked_run(TIER_RECOMPUTE, as_of.isoformat(), {"as_of": as_of.isoformat()}, dispatch=dispatch, force=force)


SUMMED = ("evaluated", "changes", "at_risk", "titanium_black_lost")


def _recompute_plan(params: dict) -> list[dict]:
    exclusive("tiers.evaluate")
    titanium_black_expire(as_of=date.fromisoformat(params["as_of"]))  # once, before any partner is evaluated
    weights = [(pk, 1) for pk in Partner.objects.filter(active=True).values_list("pk", flat=True)]
    return chunk_ranges(weights, max_items=settings.TIERS_CHUNK_PARTNERS, max_weight=settings.TIERS_CHUNK_PARTNERS)


def _recompute_chunk(params: dict, chunk: dict) -> dict:
    # Chunks share the lock (their partners differ); an evaluation of chosen partners waits for the chunks running.
    # A chunk holds its partners' rows, taken in id order: a run of another day (a replay, a re-run) overlapping
    # this one evaluates them after this chunk commits, and sees what it wrote (no change written twice).
    exclusive("tiers.evaluate", shared=True)
    partners = Partner.objects.select_for_update(no_key=True).filter(active=True, **in_range(chunk["lo"], chunk["hi"]))
    ids = list(partners.order_by("pk").values_list("pk", flat=True))
    if not ids:
        return dict.fromkeys(SUMMED, 0)
    return _evaluate(
        as_of=date.fromisoformat(params["as_of"]), partner_ids=ids, changed_by=None, id_range=(ids[0], ids[-1])
    )


def _recompute_finish(params: dict, results: list[dict]) -> dict:
    return {"as_of": params["as_of"], **{key: sum(result.get(key, 0) for result in results) for key in SUMMED}}


TIER_RECOMPUTE = ChunkedJob(
    name=RECOMPUTE_JOB,
    path="partners.tiers.engine.TIER_RECOMPUTE",
    plan=_recompute_plan,
    chunk=_recompute_chunk,
    finish=_recompute_finish,
)


def partner_tier_cache_refresh(partner_ids) -> None:
    """Refresh the ``Partner.tier`` display cache: each partner's tier today, by the one tier-on-a-date rule."""
    today = timezone.localdate()
    tiers = tier_ids_on((partner_id, today) for partner_id in partner_ids)
    Partner.objects.bulk_update(
        [Partner(pk=partner_id, tier_id=tier_id) for (partner_id, _day), tier_id in tiers.items()], ["tier"]
    )


def titanium_black_expire(*, as_of: date) -> int:
    """End every award whose year is over on ``as_of``: back to Titanium, effective on the award's end date."""
    due = list(
        TitaniumBlackAward.objects.select_for_update()
        .filter(ended_on__isnull=True, ends_on__lte=as_of)
        .values_list("pk", "partner_id", "ends_on")
    )
    if not due:
        return 0
    tiers = {tier.code: tier for tier in Tier.objects.filter(code__in=[Tier.TITANIUM, Tier.TITANIUM_BLACK])}
    TierHistory.objects.bulk_create(
        TierHistory(
            partner_id=partner_id,
            from_tier=tiers[Tier.TITANIUM_BLACK],
            to_tier=tiers[Tier.TITANIUM],
            effective_on=ends_on,
            reason=TierHistory.Reason.TITANIUM_BLACK_EXPIRY,
            figures={"award_id": award_id},
        )
        for award_id, partner_id, ends_on in due
    )
    TitaniumBlackAward.objects.filter(pk__in=[award_id for award_id, _p, _e in due]).update(
        ended_on=F("ends_on"), end_reason=TierHistory.Reason.TITANIUM_BLACK_EXPIRY
    )
    partner_tier_cache_refresh({partner_id for _a, partner_id, _e in due})
    return len(due)


def titanium_black_expire_due(*, as_of: date, force: bool = False) -> dict | None:
    """Expire the Titanium Black awards due on ``as_of``, once per date (the nightly job)."""
    return job_run_once(
        EXPIRE_JOB, as_of.isoformat(), lambda: {"expired": titanium_black_expire(as_of=as_of)}, force=force
    )
