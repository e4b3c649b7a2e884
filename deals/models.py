"""Customers, orders and order lines (DESIGN §4–§5). Booked orders are never edited; corrections are credits."""

from decimal import Decimal

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from partners.models import Partner
from portal.catalog import ProductLine
from portal.countries import validate_country_code
from portal.money import AMOUNT_PATTERN

from .compliance import ServiceDelivery, compliance_exception_condition
from .matching import (
    NEAR_MATCH_THRESHOLD,
    CustomerIdentity,
    CustomerIndex,
    customer_keys,
    name_similarity,
    validate_domain,
    validate_vat,
)
from .registrations.events import event_text

# Order numbers as order systems write them ("SO-2017-0001", "PO/2017/12", "4500012345", "INV.77_B"): segments of
# letters, digits, ".", "_" and "-", each starting with a letter or digit, joined by single "/". So no segment is
# "." or "..", no cell starts like a formula, and the number fits a URL as it is (``deals.converters``).
ORDER_NUMBER_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*"
ORDER_NUMBER_MAX_LENGTH = 50
order_number_validator = RegexValidator(
    rf"\A{ORDER_NUMBER_PATTERN}\Z",
    _("Letters, digits, “.”, “_”, “-” and single “/” between them; starting with a letter or digit."),
)


class CustomerQuerySet(models.QuerySet):
    def match(self, identity: CustomerIdentity) -> "Customer | None":
        """The customer ``identity`` is (DESIGN §4's order: VAT, domain, name in the country), or None.

        Three indexed look-ups at most; the order of preference is ``CustomerIndex``'s.
        """
        vat_key, domain_key, name_key = identity.keys
        condition = Q(country=identity.country, name_key=name_key)
        if vat_key:
            condition |= Q(vat_key=vat_key)
        if domain_key:
            condition |= Q(domain_key=domain_key)
        index = CustomerIndex()
        for customer in self.filter(condition).order_by("pk"):
            index.add(customer)
        return index.match(identity)

    def near_matches(self, identity: CustomerIdentity, *, exclude_pk=None, limit: int = 5) -> list["Customer"]:
        """Customers of the same country whose normalised name is ≥ 90 similar (possible duplicates), best
        first; call it on a narrower queryset to look only among those customers."""
        name_key = identity.keys[2]
        candidates = (
            self.filter(country=identity.country)
            .exclude(pk=exclude_pk)
            .only("pk", "name", "country", "name_key", "vat", "domain")
        )
        scored = []
        for customer in candidates.iterator(chunk_size=2000):
            score = name_similarity(name_key, customer.name_key)
            if score >= NEAR_MATCH_THRESHOLD:
                scored.append((score, customer))
        scored.sort(key=lambda pair: (-pair[0], pair[1].pk))
        return [customer for _score, customer in scored[:limit]]


def net_amount_text(source: str, amount) -> str:
    """A line's net amount as the source file wrote it, else with two decimals (also for a source written before
    amounts were ASCII digits only: an export never echoes other digits)."""
    if source and AMOUNT_PATTERN.fullmatch(source):
        return source
    return f"{amount:.2f}"


class Customer(models.Model):
    """An end customer; the normalised keys of DESIGN §4 make one real company one row."""

    name = models.CharField(_("name"), max_length=255)
    country = models.CharField(_("country"), max_length=2, validators=[validate_country_code])
    vat = models.CharField(_("VAT / company id"), max_length=50, blank=True, validators=[validate_vat])
    domain = models.CharField(_("web domain"), max_length=255, blank=True, validators=[validate_domain])
    vat_key = models.CharField(max_length=50, blank=True, editable=False, db_index=True)
    domain_key = models.CharField(max_length=255, blank=True, editable=False, db_index=True)
    name_key = models.CharField(max_length=255, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        ordering = ["name"]
        indexes = [models.Index(fields=["country", "name_key"])]
        constraints = [
            models.UniqueConstraint(fields=["vat_key"], condition=~Q(vat_key=""), name="customer_unique_vat"),
        ]

    def __str__(self):
        return f"{self.name} ({self.country})"

    def save(self, *args, **kwargs):
        self.vat_key, self.domain_key, self.name_key = customer_keys(self.name, self.vat, self.domain)
        super().save(*args, **kwargs)


class Order(models.Model):
    class Channel(models.TextChoices):
        PARTNER = "partner", _("Partner")
        DIRECT = "direct", _("Direct")

    number = models.CharField(
        _("order number"), max_length=ORDER_NUMBER_MAX_LENGTH, unique=True, validators=[order_number_validator]
    )
    booked_on = models.DateField(_("booked on"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    # The partner the order counts for: the ordering partner, or the partner that accepted a routed direct order.
    # No index of their own: (partner, booked_on) and (customer, booked_on) below lead with them.
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="orders", db_index=False
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders", db_index=False)
    import_run = models.ForeignKey(
        "portal.ImportRun", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("order")
        ordering = ["-booked_on", "number"]
        indexes = [
            models.Index(fields=["partner", "booked_on"]),
            models.Index(fields=["customer", "booked_on"]),
            # The default ordering: the admin's first page of a million orders is an index scan, not a sort.
            models.Index(fields=["-booked_on", "number"], name="order_booked_on_number"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel="direct") | Q(partner__isnull=False), name="order_partner_channel_has_partner"
            ),
        ]

    def __str__(self):
        return self.number


class OrderLineQuerySet(models.QuerySet):
    def with_compliance(self):
        """Annotate ``compliance_exception``: a partner-delivered services line whose partner had no active
        services-delivery certification on the booked date (DESIGN §5: it earns no services bonus)."""
        return self.annotate(
            compliance_exception=models.Case(
                models.When(compliance_exception_condition(), then=models.Value(True)),
                default=models.Value(False),
                output_field=models.BooleanField(),
            )
        )


class OrderLine(models.Model):
    """One line of a booked order. ``partner``, ``customer`` and ``booked_on`` repeat the order's, so the
    tier and rebate aggregations read one table."""

    ServiceDelivery = ServiceDelivery

    # ``order``, ``partner`` and ``customer`` have no index of their own: the unique (order, line number) and the
    # indexes below lead with them, and every index is paid again on each of an import's hundred thousand rows.
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="lines", db_index=False)
    line_number = models.PositiveIntegerField(_("line"))
    product_line = models.CharField(_("product line"), max_length=20, choices=ProductLine.choices)
    sku = models.CharField(_("SKU"), max_length=80)
    description = models.CharField(_("description"), max_length=255, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    net_amount = models.DecimalField(_("net amount"), max_digits=16, decimal_places=2)
    # The amount exactly as the vendor's file wrote it ("89704", "253275.3"): statements echo it back unchanged.
    net_amount_source = models.CharField(max_length=20, blank=True, editable=False)
    service_delivery = models.CharField(
        _("service delivery"), max_length=20, choices=ServiceDelivery.choices, blank=True
    )
    registration_number = models.CharField(_("registration number"), max_length=50, blank=True)
    # Set when the line is linked to a won registration (by number in the import, or by the won matching).
    registration = models.ForeignKey(
        "deals.Registration", on_delete=models.PROTECT, null=True, blank=True, related_name="order_lines"
    )
    credited_order = models.ForeignKey(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="credit_lines"
    )
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+", db_index=False)
    booked_on = models.DateField(_("booked on"))
    channel = models.CharField(_("channel"), max_length=10, choices=Order.Channel.choices)

    objects = OrderLineQuerySet.as_manager()

    class Meta:
        verbose_name = _("order line")
        ordering = ["order_id", "line_number"]
        indexes = [
            # A partner's lines in a window with what its revenue sums: My tier, the dashboard's chart and a tier
            # chunk of few partners read them from the index alone, not every line of the window (a 1,000-partner
            # chunk 0.21 s -> 0.03 s; a 2,500-partner chunk is read through booked_on, docs/performance.md). The
            # id and registration link too: the accrual's stamp counts and sums them over the partner's lines on
            # every dashboard view (a heap page per line before: 14,550 lines, 5,100 pages, 8-37 ms -> 2 ms).
            models.Index(
                fields=["partner", "booked_on"],
                include=["net_amount", "product_line", "id", "registration"],
                name="orderline_partner_window",
            ),
            models.Index(fields=["customer", "product_line", "booked_on"]),
            models.Index(fields=["booked_on"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_number"], name="orderline_unique_number"),
            models.CheckConstraint(condition=~Q(net_amount=0), name="orderline_amount_not_zero"),
            models.CheckConstraint(
                condition=Q(net_amount__gt=0) | Q(credited_order__isnull=False), name="orderline_negative_is_credit"
            ),
            models.CheckConstraint(
                condition=(Q(product_line="services") & ~Q(service_delivery=""))
                | (~Q(product_line="services") & Q(service_delivery="")),
                name="orderline_service_delivery_on_services_only",
            ),
        ]

    def __str__(self):
        return f"{self.order.number}/{self.line_number}"  # admin lists select_related the order

    @property
    def net_amount_text(self) -> str:
        return net_amount_text(self.net_amount_source, self.net_amount)


class RegistrationQuerySet(models.QuerySet):
    def holding_on(self, day):
        """Registrations that hold the opportunity on ``day``: submitted (awaiting a decision) or protected."""
        return self.filter(
            Q(status=Registration.Status.SUBMITTED)
            | Q(status=Registration.Status.APPROVED, approved_on__lte=day, protection_ends_on__gte=day)
        )

    def covering(self, product_lines):
        """Registrations with at least one line in ``product_lines`` (EXISTS: no duplicated rows)."""
        return self.filter(
            models.Exists(
                RegistrationLine.objects.filter(registration=models.OuterRef("pk"), product_line__in=product_lines)
            )
        )


class Registration(models.Model):
    """A deal registration: one end customer, product lines with estimates, a protection window (DESIGN §4)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")
        EXPIRED = "expired", _("Expired")

    class Extension(models.TextChoices):
        NONE = "", _("none")
        REQUESTED = "requested", _("requested")
        GRANTED = "granted", _("granted")
        REFUSED = "refused", _("refused")

    number = models.CharField(_("registration number"), max_length=30, unique=True)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="registrations")
    submitted_by = models.ForeignKey(
        "portal.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="registrations"
    )
    # A draft has no customer yet (no matching before submission): its form input waits in ``draft``.
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="registrations"
    )
    opportunity_name = models.CharField(_("opportunity"), max_length=200, blank=True)
    expected_close_on = models.DateField(_("expected close date"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    # A draft's form input as typed (customer identity, amounts as text): nothing is matched or checked until
    # it is submitted; emptied on submission.
    draft = models.JSONField(_("draft input"), default=dict, db_default={}, blank=True)
    # The hidden token of the form that created it: a double submit finds this row instead of making another.
    submission_token = models.UUIDField(_("submission token"), null=True, blank=True, editable=False)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    approved_on = models.DateField(_("approved on"), null=True, blank=True)
    protection_ends_on = models.DateField(_("protected until"), null=True, blank=True)
    extension = models.CharField(_("extension"), max_length=10, choices=Extension.choices, blank=True)
    extension_reason = models.TextField(_("extension reason"), blank=True)
    extension_requested_on = models.DateField(_("extension requested on"), null=True, blank=True)
    conflict_with = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="conflicting_registrations"
    )
    # What staff wrote; ``decision_kind`` / ``decision_params`` the program's own words (``registrations.events``).
    decision_note = models.TextField(_("decision note"), blank=True)
    decision_kind = models.CharField(_("decision kind"), max_length=30, blank=True, db_default="")
    decision_params = models.JSONField(_("decision parameters"), default=dict, db_default={}, blank=True)
    won_on = models.DateField(_("won on"), null=True, blank=True)
    won_order = models.ForeignKey(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="won_registrations"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RegistrationQuerySet.as_manager()

    class Meta:
        verbose_name = _("deal registration")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["customer", "status"]),
            models.Index(fields=["partner", "status"]),
            # A partner's registrations newest first, as its Registrations page and the API list them: the page's
            # 25 rows read in order from the index (the large partner at 3M lines: a scan of the table, 19 ms).
            models.Index(fields=["partner", "submitted_at"], name="registration_partner_submitted"),
            models.Index(fields=["status", "protection_ends_on"]),
            models.Index(fields=["status", "submitted_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "won", "lost", "expired"])
                | Q(protection_ends_on__isnull=False, approved_on__isnull=False),
                name="registration_approved_has_protection",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=["draft", "submitted", "approved", "rejected", "withdrawn", "won", "lost", "expired"]
                ),
                name="registration_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(protection_ends_on__isnull=True) | Q(protection_ends_on__gte=F("approved_on")),
                name="registration_protection_after_approval",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(submitted_at__isnull=False), name="registration_submitted_has_time"
            ),
            # Only a draft may lack its customer and close date: everything submitted went through matching.
            models.CheckConstraint(
                condition=Q(status="draft") | Q(customer__isnull=False, expected_close_on__isnull=False),
                name="registration_submitted_has_customer",
            ),
            models.CheckConstraint(
                condition=(Q(status="won") & Q(won_on__isnull=False) & Q(won_order__isnull=False))
                | (~Q(status="won") & Q(won_on__isnull=True) & Q(won_order__isnull=True)),
                name="registration_won_has_order",
            ),
            # One extension, asked with a reason, only of a registration that was approved.
            models.CheckConstraint(
                condition=Q(extension="")
                | (~Q(extension_reason="") & Q(extension_requested_on__isnull=False) & Q(approved_on__isnull=False)),
                name="registration_extension_has_reason",
            ),
            models.CheckConstraint(condition=~Q(conflict_with=F("pk")), name="registration_no_self_conflict"),
            models.UniqueConstraint(
                fields=["partner", "submission_token"],
                condition=Q(submission_token__isnull=False),
                name="registration_unique_submission_token",
            ),
        ]

    def __str__(self):
        return self.number

    @property
    def total(self):
        """The estimated total (uses prefetched lines or the ``estimated_total`` annotation when present)."""
        annotated = getattr(self, "estimated_total", None)
        if annotated is not None:
            return annotated
        return sum((line.estimated_amount for line in self.lines.all()), start=Decimal("0.00"))

    @property
    def customer_name(self) -> str:
        """The customer's name, or the name a draft was saved with."""
        if self.customer_id is not None:
            return self.customer.name
        return (self.draft or {}).get("customer_name", "")

    @property
    def decision_text(self) -> str:
        """The decision's explanation in the active language (the program's sentence, then the staff note)."""
        return event_text(self.decision_kind, self.decision_params, self.decision_note)

    @property
    def protection_shown_until(self):
        """The protection's end while an approved registration holds it; none once lost, won, expired or never
        approved (a date there would read as protection the partner does not have)."""
        return self.protection_ends_on if self.status == self.Status.APPROVED else None

    def is_protected_on(self, day) -> bool:
        return (
            self.status == self.Status.APPROVED
            and self.approved_on is not None
            and self.approved_on <= day <= self.protection_ends_on
        )


class RegistrationLine(models.Model):
    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="lines")
    product_line = models.CharField(_("product line"), max_length=20, choices=ProductLine.choices)
    estimated_amount = models.DecimalField(_("estimated amount"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("registered product line")
        ordering = ["registration_id", "product_line"]
        indexes = [models.Index(fields=["product_line", "registration"])]
        constraints = [
            models.UniqueConstraint(fields=["registration", "product_line"], name="registrationline_unique_product"),
            models.CheckConstraint(condition=Q(estimated_amount__gt=0), name="registrationline_amount_positive"),
        ]

    def __str__(self):
        return f"{self.registration} {self.product_line}"


class RegistrationEvent(models.Model):
    """Every transition of a registration: who, from, to, note, when. Written once, never edited.

    What the program says is ``kind`` + ``params``, worded in the reader's language (``text``); ``note`` is what
    a person typed, shown as written (and the English sentence of events written before kinds existed).
    """

    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey("portal.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    kind = models.CharField(_("kind"), max_length=30, blank=True, db_default="")
    params = models.JSONField(_("parameters"), default=dict, db_default={}, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("registration event")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    to_status__in=["draft", "submitted", "approved", "rejected", "withdrawn", "won", "lost", "expired"]
                ),
                name="registrationevent_status_valid",
            ),
        ]

    def __str__(self):
        return f"{self.registration}: {self.from_status} → {self.to_status}"

    @property
    def to_status_label(self) -> str:
        """The status reached; an event that keeps the status (extension, arbitration kept) is an update."""
        if self.from_status == self.to_status:
            return _("Updated")
        return Registration.Status(self.to_status).label

    @property
    def text(self) -> str:
        """The event in the active language: the program's sentence (if any), then the person's note."""
        return event_text(self.kind, self.params, self.note)


# Channel locks and routing of direct orders (DESIGN §5) -----------------------------------------------------------


class ChannelLock(models.Model):
    """The customer's channel lock as of the last nightly run: its incumbent partner and expiry.

    The truth is the orders: ``deals.routing.locks.channel_lock_on`` derives the lock of any past day from them.
    This row is the latest state, for staff and pages; ``ChannelLockEvent`` is its history.
    """

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="channel_lock")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="channel_locks")
    locked_on = models.DateField(_("locked on"))
    last_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+")
    last_booked_on = models.DateField(_("last qualifying order booked on"))
    # Exclusive: the customer is locked on days ``last_booked_on <= D < expires_on``.
    expires_on = models.DateField(_("expires on"))
    released_on = models.DateField(_("released on"), null=True, blank=True)
    applied_on = models.DateField(_("applied as of"))
    # The staff override the current state comes from (a transfer, or the release), until a later order.
    override = models.ForeignKey(
        "deals.ChannelLockOverride", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("channel lock")
        ordering = ["customer__name"]
        permissions = [("override_channellock", _("Can release or transfer a channel lock"))]
        indexes = [models.Index(fields=["released_on", "expires_on"]), models.Index(fields=["partner", "released_on"])]
        constraints = [
            models.CheckConstraint(condition=Q(expires_on__gt=F("last_booked_on")), name="channellock_expiry_after"),
            models.CheckConstraint(
                condition=Q(last_booked_on__gte=F("locked_on")), name="channellock_last_order_after_lock"
            ),
        ]

    def __str__(self):
        return f"{self.customer} → {self.partner.code}"

    @property
    def is_active(self) -> bool:
        return self.released_on is None


class ChannelLockOverride(models.Model):
    """A channel staff decision that overrides the lock the orders make, from ``effective_on`` (DESIGN §5).

    - **released**: the customer is not locked from ``effective_on``; the first qualifying order booked *after*
      ``effective_on`` (by any partner) locks it again under the normal rules, as a new lock from its date.
    - **transferred**: ``to_partner`` is the incumbent from ``effective_on``, with the lock's running expiry kept
      (36 months from the latest qualifying order booked on or before ``effective_on``: a transfer neither shortens
      nor extends the lock); the first qualifying order booked after ``effective_on`` makes its partner the
      incumbent and sets the expiry by the normal rules again.

    Orders booked on or before ``effective_on`` are superseded by the override (staff decided having seen them);
    only the latest override on or before a day counts, and only when no qualifying order is booked after it.
    ``deals.routing.locks`` derives every day's lock from the orders and these rows, so routing and the nightly
    job replay any date the same way. Written once by ``channel_lock_release`` / ``channel_lock_transfer``, never
    edited. ``reason`` is for staff only: partner pages never show it (it may name other partners).
    """

    class Kind(models.TextChoices):
        RELEASED = "released", _("released by staff")
        TRANSFERRED = "transferred", _("transferred by staff")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="channel_lock_overrides")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    # The incumbent when staff decided (the partner released, or the one the lock was taken from).
    from_partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="+")
    to_partner = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    effective_on = models.DateField(_("effective on"))
    reason = models.TextField(_("reason"))
    created_by = models.ForeignKey("portal.User", on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("channel lock override")
        ordering = ["customer_id", "effective_on", "id"]
        indexes = [models.Index(fields=["customer", "effective_on"])]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["released", "transferred"]), name="channellockoverride_kind"),
            models.CheckConstraint(
                condition=(Q(kind="released") & Q(to_partner__isnull=True))
                | (Q(kind="transferred") & Q(to_partner__isnull=False) & ~Q(to_partner=F("from_partner"))),
                name="channellockoverride_transfer_has_partner",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="channellockoverride_has_reason"),
        ]

    def __str__(self):
        return f"{self.customer}: {self.kind} {self.effective_on}"


class ChannelLockEvent(models.Model):
    """One change of a customer's lock: locked, extended, transferred (new incumbent) or released by the orders,
    or released / transferred by staff (``override`` says who and why)."""

    class Kind(models.TextChoices):
        LOCKED = "locked", _("locked")
        EXTENDED = "extended", _("extended")
        TRANSFERRED = "transferred", _("transferred to a new incumbent")
        RELEASED = "released", _("released")
        STAFF_RELEASED = "staff_released", _("released by staff")
        STAFF_TRANSFERRED = "staff_transferred", _("transferred by staff")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="channel_lock_events")
    kind = models.CharField(_("event"), max_length=20, choices=Kind.choices)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="+")
    # The order that caused it (blank for a release and for a staff override).
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    override = models.ForeignKey(
        ChannelLockOverride, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    effective_on = models.DateField(_("effective on"))
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    recorded_on = models.DateField(_("recorded as of"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("channel lock event")
        ordering = ["customer_id", "effective_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=["locked", "extended", "transferred", "released", "staff_released", "staff_transferred"]
                ),
                name="channellockevent_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(kind="released", order__isnull=True, override__isnull=True)
                | Q(kind__in=["staff_released", "staff_transferred"], order__isnull=True, override__isnull=False)
                | (
                    Q(kind__in=["locked", "extended", "transferred"])
                    & Q(order__isnull=False)
                    & Q(override__isnull=True)
                ),
                name="channellockevent_order_unless_release",
            ),
            # A re-run writes nothing twice: one event per (customer, order), one release per expiry and one event
            # per staff override.
            models.UniqueConstraint(
                fields=["customer", "order"], condition=Q(order__isnull=False), name="channellockevent_unique_order"
            ),
            models.UniqueConstraint(
                fields=["override"], condition=Q(override__isnull=False), name="channellockevent_unique_override"
            ),
            models.UniqueConstraint(
                fields=["customer", "effective_on"],
                condition=Q(kind="released"),
                name="channellockevent_unique_release",
            ),
        ]

    def __str__(self):
        return f"{self.customer}: {self.kind} {self.effective_on}"


class RoutingCase(models.Model):
    """The routing decision for one direct order, taken on its booked date, and its outcome."""

    class Reason(models.TextChoices):
        LOCKED = "locked", _("customer channel-locked")
        REGISTRATION = "registration", _("protected deal registration")
        UNDER_CEILING = "under_ceiling", _("under the hard-deck ceiling")
        NOT_ROUTED = "not_routed", _("not routed")

    class Status(models.TextChoices):
        OFFERED = "offered", _("offered")
        ACCEPTED = "accepted", _("accepted")
        DIRECT = "direct", _("stays direct")

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="routing_case")
    reason = models.CharField(_("reason"), max_length=15, choices=Reason.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    # What the decision saw on the booked date, kept for the staff trail.
    order_total = models.DecimalField(_("order total"), max_digits=16, decimal_places=2)
    ceiling = models.DecimalField(_("hard-deck ceiling"), max_digits=14, decimal_places=2)
    incumbent = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    registration = models.ForeignKey(
        "deals.Registration", on_delete=models.PROTECT, null=True, blank=True, related_name="routing_cases"
    )
    accepted_partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="accepted_routing_cases"
    )
    outcome = models.TextField(_("outcome"), blank=True)
    decided_on = models.DateField(_("routed as of"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("routing case")
        ordering = ["-order__booked_on", "-id"]
        indexes = [models.Index(fields=["status", "reason"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(reason__in=["locked", "registration", "under_ceiling", "not_routed"]),
                name="routingcase_reason_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["offered", "accepted", "direct"]), name="routingcase_status_valid"
            ),
            models.CheckConstraint(
                condition=(Q(status="accepted") & Q(accepted_partner__isnull=False))
                | (~Q(status="accepted") & Q(accepted_partner__isnull=True)),
                name="routingcase_accepted_has_partner",
            ),
        ]

    def __str__(self):
        return f"{self.order} ({self.reason}, {self.status})"


class RoutingOfferQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status=RoutingOffer.Status.OFFERED)


class RoutingOffer(models.Model):
    """One offer of a routed order to one partner, with its answer. At most one open offer per case."""

    class Status(models.TextChoices):
        OFFERED = "offered", _("awaiting an answer")
        ACCEPTED = "accepted", _("accepted")
        DECLINED = "declined", _("declined")
        EXPIRED = "expired", _("expired (no answer)")
        WITHDRAWN = "withdrawn", _("withdrawn by staff")

    class Source(models.TextChoices):
        REGISTRATION = "registration", _("registration holder")
        INCUMBENT = "incumbent", _("incumbent")
        FAIR_SHARE = "fair_share", _("fair share")
        STAFF = "staff", _("staff reassignment")

    case = models.ForeignKey(RoutingCase, on_delete=models.CASCADE, related_name="offers")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="routing_offers")
    source = models.CharField(_("chosen as"), max_length=15, choices=Source.choices)
    offered_on = models.DateField(_("offered on"))
    respond_by = models.DateField(_("answer by"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OFFERED)
    decline_reason = models.TextField(_("decline reason"), blank=True)
    note = models.TextField(_("note"), blank=True)
    decided_by = models.ForeignKey("portal.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RoutingOfferQuerySet.as_manager()

    class Meta:
        verbose_name = _("routing offer")
        ordering = ["case_id", "id"]
        indexes = [
            models.Index(fields=["partner", "status"]),
            models.Index(fields=["offered_on", "partner"]),
            models.Index(fields=["status", "respond_by"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["case"], condition=Q(status="offered"), name="routingoffer_one_open"),
            models.UniqueConstraint(fields=["case"], condition=Q(status="accepted"), name="routingoffer_one_accepted"),
            models.CheckConstraint(
                condition=Q(status__in=["offered", "accepted", "declined", "expired", "withdrawn"]),
                name="routingoffer_status_valid",
            ),
            models.CheckConstraint(condition=Q(respond_by__gte=F("offered_on")), name="routingoffer_deadline"),
            models.CheckConstraint(
                condition=~Q(status="declined") | ~Q(decline_reason=""), name="routingoffer_decline_has_reason"
            ),
        ]

    def __str__(self):
        return f"{self.case.order} → {self.partner.code} ({self.status})"
