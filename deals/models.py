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
