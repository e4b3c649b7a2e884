"""Customers, orders and order lines (DESIGN §4–§5). Booked orders are never edited; corrections are credits."""

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from partners.models import Partner, country_code_validator
from portal.catalog import ProductLine


class Customer(models.Model):
    """An end customer; the normalised keys of DESIGN §4 make one real company one row."""

    name = models.CharField(_("name"), max_length=255)
    country = models.CharField(_("country"), max_length=2, validators=[country_code_validator])
    vat = models.CharField(_("VAT / company id"), max_length=50, blank=True)
    domain = models.CharField(_("web domain"), max_length=255, blank=True)
    vat_key = models.CharField(max_length=50, blank=True, editable=False, db_index=True)
    domain_key = models.CharField(max_length=255, blank=True, editable=False, db_index=True)
    name_key = models.CharField(max_length=255, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

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
        from .matching import customer_keys

        self.vat_key, self.domain_key, self.name_key = customer_keys(self.name, self.vat, self.domain)
        super().save(*args, **kwargs)


class Order(models.Model):
    class Channel(models.TextChoices):
        PARTNER = "partner", _("Partner")
        DIRECT = "direct", _("Direct")

    number = models.CharField(_("order number"), max_length=50, unique=True)
    booked_on = models.DateField(_("booked on"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    # The partner the order counts for: the ordering partner, or the partner that accepted a routed direct order.
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="orders")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    import_run = models.ForeignKey(
        "portal.ImportRun", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("order")
        ordering = ["-booked_on", "number"]
        indexes = [models.Index(fields=["partner", "booked_on"]), models.Index(fields=["customer", "booked_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel="direct") | Q(partner__isnull=False), name="order_partner_channel_has_partner"
            ),
        ]

    def __str__(self):
        return self.number


class OrderLine(models.Model):
    """One line of a booked order. ``partner``, ``customer`` and ``booked_on`` repeat the order's, so the
    tier and rebate aggregations read one table."""

    class ServiceDelivery(models.TextChoices):
        RESOLD = "resold", _("Resold (delivered by the vendor)")
        PARTNER_DELIVERED = "partner_delivered", _("Delivered by the partner")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="lines")
    line_number = models.PositiveIntegerField(_("line"))
    product_line = models.CharField(_("product line"), max_length=20, choices=ProductLine.choices)
    sku = models.CharField(_("SKU"), max_length=80)
    description = models.CharField(_("description"), max_length=255, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    net_amount = models.DecimalField(_("net amount"), max_digits=16, decimal_places=2)
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
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    booked_on = models.DateField(_("booked on"))
    channel = models.CharField(_("channel"), max_length=10, choices=Order.Channel.choices)

    class Meta:
        verbose_name = _("order line")
        ordering = ["order_id", "line_number"]
        indexes = [
            models.Index(fields=["partner", "booked_on"]),
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
        return f"{self.order_id}/{self.line_number}"


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
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="registrations")
    opportunity_name = models.CharField(_("opportunity"), max_length=200)
    expected_close_on = models.DateField(_("expected close date"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    approved_on = models.DateField(_("approved on"), null=True, blank=True)
    protection_ends_on = models.DateField(_("protected until"), null=True, blank=True)
    extension = models.CharField(_("extension"), max_length=10, choices=Extension.choices, blank=True)
    extension_reason = models.TextField(_("extension reason"), blank=True)
    conflict_with = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="conflicting_registrations"
    )
    decision_note = models.TextField(_("decision note"), blank=True)
    won_on = models.DateField(_("won on"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("deal registration")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer", "status"]), models.Index(fields=["partner", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "won", "lost", "expired"]) | Q(protection_ends_on__isnull=False),
                name="registration_approved_has_protection",
            ),
        ]

    def __str__(self):
        return self.number


class RegistrationLine(models.Model):
    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="lines")
    product_line = models.CharField(_("product line"), max_length=20, choices=ProductLine.choices)
    estimated_amount = models.DecimalField(_("estimated amount"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("registered product line")
        constraints = [
            models.UniqueConstraint(fields=["registration", "product_line"], name="registrationline_unique_product"),
            models.CheckConstraint(condition=Q(estimated_amount__gt=0), name="registrationline_amount_positive"),
        ]

    def __str__(self):
        return f"{self.registration} {self.product_line}"


class RegistrationEvent(models.Model):
    """Every transition of a registration: who, from, to, note, when."""

    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey("portal.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("registration event")
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.registration}: {self.from_status} → {self.to_status}"
