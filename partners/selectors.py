"""Reads for partner pages, always scoped to one partner, and the tier of partners on a date."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import F, Prefetch, QuerySet, Window
from django.db.models.functions import RowNumber

from portal.emails import Recipient
from portal.memo import request_memo

from . import calculations as calc
from .models import Certification, CertificationRecord, Invitation, Membership, Partner, Person, Tier, TierHistory


def team_members(*, partner: Partner) -> QuerySet[Membership]:
    return Membership.objects.filter(partner=partner).select_related("user").order_by("user__email")


def partner_users_with_roles(partner_ids: Iterable[int], roles: Iterable[str]) -> dict[int, list]:
    """The active portal users of each partner whose role is one of ``roles``, by user id, in one query (the
    recipients of every partner email: tier changes, registrations, routed offers, statements)."""
    users: dict[int, list] = defaultdict(list)
    memberships = (
        Membership.objects.filter(partner_id__in=set(partner_ids), role__in=list(roles), user__is_active=True)
        .select_related("user")
        .order_by("user_id")
    )
    for membership in memberships:
        users[membership.partner_id].append(membership.user)
    return users


def partner_recipients(partner_ids: Iterable[int], roles: Iterable[str]) -> dict[int, list[Recipient]]:
    """``partner_users_with_roles`` as plain values (``portal.emails.Recipient``), for the jobs that email
    thousands of partners at once: one query, no instance per user."""
    recipients: dict[int, list[Recipient]] = defaultdict(list)
    rows = (
        Membership.objects.filter(partner_id__in=set(partner_ids), role__in=list(roles), user__is_active=True)
        .order_by("user_id")
        .values_list("partner_id", "user_id", "user__email", "user__language")
    )
    for partner_id, user_id, email, language in rows:
        recipients[partner_id].append(Recipient(user_id, email, language))
    return recipients


def team_open_invitations(*, partner: Partner) -> QuerySet[Invitation]:
    return Invitation.objects.filter(partner=partner, accepted_at=None, revoked_at=None).order_by("-created_at")


def tiers_by_code() -> dict[str, Tier]:
    """Every tier by code, in rank order: read once per request (My tier and the dashboard ask in several places;
    ``portal.memo``). The dictionary is shared by the request's callers: read it, don't change it."""
    return request_memo("tiers", lambda: {tier.code: tier for tier in Tier.objects.order_by("rank", "pk")})


def tier_ranks() -> dict[str, int]:
    """The order of the base tiers (code → rank) as staff keep it in the ``Tier`` table, for the pure rules."""
    return dict(Tier.objects.filter(is_overlay=False).values_list("code", "rank"))


def partner_tier_history(*, partner: Partner) -> QuerySet[TierHistory]:
    return (
        TierHistory.objects.filter(partner=partner)
        .select_related("from_tier", "to_tier")
        .order_by("-effective_on", "-id")
    )


# --------------------------------------------------------------------------------------------------------------
# People and certifications (the partner admin's page)


@dataclass(frozen=True)
class CertificationSummary:
    certified_people: int
    competencies: list[str]


def people_with_certifications(*, people: QuerySet[Person]) -> QuerySet[Person]:
    """``people`` (already scoped to one partner) by name, each with its records (newest first) prefetched."""
    records = CertificationRecord.objects.select_related("certification").order_by("-earned_on", "certification__code")
    return people.order_by("name", "email").prefetch_related(Prefetch("certifications", queryset=records))


def certification_summary(*, records: QuerySet[CertificationRecord], day: date) -> CertificationSummary:
    """Certified people and competencies on ``day`` among ``records`` (already scoped to one partner)."""
    active = records.active_on(day).order_by()  # no default ordering: it would take part in DISTINCT
    certified_people = active.values("person_id").distinct().count()
    competencies = sorted(
        active.filter(certification__track__in=Certification.COMPETENCY_TRACKS)
        .values_list("certification__product_line", flat=True)
        .distinct()
    )
    return CertificationSummary(certified_people=certified_people, competencies=competencies)


# --------------------------------------------------------------------------------------------------------------
# Tier on a date: the one API (tiers, deals, routing and rebates all read it; DESIGN §3)


def tier_timelines(partner_ids: Iterable[int]) -> dict[int, list[tuple[date, int]]]:
    """Each partner's tier changes ``(effective_on, to_tier_id)`` in history order, in one query."""
    timelines: dict[int, list[tuple[date, int]]] = defaultdict(list)
    rows = TierHistory.objects.filter(partner_id__in=list(set(partner_ids))).order_by("effective_on", "id")
    for partner_id, effective_on, tier_id in rows.values_list("partner_id", "effective_on", "to_tier_id"):
        timelines[partner_id].append((effective_on, tier_id))
    return timelines


def tier_ids_on(pairs: Iterable[tuple[int, date]], *, authorized_id: int | None = None) -> dict[tuple[int, date], int]:
    """The effective tier id of each ``(partner_id, day)`` pair, in two queries whatever the number of pairs
    (one when the caller, which already read the tiers, passes ``authorized_id``)."""
    pairs = set(pairs)
    if not pairs:
        return {}
    if authorized_id is None:
        authorized_id = Tier.objects.values_list("pk", flat=True).get(code=Tier.AUTHORIZED)
    timelines = tier_timelines(partner_id for partner_id, _day in pairs)
    return {(pid, day): calc.tier_on(timelines.get(pid, []), day, authorized_id) for pid, day in pairs}


def tier_ids_on_day(
    day: date, *, partner_ids: Iterable[int] | None = None, authorized_id: int, id_range=None
) -> dict[int, int]:
    """The effective tier id on one ``day`` of each of ``partner_ids`` (``None``: every partner), in one windowed
    query: each partner's latest change effective on or before ``day``, the later row on the same day — the rule
    of ``calculations.tier_on``, without reading whole timelines or sending thousands of ids.

    Partners without a change on or before ``day`` (or without any) are Authorized: with ``partner_ids`` they
    are in the answer; without, they are absent and the caller defaults them. ``id_range`` (lo, hi), inclusive,
    instead of ``partner_ids``: the partners of that id range, absent ones defaulted by the caller.
    """
    changes = TierHistory.objects.filter(effective_on__lte=day)
    if id_range is not None:
        lo, hi = id_range
        changes = changes.filter(partner_id__gte=lo, partner_id__lte=hi)
    if partner_ids is not None:
        partner_ids = list(set(partner_ids))
        changes = changes.filter(partner_id__in=partner_ids)
    latest = (
        changes.annotate(
            rank=Window(
                RowNumber(), partition_by=[F("partner_id")], order_by=[F("effective_on").desc(), F("id").desc()]
            )
        )
        .filter(rank=1)
        .values_list("partner_id", "to_tier_id")
    )
    found = dict(latest)
    if partner_ids is not None:
        return {pid: found.get(pid, authorized_id) for pid in partner_ids}
    return found


def partners_tier_on(partner_ids, day: date) -> dict[int, Tier]:
    """The effective tier on ``day`` of each partner in ``partner_ids``, in two queries."""
    tiers = Tier.objects.in_bulk()
    authorized_id = next(pk for pk, tier in tiers.items() if tier.code == Tier.AUTHORIZED)
    day_tiers = tier_ids_on_day(day, partner_ids=partner_ids, authorized_id=authorized_id)
    return {pid: tiers[tier_id] for pid, tier_id in day_tiers.items()}


def partner_tier_on(partner: Partner, day: date) -> Tier:
    """The tier set by the partner's latest change effective on or before ``day`` (Authorized before any)."""
    return partners_tier_on([partner.pk], day)[partner.pk]
