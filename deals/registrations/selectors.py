"""Reads on deal registrations (DESIGN §4): the partner's pages and export, and the rules' own reads (who holds
an opportunity, the extension window). Partner reads take a queryset already scoped to one partner
(``PartnerViewMixin.scope``): scoping stays in one place; the competitors of a registration are for staff only."""

from datetime import date, timedelta

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from partners.models import Partner
from portal.models import Program

from ..matching import CustomerIdentity
from ..models import Customer, Order, Registration, RegistrationEvent, RegistrationLine
from ..selectors import DistinctProductLines

EXPIRING_SOON_DAYS = 30


def registration_list_for_partner(
    *, registrations: QuerySet[Registration], whole: bool = False
) -> QuerySet[Registration]:
    """One row per registration of ``registrations`` (already scoped) with its customer, estimated total and
    product lines — one query for a page.

    For a page (``whole=False``) the figures are per-registration subqueries, computed for the rows read only, as
    for orders (``deals.selectors.order_list_for_partner``): a ``GROUP BY`` joined and aggregated every line of
    the partner's registrations before paging. For every row (``whole``: the export) one ``GROUP BY``.
    """
    if whole:
        figures = {
            "estimated_total": Sum("lines__estimated_amount"),
            "product_lines": DistinctProductLines("lines__product_line"),
        }
    else:
        lines = RegistrationLine.objects.filter(registration=OuterRef("pk")).order_by().values("registration")
        figures = {
            "estimated_total": Subquery(lines.annotate(total=Sum("estimated_amount")).values("total")),
            "product_lines": Subquery(lines.annotate(codes=DistinctProductLines("product_line")).values("codes")),
        }
    return registrations.select_related("customer").annotate(**figures).order_by("-submitted_at", "-pk")


def registration_drafts_for_partner(*, registrations: QuerySet[Registration]) -> list[Registration]:
    """The drafts among ``registrations`` (already scoped), newest first (never submitted: no customer yet)."""
    return list(registrations.filter(status=Registration.Status.DRAFT).order_by("-created_at", "-pk"))


def registrations_expiring_soon(registrations: QuerySet[Registration], *, today: date) -> QuerySet[Registration]:
    """Approved registrations whose protection ends within ``EXPIRING_SOON_DAYS`` days."""
    return registrations.filter(
        status=Registration.Status.APPROVED,
        protection_ends_on__gte=today,
        protection_ends_on__lte=today + timedelta(days=EXPIRING_SOON_DAYS),
    )


def registration_detail_for_partner(*, registrations: QuerySet[Registration], number: str) -> Registration | None:
    """The registration ``number`` among ``registrations`` (already scoped), or ``None``, with its lines and its
    events (and their actors) prefetched."""
    return (
        registrations.select_related("customer", "submitted_by", "partner__tier")
        .prefetch_related(
            "lines",
            Prefetch("events", queryset=RegistrationEvent.objects.select_related("actor").order_by("created_at", "pk")),
        )
        .filter(number=number)
        .first()
    )


def registration_holders(*, customer_id: int, product_lines, day: date):
    """Registrations holding the opportunity for this customer and one of ``product_lines`` on ``day``."""
    return Registration.objects.filter(customer_id=customer_id).holding_on(day).covering(product_lines)


def registration_competitors(registration: Registration, *, today: date | None = None):
    """The registrations competing with ``registration``: same customer, overlapping product line, holding the
    opportunity (submitted or protected), other partners — staff only."""
    today = today or timezone.localdate()
    lines = list(registration.lines.values_list("product_line", flat=True))
    return (
        registration_holders(customer_id=registration.customer_id, product_lines=lines, day=today)
        .exclude(pk=registration.pk)
        .exclude(partner_id=registration.partner_id)
        .select_related("partner", "customer")
        .order_by("submitted_at", "pk")
    )


def registration_near_matches(identity: CustomerIdentity, *, partner: Partner) -> list[Customer]:
    """The partner's own customers (orders or registrations) that look like ``identity`` without matching it
    exactly, for the form's warning. Never another partner's: that would reveal its pipeline (staff see every
    look-alike in the queue)."""
    exact = Customer.objects.match(identity)
    if exact is not None:
        return []
    return partner_own_customers(partner=partner).near_matches(identity)


def partner_own_customers(*, partner: Partner) -> QuerySet[Customer]:
    """The customers ``partner`` has orders or registrations with: the only ones its pages may name."""
    return Customer.objects.filter(
        Exists(Order.objects.filter(customer=OuterRef("pk"), partner=partner))
        | Exists(Registration.objects.filter(customer=OuterRef("pk"), partner=partner))
    )


OWN_CUSTOMER_SUGGESTIONS = 500  # the form's type-ahead: enough for a reseller's accounts, bounded for the page


def partner_own_customer_names(*, partner: Partner) -> list[str]:
    """The names the register-a-deal form suggests as the customer is typed (the partner's own customers)."""
    names = partner_own_customers(partner=partner).order_by("name").values_list("name", flat=True).distinct()
    return list(names[:OWN_CUSTOMER_SUGGESTIONS])


def extension_window(registration: Registration) -> tuple[date, date] | None:
    """The days on which the one extension may be requested (the last N days of protection), or None."""
    if registration.protection_ends_on is None:
        return None
    days = Program.current().registration_extension_window_days
    return registration.protection_ends_on - timedelta(days=days), registration.protection_ends_on


def registration_can_edit(registration: Registration) -> bool:
    """The partner edits (and submits) a draft, or corrects and resubmits a rejected registration; nothing else
    (a submitted or decided registration is what staff saw and decided)."""
    return registration.status in (Registration.Status.DRAFT, Registration.Status.REJECTED)


def registration_can_withdraw(registration: Registration) -> bool:
    """A registration is withdrawn by its partner only before staff decide."""
    return registration.status == Registration.Status.SUBMITTED


def registration_can_mark_lost(registration: Registration) -> bool:
    """Only an approved registration (a protected deal) can be lost."""
    return registration.status == Registration.Status.APPROVED


def extension_can_request(registration: Registration, *, today: date | None = None) -> bool:
    today = today or timezone.localdate()
    window = extension_window(registration)
    return (
        registration.status == Registration.Status.APPROVED
        and registration.extension == Registration.Extension.NONE
        and window is not None
        and window[0] <= today <= window[1]
    )


REGISTRATION_QUEUES = ("pending", "overdue", "conflict", "extension")


def registration_queue(name: str) -> Q:
    """A slice of the staff decision queue (the admin's queue filter and the admin home count the same rows):
    ``pending`` awaits a decision or an extension answer, ``overdue`` has waited past the decision target,
    ``conflict`` needs arbitration, ``extension`` asks for more protection."""
    Status = Registration.Status
    if name == "pending":
        return Q(status=Status.SUBMITTED) | Q(extension=Registration.Extension.REQUESTED)
    if name == "overdue":
        target = timedelta(hours=Program.current().registration_decision_target_hours)
        return Q(status=Status.SUBMITTED, submitted_at__lt=timezone.now() - target)
    if name == "conflict":
        return Q(status=Status.SUBMITTED, conflict_with__isnull=False)
    if name == "extension":
        return Q(extension=Registration.Extension.REQUESTED)
    raise ValueError(f"no registration queue {name!r}")
