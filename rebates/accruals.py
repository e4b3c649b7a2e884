"""The open quarter's accrual per partner, stored: computed by the close's own code, read as one row.

A dashboard view reads ``RebateAccrual`` for (partner, open quarter) and checks its ``stamp`` against a digest of
every input the close would read (``accrual_stamps``: a fixed number of small queries, none over the partner's
lines' customers). Equal: the stored figure is the figure. Different: the inputs changed since — when an import
has queued a refresh, the stored figure is shown "as of" when it was computed; otherwise it is computed now
(``accruals_refresh``) and stored. After each import commits, ``accruals_refresh_stored`` recomputes every stored
accrual of the open quarter in chunks of partners, one rebate query per chunk.

What the stamp covers, and why that is everything the close reads for a partner's lines:
- the whole ``deals_orderline`` table's last id: new business looks at any channel's lines of the
  line's customer, so any booked line may change any partner's figure (order lines are only ever inserted);
- the partner's own lines (count, ids, registration links): a routed order accepted, a line linked to a won
  registration;
- the partner's won registrations, statements (a close puts lines on statements), tier history, Dell-only
  attestations and services-delivery certification records, each row's deciding fields;
- every base and component rate row, the program's start and look-back; the day (``as_of``).
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Max, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from deals import compliance
from deals.models import OrderLine, Registration
from partners.models import CertificationRecord, DellOnlyAttestation, TierHistory
from portal.fiscal import Quarter
from portal.models import Program
from portal.money import ZERO

from . import calculations as calc
from . import generator
from .models import COMPONENT_ORDER, BaseRate, ComponentRate, RebateAccrual, Statement

REFRESH_TASK = "rebates.tasks.accruals_refresh"
REFRESH_CHUNK = 50  # partners per rebate query
# A refresh queued longer ago than this is presumed lost (a worker down): the figure is computed on demand again.
REFRESH_PATIENCE_SECONDS = 15 * 60


@dataclass
class Accrual:
    quarter: Quarter
    as_of: date
    total: Decimal
    by_component: dict[str, Decimal]
    lines: int
    computed_at: datetime | None = None
    current: bool = True  # False: the inputs changed since ``computed_at`` and a refresh is queued


def _digest(*parts) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def accrual_stamps(*, partner_ids: list[int], quarter: Quarter, as_of: date) -> dict[int, str]:
    """A digest of every input of each partner's accrual on ``as_of`` (see the module docstring)."""
    program = Program.current()
    shared = (
        str(quarter),
        as_of.isoformat(),
        program.start_date.isoformat(),
        program.new_business_lookback_months,
        # The last id only (an index read): a count of the whole table would grow with it. Lines are only ever
        # inserted (booked orders are never edited nor deleted: corrections are credits).
        OrderLine.objects.aggregate(last=Max("id"))["last"],
        tuple(
            BaseRate.objects.order_by("pk").values_list(
                "pk", "tier_id", "product_line", "rate", "valid_from", "valid_until"
            )
        ),  # fmt: skip
        tuple(ComponentRate.objects.order_by("pk").values_list("pk", "component", "rate", "valid_from", "valid_until")),
    )
    facts: dict[int, list] = defaultdict(list)
    for row in (
        OrderLine.objects.filter(partner_id__in=partner_ids)
        .values("partner_id")
        .annotate(lines=Count("id"), ids=Sum("id"), registrations=Coalesce(Sum("registration_id"), 0))
        .order_by()
    ):
        facts[row["partner_id"]].append(("lines", row["lines"], row["ids"], row["registrations"]))
    for row in (
        Registration.objects.filter(partner_id__in=partner_ids, status=Registration.Status.WON)
        .values("partner_id")
        .annotate(won=Count("id"), ids=Sum("id"))
        .order_by()
    ):
        facts[row["partner_id"]].append(("won", row["won"], row["ids"]))
    for row in (
        Statement.objects.filter(partner_id__in=partner_ids)
        .values("partner_id")
        .annotate(statements=Count("id"), last=Max("id"))
        .order_by()
    ):
        facts[row["partner_id"]].append(("statements", row["statements"], row["last"]))
    for partner_id, *row in (
        TierHistory.objects.filter(partner_id__in=partner_ids)
        .order_by("pk")
        .values_list("partner_id", "pk", "to_tier_id", "effective_on")
    ):
        facts[partner_id].append(("tier", *row))
    for partner_id, *row in (
        DellOnlyAttestation.objects.filter(partner_id__in=partner_ids)
        .order_by("pk")
        .values_list("partner_id", "pk", "starts_on", "ends_on")
    ):
        facts[partner_id].append(("attestation", *row))
    for partner_id, *row in (
        CertificationRecord.objects.filter(
            person__partner_id__in=partner_ids, certification__track=compliance.DELIVERY_TRACK
        )
        .order_by("pk")
        .values_list("person__partner_id", "pk", "status", "earned_on", "expires_on", "certification__track")
    ):
        facts[partner_id].append(("certification", *row))
    return {partner_id: _digest(shared, partner_id, facts.get(partner_id, [])) for partner_id in partner_ids}


def _stored(row: RebateAccrual, *, current: bool) -> Accrual:
    return Accrual(
        quarter=Quarter.parse(row.quarter),
        as_of=row.as_of,
        total=row.total,
        by_component={component: Decimal(amount) for component, amount in row.by_component.items()},
        lines=row.lines,
        computed_at=row.computed_at,
        current=current,
    )


def accruals_refresh(*, partner_ids: list[int], as_of: date) -> dict[int, Accrual]:
    """Compute and store the accrual of ``partner_ids`` on ``as_of`` by the close's own rows; return them.

    The stamps are taken before the rows are read: an input changed meanwhile leaves an older stamp, so the
    next read computes again rather than show a figure as current that is not.
    """
    quarter = Quarter.containing(as_of)
    program = Program.current()
    computed: dict[int, Accrual] = {}
    for start in range(0, len(partner_ids), REFRESH_CHUNK):
        chunk = sorted(partner_ids[start : start + REFRESH_CHUNK])
        stamps = accrual_stamps(partner_ids=chunk, quarter=quarter, as_of=as_of)
        totals: dict[int, dict[str, Decimal]] = {partner_id: {} for partner_id in chunk}
        lines: dict[int, set[int]] = {partner_id: set() for partner_id in chunk}
        for row in generator.rebate_rows(quarter=quarter, program=program, partner_ids=chunk, until=as_of):
            by_component = totals[row.partner_id]
            by_component[row.component] = by_component.get(row.component, ZERO) + row.amount
            lines[row.partner_id].add(row.order_line_id)
        now = timezone.now()
        rows = []
        for partner_id in chunk:
            by_component = {c: totals[partner_id][c] for c in COMPONENT_ORDER if c in totals[partner_id]}
            total = calc.total(calc.Earned(c, ZERO, amount) for c, amount in by_component.items())
            rows.append(
                RebateAccrual(
                    partner_id=partner_id,
                    quarter=str(quarter),
                    as_of=as_of,
                    stamp=stamps[partner_id],
                    total=total,
                    by_component={c: f"{amount:.2f}" for c, amount in by_component.items()},
                    lines=len(lines[partner_id]),
                    computed_at=now,
                    refresh_requested_at=None,
                )
            )
            computed[partner_id] = Accrual(
                quarter=quarter, as_of=as_of, total=total, by_component=by_component, lines=len(lines[partner_id]),
                computed_at=now,
            )  # fmt: skip
        with transaction.atomic():
            RebateAccrual.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["partner", "quarter"],
                update_fields=[
                    "as_of",
                    "stamp",
                    "total",
                    "by_component",
                    "lines",
                    "computed_at",
                    "refresh_requested_at",
                ],  # fmt: skip
            )
    return computed


def accrual_for_partner(*, partner_id: int, as_of: date) -> Accrual:
    """The partner's accrual on ``as_of``: the stored row when its inputs are unchanged; the stored row marked
    "as of" its time while a queued refresh is pending; otherwise computed now and stored."""
    quarter = Quarter.containing(as_of)
    row = RebateAccrual.objects.filter(partner_id=partner_id, quarter=str(quarter)).first()
    if row is not None:
        if row.stamp == accrual_stamps(partner_ids=[partner_id], quarter=quarter, as_of=as_of)[partner_id]:
            return _stored(row, current=True)
        pending = row.refresh_requested_at is not None and row.refresh_requested_at > row.computed_at
        if pending and (timezone.now() - row.refresh_requested_at).total_seconds() < REFRESH_PATIENCE_SECONDS:
            return _stored(row, current=False)
    return accruals_refresh(partner_ids=[partner_id], as_of=as_of)[partner_id]


# The imports whose rows the close reads: order lines, partners (attestations, tiers), certification records.
IMPORTS_THAT_CHANGE_ACCRUALS = ("orders", "partners", "certifications")


def accruals_refresh_after_import(*, kind: str, run) -> None:
    """In an applied import's transaction: mark the open quarter's stored accruals as being refreshed and queue
    the refresh, dispatched once the import commits (``portal.csvimport`` calls this)."""
    if kind not in IMPORTS_THAT_CHANGE_ACCRUALS:
        return
    from portal.outbox import task_enqueue

    quarter = Quarter.containing(timezone.localdate())
    if RebateAccrual.objects.filter(quarter=str(quarter)).update(refresh_requested_at=timezone.now()):
        task_enqueue(REFRESH_TASK, key=f"accruals_refresh:import:{run.pk}")


def accruals_refresh_stored(*, as_of: date) -> int:
    """Recompute every stored accrual of ``as_of``'s quarter whose inputs changed (the task behind imports)."""
    quarter = Quarter.containing(as_of)
    stored = dict(RebateAccrual.objects.filter(quarter=str(quarter)).values_list("partner_id", "stamp"))
    partner_ids = sorted(stored)
    stale = []
    for start in range(0, len(partner_ids), REFRESH_CHUNK):
        chunk = partner_ids[start : start + REFRESH_CHUNK]
        stamps = accrual_stamps(partner_ids=chunk, quarter=quarter, as_of=as_of)
        stale += [partner_id for partner_id in chunk if stamps[partner_id] != stored[partner_id]]
    accruals_refresh(partner_ids=stale, as_of=as_of)
    # Rows whose figure did not change still had their refresh requested: it is done.
    RebateAccrual.objects.filter(quarter=str(quarter), refresh_requested_at__isnull=False).exclude(
        partner_id__in=stale
    ).update(refresh_requested_at=None)
    return len(stale)
