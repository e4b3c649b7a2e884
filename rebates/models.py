"""Rebate rates (data, with validity dates), statements, the rebate-line ledger and quarter closes (DESIGN §6)."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.catalog import ProductLine


class Component(models.TextChoices):
    """The stacking components of a line's rebate, in the order statements list them."""

    BASE = "base", _("Base")
    NEW_BUSINESS = "new_business", _("New business")
    DEAL_REGISTRATION = "deal_registration", _("Deal registration")
    BLENDED = "blended", _("Blended offer")
    SERVICES = "services", _("Services")
    EXCLUSIVITY_UPLIFT = "exclusivity_uplift", _("1.25X uplift")


COMPONENT_ORDER = tuple(component.value for component in Component)


def statement_order_sql(*, line: str, order: str, rebate: str) -> str:
    """``rebates.selectors.statement_lines``' order as SQL over the aliases of the order line, its order and the
    rebate row: what the close numbers a statement's lines by (``RebateLine.position``, a window per statement)."""
    rank = " ".join(f"WHEN '{value}' THEN {index}" for index, value in enumerate(COMPONENT_ORDER))
    return (
        f"{line}.credited_order_id IS NOT NULL, {rebate}.is_adjustment AND {line}.credited_order_id IS NULL, "
        f"{line}.booked_on, {order}.number, {line}.line_number, CASE {rebate}.component {rank} END"
    )


def statement_order_key(*, credited: bool, is_adjustment: bool, booked_on, number: str, line_number: int,
                        component: str) -> tuple:  # fmt: skip
    """The same order as a Python sort key (the close's reference path numbers lines by it)."""
    return (credited, is_adjustment and not credited, booked_on, number, line_number, COMPONENT_ORDER.index(component))


class _Rate(models.Model):
    rate = models.DecimalField(
        _("rate (points)"),
        max_digits=7,
        decimal_places=3,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Percentage points of the line's net amount (25 for the 1.25X uplift: 25 % of the others)."),
    )
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True, help_text=_("Exclusive; blank: open."))

    class Meta:
        abstract = True

    def _overlapping(self, queryset):
        queryset = queryset.exclude(pk=self.pk)
        if self.valid_until is not None:
            queryset = queryset.filter(valid_from__lt=self.valid_until)
        return queryset.filter(Q(valid_until__isnull=True) | Q(valid_until__gt=self.valid_from))

    def clean(self):
        if self.valid_until is not None and self.valid_from and self.valid_until <= self.valid_from:
            raise ValidationError({"valid_until": _("The end must come after the start.")})
        if self.rate is not None and self.rate < 0:
            raise ValidationError({"rate": _("A rate cannot be negative.")})


class BaseRate(_Rate):
    """The base component: points by tier × product line, valid over a period."""

    tier = models.ForeignKey("partners.Tier", on_delete=models.PROTECT, related_name="+")
    product_line = models.CharField(_("product line"), max_length=20, choices=ProductLine.choices)

    class Meta:
        verbose_name = _("base rate")
        ordering = ["tier__rank", "product_line", "valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["tier", "product_line", "valid_from"], name="baserate_unique_start"),
            models.CheckConstraint(condition=Q(rate__gte=0), name="baserate_not_negative"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=models.F("valid_from")),
                name="baserate_period_valid",
            ),
        ]

    def __str__(self):
        return f"{self.tier} {self.product_line}: {self.rate} ({self.valid_from}–{self.valid_until or '…'})"

    def clean(self):
        super().clean()
        if self.tier_id and self.product_line and self.valid_from:
            others = BaseRate.objects.filter(tier_id=self.tier_id, product_line=self.product_line)
            if self._overlapping(others).exists():
                raise ValidationError(_("Another base rate for this tier and product line covers part of this period."))


class ComponentRate(_Rate):
    """A program-wide component rate (new business, deal registration, blended, services, 1.25X uplift)."""

    component = models.CharField(
        _("component"), max_length=20, choices=[(c.value, c.label) for c in Component if c != Component.BASE]
    )

    class Meta:
        verbose_name = _("component rate")
        ordering = ["component", "valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["component", "valid_from"], name="componentrate_unique_start"),
            models.CheckConstraint(condition=Q(rate__gte=0), name="componentrate_not_negative"),
            models.CheckConstraint(condition=~Q(component="base"), name="componentrate_not_base"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=models.F("valid_from")),
                name="componentrate_period_valid",
            ),
        ]

    def __str__(self):
        return f"{self.component}: {self.rate} ({self.valid_from}–{self.valid_until or '…'})"

    def clean(self):
        super().clean()
        if self.component and self.valid_from:
            if self._overlapping(ComponentRate.objects.filter(component=self.component)).exists():
                raise ValidationError(_("Another rate for this component covers part of this period."))


class StatementQuerySet(models.QuerySet):
    def for_quarter(self, quarter) -> "StatementQuerySet":
        return self.filter(quarter=str(quarter))


class IssuedStatementManager(models.Manager.from_queryset(StatementQuerySet)):
    """Issued and paid statements: what partners, staff and exports see. A quarter being closed in chunks has
    its statements ``closing`` until its last chunk is done; they are issued together (``Statement.in_close``)."""

    def get_queryset(self):
        return super().get_queryset().exclude(status=Statement.Status.CLOSING)


class Statement(models.Model):
    """One partner's rebate statement for one quarter; issued by the quarter close, then paid by staff."""

    class Status(models.TextChoices):
        CLOSING = "closing", _("Being issued")
        ISSUED = "issued", _("Issued")
        PAID = "paid", _("Paid")

    number = models.CharField(_("statement number"), max_length=60, unique=True)
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="statements")
    quarter = models.CharField(_("quarter"), max_length=10, db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ISSUED)
    issued_on = models.DateField(_("issued on"))
    total = models.DecimalField(_("total"), max_digits=16, decimal_places=2, default=Decimal("0.00"))
    line_count = models.PositiveIntegerField(_("rebate lines"), default=0)
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    payment_reference = models.CharField(_("payment reference"), max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The lines' totals grouped by component, product line and adjustment (``selectors.statement_summary``),
    # stored when its PDFs are first rendered, at issue (``documents.statement_summary_store``): its lines never
    # change after the close, and the grouping joins every line to its order line (7-17 ms of a 2,800-line
    # statement's page). A list of {component, product_line, adjustment, amount, lines, net}, amounts as text;
    # empty (NULL) for a statement closing, or issued before this was stored: its pages group its lines.
    summary = models.JSONField(null=True, blank=True, editable=False)

    objects = IssuedStatementManager()
    in_close = StatementQuerySet.as_manager()  # every statement, those of a close in progress too

    class Meta:
        verbose_name = _("rebate statement")
        ordering = ["-quarter", "number"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "quarter"], name="statement_one_per_partner_quarter"),
            models.CheckConstraint(
                condition=Q(status__in=["closing", "issued"], paid_on__isnull=True, payment_reference="")
                | Q(status="paid", paid_on__isnull=False) & ~Q(payment_reference=""),
                name="statement_paid_has_reference",
            ),
        ]

    def __str__(self):
        return self.number

    @staticmethod
    def number_for(quarter, partner_code: str) -> str:
        return f"RS-{quarter}-{partner_code}"


class StatementDocument(models.Model):
    """A statement's PDF in one language, as it reads in one status: rendered once, stored, then served as is.

    An issued statement never changes, so neither does its document; the PDF prints the status and payment, so a
    paid statement has a document of its own, and the issued one (what was emailed) is kept. Stored in the
    database, like outbox attachments: every worker and web process reads it wherever it runs.
    """

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="documents")
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    status = models.CharField(_("status"), max_length=10, choices=Statement.Status.choices)
    content = models.BinaryField(_("PDF"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    rendered_at = models.DateTimeField(_("rendered at"))
    render_seconds = models.DecimalField(_("render time (s)"), max_digits=9, decimal_places=3)

    class Meta:
        verbose_name = _("statement document")
        ordering = ["statement_id", "language", "status"]
        constraints = [
            models.UniqueConstraint(
                fields=["statement", "language", "status"], name="statementdocument_one_per_language_status"
            ),
        ]

    def __str__(self):
        return f"{self.statement_id} {self.language} {self.status}"


class RebateLine(models.Model):
    """One component of one order line on one statement: the ledger. Written once, never changed."""

    # No index of their own: (statement, component) and (order_line, component) below lead with them.
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="lines", db_index=False)
    order_line = models.ForeignKey(
        "deals.OrderLine", on_delete=models.PROTECT, related_name="rebate_lines", db_index=False
    )
    component = models.CharField(_("component"), max_length=20, choices=Component.choices)
    # What the amount was computed from, kept so that the line explains itself forever.
    tier = models.ForeignKey("partners.Tier", on_delete=models.PROTECT, related_name="+")
    net_amount = models.DecimalField(_("net amount"), max_digits=16, decimal_places=2)
    rate = models.DecimalField(_("rate (points)"), max_digits=7, decimal_places=3)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    is_adjustment = models.BooleanField(
        _("prior-period adjustment"), default=False, help_text=_("Booked in an earlier, already closed quarter.")
    )
    # The line's place in its statement, 1, 2, … in statement order (``rebates.selectors.statement_lines``),
    # written with it by the close: a page of a large statement is an index range, not a sort of every line.
    # Empty on the lines of statements closed before it existed, which are sorted as before.
    position = models.PositiveIntegerField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("rebate line")
        ordering = ["statement_id", "id"]
        constraints = [
            # A component of an order line is paid once, on one statement, ever.
            models.UniqueConstraint(fields=["order_line", "component"], name="rebateline_component_paid_once"),
        ]
        indexes = [
            models.Index(fields=["statement", "component"]),
            models.Index(fields=["statement", "position"], name="rebates_reb_stateme_a7a17b_idx"),
        ]

    def __str__(self):
        return f"{self.statement_id} {self.order_line_id} {self.component} {self.amount}"


class QuarterClose(models.Model):
    """A closed quarter: its statements are issued; the next quarter may close."""

    quarter = models.CharField(_("quarter"), max_length=10, unique=True)
    closed_on = models.DateField(_("closed as of"))
    closed_at = models.DateTimeField(auto_now_add=True)
    statements = models.PositiveIntegerField(_("statements"), default=0)
    rebate_lines = models.PositiveIntegerField(_("rebate lines"), default=0)
    total = models.DecimalField(_("total"), max_digits=18, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        verbose_name = _("quarter close")
        ordering = ["-quarter"]

    def __str__(self):
        return self.quarter


class RebateAccrual(models.Model):
    """One partner's accrual for one open quarter, stored so that the dashboard reads one row.

    ``stamp`` digests every input the figure was computed from on ``as_of`` (``rebates.accruals.accrual_stamps``):
    a row whose stamp differs from the inputs' stamp now is stale and is never shown as current. Refreshed for
    every stored partner after each order, partner or certification import commits (a task, in chunks), and
    computed on demand when stale and no refresh is queued.
    """

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="+")
    quarter = models.CharField(_("quarter"), max_length=10)
    as_of = models.DateField(_("as of"))
    stamp = models.CharField(max_length=64)
    total = models.DecimalField(_("total"), max_digits=16, decimal_places=2)
    # Component code → amount text ("123.45"), and the order lines counted.
    by_component = models.JSONField(default=dict)
    lines = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(_("computed at"))
    # Set when an import committed and a refresh task is queued: until it runs the stored figure is shown "as of".
    refresh_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("rebate accrual")
        constraints = [models.UniqueConstraint(fields=["partner", "quarter"], name="rebateaccrual_one_per_quarter")]

    def __str__(self):
        return f"{self.partner_id} {self.quarter} {self.total}"
