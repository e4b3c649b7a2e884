"""Staff admin for customers and booked orders. Booked orders are never edited (DESIGN §5): staff view them,
and correct them with credit lines in a new import."""

from django import forms
from django.contrib import admin
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.text import smart_split
from django.utils.translation import gettext_lazy as _

from partners.models import Partner
from portal.admin_mixins import LargeTableAdminMixin, ReadOnlyAdminMixin

from .matching import CustomerIdentity, customer_keys
from .models import Customer, Order, OrderLine
from .selectors import customer_ids_with_near_duplicates


class PossibleDuplicatesFilter(admin.SimpleListFilter):
    title = _("possible duplicates")
    parameter_name = "duplicates"

    def lookups(self, request, model_admin):
        return [("yes", _("Has possible duplicates"))]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        return queryset.filter(pk__in=customer_ids_with_near_duplicates(customers=Customer.objects.all()))


class CustomerAdminForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = ["name", "country", "vat", "domain"]

    def clean(self):
        cleaned = super().clean()
        # The keys are computed on save; check the unique VAT key here so a clash is a form error, not a crash.
        vat_key = customer_keys(cleaned.get("name", ""), cleaned.get("vat", ""), cleaned.get("domain", ""))[0]
        if vat_key and Customer.objects.filter(vat_key=vat_key).exclude(pk=self.instance.pk).exists():
            self.add_error("vat", _("Another customer already has this VAT / company id."))
        return cleaned


@admin.register(Customer)
class CustomerAdmin(LargeTableAdminMixin, admin.ModelAdmin):
    form = CustomerAdminForm
    list_display = ["name", "country", "vat", "domain", "created_at"]
    list_filter = ["country", PossibleDuplicatesFilter]
    search_fields = ["name", "vat", "domain", "vat_key", "domain_key"]
    fields = ["name", "country", "vat", "domain", "vat_key", "domain_key", "name_key", "created_at"]
    readonly_fields = ["vat_key", "domain_key", "name_key", "created_at", "possible_duplicates"]

    def get_fields(self, request, obj=None):
        return self.fields + ["possible_duplicates"] if obj is not None else self.fields

    @admin.display(description=_("possible duplicates"))
    def possible_duplicates(self, obj):
        identity = CustomerIdentity(name=obj.name, country=obj.country, vat=obj.vat, domain=obj.domain)
        matches = Customer.objects.near_matches(identity, exclude_pk=obj.pk)
        if not matches:
            return _("None: no customer of this country has a similar name.")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">{}</a> — {} {}</li>',
                (
                    (
                        reverse("admin:deals_customer_change", args=[match.pk]),
                        match,
                        match.vat or "—",
                        match.domain or "",
                    )
                    for match in matches
                ),
            ),
        )


class OrderLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderLine
    fk_name = "order"
    extra = 0
    fields = [
        "line_number",
        "product_line",
        "sku",
        "description",
        "quantity",
        "net_amount",
        "service_delivery",
        "registration_number",
        "registration",
        "credited_order",
    ]
    readonly_fields = fields
    ordering = ["line_number"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("registration", "credited_order")


# A search word naming this many customers and partners or more is checked on the order rows (see below).
SEARCH_DENSE_NAMES = 1000


@admin.register(Order)
class OrderAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["number", "booked_on", "channel", "partner", "customer", "line_count", "total"]
    # No partner list filter: its choices would be read from every order (search finds a partner's orders).
    list_filter = ["channel", ("booked_on", admin.DateFieldListFilter)]
    search_fields = ["number", "customer__name", "partner__code", "partner__name"]
    list_select_related = ["partner", "customer"]
    fields = ["number", "booked_on", "channel", "partner", "customer", "import_run", "created_at", "credits"]
    readonly_fields = fields
    inlines = [OrderLineInline]

    def get_search_results(self, request, queryset, search_term):
        """An exact order number, else each word in the order number, or naming the customer or the partner: the
        names are matched in their own (small) tables first, so the million orders are filtered on indexed ids, in
        the default ordering's index."""
        words = [word.strip("\"'") for word in smart_split(search_term) if word.strip("\"'")]
        if len(words) == 1:
            # An exact order number first: one unique-index lookup, and the one answer staff look for.
            exact = queryset.filter(number=words[0])
            if exact.exists():
                return exact, False
        # On PostgreSQL each ``icontains`` below is served by a trigram index (deals migration 0010). A word that
        # names few customers and partners filters the orders on their ids (index-served sets); a word that names
        # many (a company suffix, a city) is checked on the rows instead, as the default ordering's index is walked:
        # its sets would be most of the table, and dense matches fill a page after a few rows.
        for word in words:
            customers = Customer.objects.filter(name__icontains=word).order_by().values("pk")
            partners = Partner.objects.filter(Q(code__iexact=word) | Q(name__icontains=word)).order_by().values("pk")
            customer_ids = [row["pk"] for row in customers[:SEARCH_DENSE_NAMES]]
            partner_ids = [row["pk"] for row in partners[:SEARCH_DENSE_NAMES]]
            if len(customer_ids) + len(partner_ids) < SEARCH_DENSE_NAMES:
                # The ids as values, not subqueries: the planner then ORs three index scans (number's trigram
                # index, customer, partner) instead of filtering every order against hashed subplans.
                queryset = queryset.filter(
                    Q(number__icontains=word) | Q(customer__in=customer_ids) | Q(partner__in=partner_ids)
                )
            else:
                queryset = queryset.filter(
                    Q(number__icontains=word)
                    | Q(customer__name__icontains=word)
                    | Q(partner__code__iexact=word)
                    | Q(partner__name__icontains=word)
                )
        return queryset, False

    def get_queryset(self, request):
        # Per-order subqueries, evaluated for the page's rows only (a GROUP BY would aggregate every order first).
        lines = OrderLine.objects.filter(order=OuterRef("pk")).order_by().values("order")
        return (
            super()
            .get_queryset(request)
            .annotate(
                total=Subquery(lines.annotate(total=Sum("net_amount")).values("total")),
                line_count=Subquery(lines.annotate(count=Count("pk")).values("count")),
            )
        )

    @admin.display(description=_("lines"), ordering="line_count")
    def line_count(self, obj):
        return obj.line_count

    @admin.display(description=_("total"), ordering="total")
    def total(self, obj):
        return number_format(obj.total, decimal_pos=2, force_grouping=True) if obj.total is not None else "—"

    @admin.display(description=_("credits on this order"))
    def credits(self, obj):
        lines = obj.credit_lines.select_related("order").order_by("booked_on", "order__number", "line_number")
        if not lines:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">{}</a> / {} — {} {}</li>',
                (
                    (
                        reverse("admin:deals_order_change", args=[line.order_id]),
                        line.order.number,
                        line.line_number,
                        line.get_product_line_display(),
                        number_format(line.net_amount, decimal_pos=2, force_grouping=True),
                    )
                    for line in lines
                ),
            ),
        )


class ComplianceExceptionFilter(admin.SimpleListFilter):
    title = _("compliance")
    parameter_name = "compliance"

    def lookups(self, request, model_admin):
        return [("exception", _("Compliance exceptions"))]

    def queryset(self, request, queryset):
        if self.value() == "exception":
            return queryset.filter(compliance_exception=True)
        return queryset


@admin.register(OrderLine)
class OrderLineAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "order",
        "line_number",
        "booked_on",
        "channel",
        "partner",
        "customer",
        "product_line",
        "sku",
        "quantity",
        "net_amount",
        "service_delivery",
        "credited_order",
        "compliance",
    ]
    list_filter = [
        "product_line",
        "channel",
        "service_delivery",
        ComplianceExceptionFilter,
        ("booked_on", admin.DateFieldListFilter),
    ]
    search_fields = ["order__number", "sku", "customer__name", "partner__code", "registration_number"]
    list_select_related = ["order", "partner", "customer", "credited_order"]
    readonly_fields = [field.name for field in OrderLine._meta.fields]

    def get_queryset(self, request):
        return super().get_queryset(request).with_compliance()

    @admin.display(description=_("compliance exception"), boolean=True, ordering="compliance_exception")
    def compliance(self, obj):
        return obj.compliance_exception


from .registrations import admin as registrations_admin  # noqa: E402,F401
from .routing import admin as routing_admin  # noqa: E402,F401
