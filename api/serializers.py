"""The API's shapes: amounts are strings with two decimals, dates ISO 8601; nothing of another partner."""

from rest_framework import serializers

from deals.matching import validate_domain, validate_vat
from deals.models import Order, OrderLine, Registration, RoutingOffer
from portal.catalog import ProductLine
from portal.countries import validate_country_code
from rebates.models import RebateLine, Statement


def money(**kwargs):
    return serializers.DecimalField(max_digits=16, decimal_places=2, **kwargs)


class CustomerSerializer(serializers.Serializer):
    name = serializers.CharField()
    country = serializers.CharField()
    vat = serializers.CharField()
    domain = serializers.CharField()


# --- deal registrations -------------------------------------------------------------------------------------


class RegistrationLineSerializer(serializers.Serializer):
    product_line = serializers.ChoiceField(choices=ProductLine.choices)
    estimated_amount = money()


class RegistrationEventSerializer(serializers.Serializer):
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class RegistrationSerializer(serializers.ModelSerializer):
    customer = CustomerSerializer()
    estimated_total = money(read_only=True)
    product_lines = serializers.SerializerMethodField()
    already_registered = serializers.SerializerMethodField(
        help_text="Another partner registered this opportunity first: channel staff arbitrate (who is not said)."
    )

    class Meta:
        model = Registration
        fields = [
            "number",
            "status",
            "opportunity_name",
            "customer",
            "expected_close_on",
            "estimated_total",
            "product_lines",
            "already_registered",
            "submitted_at",
            "approved_on",
            "protection_ends_on",
            "extension",
            "extension_requested_on",
            "won_on",
        ]

    def get_product_lines(self, registration) -> list[str]:
        text = getattr(registration, "product_lines", None)
        if text is None:
            return sorted(line.product_line for line in registration.lines.all())
        return sorted(text.split(",")) if text else []

    def get_already_registered(self, registration) -> bool:
        return registration.conflict_with_id is not None and registration.status == Registration.Status.SUBMITTED


class RegistrationDetailSerializer(RegistrationSerializer):
    lines = serializers.SerializerMethodField()
    events = RegistrationEventSerializer(many=True, read_only=True)
    estimated_total = serializers.SerializerMethodField()
    can_withdraw = serializers.SerializerMethodField()
    can_mark_lost = serializers.SerializerMethodField()
    can_request_extension = serializers.SerializerMethodField()

    class Meta(RegistrationSerializer.Meta):
        fields = RegistrationSerializer.Meta.fields + [
            "lines",
            "events",
            "can_withdraw",
            "can_mark_lost",
            "can_request_extension",
        ]

    def get_lines(self, registration) -> list[dict]:
        lines = sorted(registration.lines.all(), key=lambda line: line.product_line)
        return RegistrationLineSerializer(lines, many=True).data

    def get_estimated_total(self, registration) -> str:
        return f"{sum(line.estimated_amount for line in registration.lines.all()):.2f}"

    def get_can_withdraw(self, registration) -> bool:
        return registration.status == Registration.Status.SUBMITTED

    def get_can_mark_lost(self, registration) -> bool:
        return registration.status == Registration.Status.APPROVED

    def get_can_request_extension(self, registration) -> bool:
        from deals.registrations.selectors import extension_can_request

        return extension_can_request(registration)


class RegistrationCreateSerializer(serializers.Serializer):
    """The register-a-deal form's fields, with the same validators."""

    customer_name = serializers.CharField(max_length=255)
    customer_country = serializers.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. FR")
    customer_vat = serializers.CharField(max_length=50, required=False, allow_blank=True, validators=[validate_vat])
    customer_domain = serializers.CharField(
        max_length=255, required=False, allow_blank=True, validators=[validate_domain]
    )
    customer_choice = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text='When the answer listed near_matches: the id of one of them, or "new" for a different company.',
    )
    opportunity_name = serializers.CharField(max_length=200)
    expected_close_on = serializers.DateField()
    lines = RegistrationLineSerializer(many=True, allow_empty=False)

    def validate_customer_country(self, value):
        country = value.strip().upper()
        validate_country_code(country)
        return country

    def validate_lines(self, lines):
        seen = set()
        for line in lines:
            if line["product_line"] in seen:
                raise serializers.ValidationError("Each product line at most once.")
            seen.add(line["product_line"])
        return lines


class RegistrationCreatedSerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=["approved", "submitted", "already_registered"])
    message = serializers.CharField()
    registration = RegistrationDetailSerializer()


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


# --- orders ---------------------------------------------------------------------------------------------------


class OrderLineSerializer(serializers.ModelSerializer):
    net_amount = money()
    registration_number = serializers.CharField()
    credits_order_number = serializers.SerializerMethodField()
    compliance_exception = serializers.BooleanField(default=False)

    class Meta:
        model = OrderLine
        fields = [
            "line_number",
            "product_line",
            "sku",
            "description",
            "quantity",
            "net_amount",
            "service_delivery",
            "registration_number",
            "credits_order_number",
            "compliance_exception",
        ]

    def get_credits_order_number(self, line) -> str | None:
        return line.credited_order.number if line.credited_order_id else None


class OrderSerializer(serializers.ModelSerializer):
    customer = CustomerSerializer()
    total = money()
    line_count = serializers.IntegerField()
    product_lines = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = ["number", "booked_on", "channel", "customer", "total", "line_count", "product_lines"]

    def get_product_lines(self, order) -> list[str]:
        return sorted(order.product_lines.split(",")) if order.product_lines else []


class OrderDetailSerializer(serializers.ModelSerializer):
    customer = CustomerSerializer()
    total = money()
    lines = OrderLineSerializer(source="order_lines", many=True)

    class Meta:
        model = Order
        fields = ["number", "booked_on", "channel", "customer", "total", "lines"]


# --- routed orders --------------------------------------------------------------------------------------------


class RoutedOrderLineSerializer(serializers.Serializer):
    line_number = serializers.IntegerField()
    product_line = serializers.CharField()
    description = serializers.CharField()
    quantity = serializers.IntegerField()
    net_amount = money()


class RoutedOfferSerializer(serializers.ModelSerializer):
    order_number = serializers.CharField(source="case.order.number")
    booked_on = serializers.DateField(source="case.order.booked_on")
    customer = CustomerSerializer(source="case.order.customer")
    total = serializers.SerializerMethodField()
    lines = serializers.SerializerMethodField()

    class Meta:
        model = RoutingOffer
        fields = [
            "id",
            "status",
            "order_number",
            "booked_on",
            "customer",
            "total",
            "lines",
            "offered_on",
            "respond_by",
            "decline_reason",
            "decided_at",
        ]

    def _lines(self, offer):
        return sorted(offer.case.order.lines.all(), key=lambda line: line.line_number)

    def get_total(self, offer) -> str:
        return f"{sum(line.net_amount for line in self._lines(offer)):.2f}"

    def get_lines(self, offer) -> list[dict]:
        return RoutedOrderLineSerializer(self._lines(offer), many=True).data


# --- statements -----------------------------------------------------------------------------------------------


class StatementSerializer(serializers.ModelSerializer):
    total = money()

    class Meta:
        model = Statement
        fields = ["number", "quarter", "status", "issued_on", "total", "line_count", "paid_on", "payment_reference"]


class RebateLineSerializer(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order_line.order.number")
    line_number = serializers.IntegerField(source="order_line.line_number")
    product_line = serializers.CharField(source="order_line.product_line")
    booked_on = serializers.DateField(source="order_line.booked_on")
    tier = serializers.CharField(source="tier.code")
    net_amount = money()
    rate = serializers.DecimalField(max_digits=7, decimal_places=3, help_text="percentage points")
    amount = money()

    class Meta:
        model = RebateLine
        fields = [
            "order_number",
            "line_number",
            "product_line",
            "booked_on",
            "component",
            "tier",
            "net_amount",
            "rate",
            "amount",
            "is_adjustment",
        ]


class ComponentTotalSerializer(serializers.Serializer):
    component = serializers.CharField()
    count = serializers.IntegerField()
    amount = money()


class ProductLineTotalSerializer(serializers.Serializer):
    product_line = serializers.CharField()
    net = money(allow_null=True)
    amount = money()


class StatementSummarySerializer(serializers.Serializer):
    by_component = ComponentTotalSerializer(many=True)
    by_product_line = ProductLineTotalSerializer(many=True)
    adjustments = money()
    total = money()


class StatementDetailSerializer(StatementSerializer):
    summary = serializers.SerializerMethodField()
    lines = serializers.SerializerMethodField()

    class Meta(StatementSerializer.Meta):
        fields = StatementSerializer.Meta.fields + ["summary", "lines"]

    def get_summary(self, statement) -> StatementSummarySerializer:
        return StatementSummarySerializer(self.context["summary"]).data

    def get_lines(self, statement) -> RebateLineSerializer(many=True):
        return RebateLineSerializer(self.context["lines"], many=True).data


# --- my tier --------------------------------------------------------------------------------------------------


class TierRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class FiguresSerializer(serializers.Serializer):
    qualifying_revenue = money()
    services_revenue = money()
    certified_people = serializers.IntegerField()
    competencies = serializers.IntegerField()


class PathRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    have = serializers.CharField(help_text="an amount with two decimals, or a count")
    need = serializers.CharField()
    missing = serializers.CharField()
    met = serializers.BooleanField()


class PathSerializer(serializers.Serializer):
    path = serializers.CharField()
    met = serializers.BooleanField()
    shortfalls = serializers.ListField(child=serializers.CharField())
    rows = PathRowSerializer(many=True)


class TierChangeSerializer(serializers.Serializer):
    from_tier = serializers.CharField(allow_null=True)
    to_tier = serializers.CharField()
    effective_on = serializers.DateField()
    reason = serializers.CharField()
    note = serializers.CharField()


class AwardSerializer(serializers.Serializer):
    awarded_on = serializers.DateField()
    last_day = serializers.DateField()


class TierSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    tier = TierRefSerializer()
    computed_tier = TierRefSerializer()
    since = serializers.DateField(allow_null=True)
    attested = serializers.BooleanField(help_text="Dell-only attestation active: revenue figures × 1.25")
    figures = FiguresSerializer(help_text="1.25X applied when attested")
    raw_figures = FiguresSerializer()
    at_risk = serializers.BooleanField()
    at_risk_paths = PathSerializer(many=True, help_text="the current tier's paths, when at risk: why")
    review_on = serializers.DateField()
    next_tier = TierRefSerializer(allow_null=True)
    next_paths = PathSerializer(many=True)
    award = AwardSerializer(allow_null=True)
    history = TierChangeSerializer(many=True)


class MeSerializer(serializers.Serializer):
    email = serializers.EmailField()
    partner_code = serializers.CharField()
    partner_name = serializers.CharField()
    role = serializers.CharField()
    token_name = serializers.CharField()
    token_expires_at = serializers.DateTimeField()
