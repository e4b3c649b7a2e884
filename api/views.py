"""The partner endpoints (issue 14): thin views over the same selectors and services as the portal's pages.

Every query goes through ``partners.scoping.scope_to_partner`` (another partner's object is a 404, exactly like
one that does not exist); roles are the pages' (``DEAL_ROLES``, ``ROUTED_ROLES``, ``STATEMENT_ROLES``).
"""

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.exceptions import NotFound
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from deals import selectors as order_selectors
from deals.filters import OrderFilter
from deals.matching import CustomerIdentity
from deals.models import Customer, Order, Registration, RoutingOffer
from deals.registrations.filters import RegistrationFilter
from deals.registrations.forms import NEW_CUSTOMER
from deals.registrations.selectors import (
    registration_detail_for_partner,
    registration_list_for_partner,
    registration_near_matches,
)
from deals.registrations.services import (
    registration_mark_lost,
    registration_request_extension,
    registration_submit,
    registration_withdraw,
)
from deals.registrations.views import DEAL_ROLES
from deals.routing.selectors import routed_offers_for_partner
from deals.routing.services import RoutingError, routed_offer_accept, routed_offer_decline
from deals.routing.views import ROUTED_ROLES
from partners.scoping import ALL_ROLES, scope_to_partner
from partners.tiers.overview import tier_overview
from portal.catalog import ProductLine
from rebates import documents
from rebates import selectors as rebate_selectors
from rebates.models import Statement
from rebates.views import STATEMENT_ROLES

from . import serializers as s
from .errors import RuleRefused, refused_from
from .idempotency import IdempotentPostMixin
from .permissions import PartnerRole
from .schema import RegistrationRefusedSerializer


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
@throttle_classes([])
def api_not_found(request):
    raise NotFound()


class PartnerAPIView(generics.GenericAPIView):
    permission_classes = [PartnerRole]
    partner_roles: tuple[str, ...] = ALL_ROLES

    def scope(self, queryset, partner_field: str = "partner"):
        return scope_to_partner(queryset, self.request.user, partner_field=partner_field)


@extend_schema(tags=["me"])
class MeView(PartnerAPIView):
    serializer_class = s.MeSerializer

    def get(self, request):
        token = request.auth
        return Response(
            s.MeSerializer(
                {
                    "email": request.user.email,
                    "partner_code": self.partner.code,
                    "partner_name": self.partner.name,
                    "role": self.membership.role,
                    "token_name": token.name,
                    "token_expires_at": token.expires_at,
                }
            ).data
        )


# --- deal registrations -------------------------------------------------------------------------------------


class RegistrationScope(PartnerAPIView):
    partner_roles = DEAL_ROLES

    def registrations(self):
        # Drafts are the portal form's (saved, never submitted); the API registers deals in one call.
        return self.scope(Registration.objects.exclude(status=Registration.Status.DRAFT))

    def get_registration(self) -> Registration:
        registration = registration_detail_for_partner(registrations=self.registrations(), number=self.kwargs["number"])
        if registration is None:
            raise Http404(_("No such registration."))
        return registration


@extend_schema_view(
    get=extend_schema(tags=["registrations"]),
    post=extend_schema(
        tags=["registrations"],
        summary="Register a deal (the portal form's rules: matching, duplicates, conflicts, auto-approval)",
        request=s.RegistrationCreateSerializer,
        responses={
            201: s.RegistrationCreatedSerializer,
            422: OpenApiResponse(
                RegistrationRefusedSerializer,
                description="Refused by a rule (e.g. you already registered this customer), or a near match: "
                'send again with customer_choice: one of near_matches\' ids, or "new".',
            ),
        },
    ),
)
class RegistrationListCreateView(IdempotentPostMixin, ListModelMixin, RegistrationScope):
    filter_backends = [DjangoFilterBackend]
    filterset_class = RegistrationFilter

    def get_queryset(self):
        return registration_list_for_partner(registrations=self.registrations())

    def get_serializer_class(self):
        return s.RegistrationCreateSerializer if self.request.method == "POST" else s.RegistrationSerializer

    def get(self, request):
        return self.list(request)

    def run(self):
        serializer = s.RegistrationCreateSerializer(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        identity = CustomerIdentity(
            name=data["customer_name"].strip(),
            country=data["customer_country"],
            vat=data.get("customer_vat", "").strip(),
            domain=data.get("customer_domain", "").strip(),
        )
        customer_id = self._chosen_customer(identity, data.get("customer_choice") or "")
        try:
            result = registration_submit(
                partner=self.partner,
                user=self.request.user,
                identity=identity,
                opportunity_name=data["opportunity_name"].strip(),
                expected_close_on=data["expected_close_on"],
                lines={line["product_line"]: line["estimated_amount"] for line in data["lines"]},
                customer_id=customer_id,
            )
        except ValidationError as error:
            raise refused_from(
                error, rename={f"amount_{line}": f"lines.{line}" for line in ProductLine.values}
            ) from None
        kind, message = result.outcome()
        registration = registration_detail_for_partner(
            registrations=self.registrations(), number=result.registration.number
        )
        body = {"result": kind, "message": message, "registration": registration}
        return Response(s.RegistrationCreatedSerializer(body).data, status=status.HTTP_201_CREATED)

    def _chosen_customer(self, identity: CustomerIdentity, choice: str) -> int | None:
        """As the form: a near match among the partner's own customers is asked about once."""
        near = registration_near_matches(identity, partner=self.partner)
        if near and not choice:
            error = RuleRefused(
                {"customer_choice": [_("A similar customer exists: choose it, or say it is a different company.")]},
                code="near_match",
            )
            error.near_matches = [{"id": c.pk, "name": c.name, "country": c.country} for c in near]
            raise error
        if not choice or choice == NEW_CUSTOMER:
            return None
        if choice not in {str(customer.pk) for customer in near}:
            raise RuleRefused({"customer_choice": [_("Choose one of the customers listed.")]}, code="invalid")
        return Customer.objects.only("pk").get(pk=choice).pk


@extend_schema(tags=["registrations"])
class RegistrationDetailView(RegistrationScope):
    serializer_class = s.RegistrationDetailSerializer

    def get(self, request, number):
        return Response(s.RegistrationDetailSerializer(self.get_registration()).data)


class RegistrationActionView(IdempotentPostMixin, RegistrationScope):
    """One POST on one registration; a refusal by the rules is a 422 with the page's message."""

    input_serializer = s.NoteSerializer

    def get_serializer_class(self):
        return self.input_serializer

    def act(self, registration, data):
        raise NotImplementedError

    def run(self, number):
        registration = self.get_registration()
        serializer = self.input_serializer(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        try:
            self.act(registration, serializer.validated_data)
        except ValidationError as error:
            raise refused_from(error) from None
        return Response(s.RegistrationDetailSerializer(self.get_registration()).data)


def _registration_action(summary: str, request_serializer):
    return extend_schema(
        tags=["registrations"], summary=summary, request=request_serializer, responses=s.RegistrationDetailSerializer
    )


@_registration_action("Withdraw a submitted registration", s.NoteSerializer)
class RegistrationWithdrawView(RegistrationActionView):
    def act(self, registration, data):
        registration_withdraw(registration=registration, actor=self.request.user, note=data.get("note", ""))


@_registration_action("Mark an approved registration lost", s.NoteSerializer)
class RegistrationLostView(RegistrationActionView):
    def act(self, registration, data):
        registration_mark_lost(registration=registration, actor=self.request.user, note=data.get("note", ""))


@_registration_action("Request the one extension of protection", s.ReasonSerializer)
class RegistrationExtensionView(RegistrationActionView):
    input_serializer = s.ReasonSerializer

    def act(self, registration, data):
        registration_request_extension(registration=registration, actor=self.request.user, reason=data["reason"])


# --- routed orders --------------------------------------------------------------------------------------------

PENDING = OpenApiParameter(
    "pending", OpenApiTypes.BOOL, description="true: open offers (default); false: the answered history"
)


class RoutedScope(PartnerAPIView):
    partner_roles = ROUTED_ROLES

    def offers(self):
        return self.scope(RoutingOffer.objects.all())


@extend_schema(tags=["routed orders"], parameters=[PENDING])
class RoutedOfferListView(ListModelMixin, RoutedScope):
    serializer_class = s.RoutedOfferSerializer

    def get_queryset(self):
        pending = self.request.query_params.get("pending", "true").lower() not in ("false", "0")
        return routed_offers_for_partner(offers=self.offers(), pending=pending)

    def get(self, request):
        return self.list(request)


class RoutedOfferActionView(IdempotentPostMixin, RoutedScope):
    action = ""

    def get_serializer_class(self):
        return s.ReasonSerializer if self.action == "decline" else s.NoteSerializer

    def run(self, pk):
        offer = self.offers().filter(pk=pk).select_related("case__order__customer").first()
        if offer is None:
            raise Http404(_("No such routed order."))
        try:
            if self.action == "accept":
                routed_offer_accept(offer=offer, user=self.request.user)
            else:
                serializer = s.ReasonSerializer(data=self.request.data)
                serializer.is_valid(raise_exception=True)
                routed_offer_decline(offer=offer, user=self.request.user, reason=serializer.validated_data["reason"])
        except RoutingError as error:
            raise RuleRefused({"__all__": [str(error)]}, code="routing") from None
        offer = routed_offers_for_partner(offers=self.offers().filter(pk=pk), pending=False).first() or offer
        return Response(s.RoutedOfferSerializer(offer).data)


@extend_schema(tags=["routed orders"], summary="Accept a routed order", request=None, responses=s.RoutedOfferSerializer)
class RoutedOfferAcceptView(RoutedOfferActionView):
    action = "accept"


@extend_schema(
    tags=["routed orders"],
    summary="Decline a routed order, with a reason",
    request=s.ReasonSerializer,
    responses=s.RoutedOfferSerializer,
)
class RoutedOfferDeclineView(RoutedOfferActionView):
    action = "decline"


# --- orders ---------------------------------------------------------------------------------------------------


@extend_schema(tags=["orders"])
class OrderListView(ListModelMixin, PartnerAPIView):
    serializer_class = s.OrderSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = OrderFilter

    def get_queryset(self):
        return order_selectors.order_list_for_partner(orders=self.scope(Order.objects.all()))

    def get(self, request):
        return self.list(request)


@extend_schema(tags=["orders"])
class OrderDetailView(PartnerAPIView):
    serializer_class = s.OrderDetailSerializer

    def get(self, request, number):
        order = order_selectors.order_detail_for_partner(orders=self.scope(Order.objects.all()), number=number)
        if order is None:
            raise Http404(_("No such order."))
        return Response(s.OrderDetailSerializer(order).data)


# --- statements -----------------------------------------------------------------------------------------------


class StatementScope(PartnerAPIView):
    partner_roles = STATEMENT_ROLES

    def get_statement(self) -> Statement:
        statement = rebate_selectors.statement_for_partner(
            statements=self.scope(Statement.objects.all()), number=self.kwargs["number"]
        )
        if statement is None:
            raise Http404(_("No such statement."))
        return statement


@extend_schema(tags=["statements"])
class StatementListView(ListModelMixin, StatementScope):
    serializer_class = s.StatementSerializer

    def get_queryset(self):
        return self.scope(Statement.objects.all())

    def get(self, request):
        return self.list(request)


@extend_schema(tags=["statements"])
class StatementDetailView(StatementScope):
    serializer_class = s.StatementDetailSerializer

    def get(self, request, number):
        statement = self.get_statement()
        context = {
            "summary": rebate_selectors.statement_summary(statement),
            "lines": rebate_selectors.statement_page_lines(statement),
        }
        return Response(s.StatementDetailSerializer(statement, context=context).data)


class StatementDownloadView(StatementScope):
    """A file, not JSON: content negotiation never refuses it (errors are still JSON)."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


@extend_schema(tags=["statements"], responses={(200, "text/csv"): OpenApiTypes.STR})
class StatementCsvView(StatementDownloadView):
    def get(self, request, number):
        statement = self.get_statement()
        text = documents.statements_csv(Statement.objects.filter(pk=statement.pk))
        response = HttpResponse("\ufeff" + text, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{statement.number}.csv"'
        return response


@extend_schema(tags=["statements"], responses={(200, "application/pdf"): OpenApiTypes.BINARY})
class StatementPdfView(StatementDownloadView):
    def get(self, request, number):
        statement = self.get_statement()
        response = HttpResponse(documents.statement_pdf(statement), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{statement.number}.pdf"'
        return response


# --- my tier --------------------------------------------------------------------------------------------------


def _tier_ref(tier):
    return {"code": tier.code, "name": tier.name} if tier else None


def _value(row) -> str:
    return f"{row:.2f}" if not isinstance(row, int) else str(row)


def _paths(statuses) -> list[dict]:
    return [
        {
            "path": status_.gap.requirement.path,
            "met": status_.gap.met,
            "shortfalls": status_.gap.shortfalls(),
            "rows": [
                {
                    "key": row["key"],
                    "have": _value(row["have"]),
                    "need": _value(row["need"]),
                    "missing": _value(row["missing"]),
                    "met": row["met"],
                }
                for row in status_.rows
            ],
        }
        for status_ in statuses
    ]


def _figures(figures) -> dict:
    return {
        "qualifying_revenue": figures.qualifying_revenue,
        "services_revenue": figures.services_revenue,
        "certified_people": figures.certified_people,
        "competencies": figures.competencies,
    }


@extend_schema(tags=["tier"])
class TierView(PartnerAPIView):
    serializer_class = s.TierSerializer

    def get(self, request):
        today = timezone.localdate()
        overview = tier_overview(partner=self.partner, as_of=today)
        evaluation = overview.evaluation
        body = {
            "as_of": today,
            "tier": _tier_ref(overview.tier),
            "computed_tier": _tier_ref(overview.computed_tier),
            "since": overview.since.effective_on if overview.since else None,
            "attested": evaluation.attested,
            "figures": _figures(evaluation.figures),
            "raw_figures": _figures(evaluation.raw),
            "at_risk": overview.at_risk,
            "at_risk_paths": _paths(overview.at_risk_paths) if overview.at_risk else [],
            "review_on": overview.review_on,
            "next_tier": _tier_ref(overview.next_tier),
            "next_paths": _paths(overview.next_paths),
            "award": {"awarded_on": overview.award.awarded_on, "last_day": overview.award_last_day}
            if overview.award
            else None,
            "history": [
                {
                    "from_tier": change.from_tier.code if change.from_tier else None,
                    "to_tier": change.to_tier.code,
                    "effective_on": change.effective_on,
                    "reason": change.reason,
                    "note": change.note,
                }
                for change in overview.history
            ],
        }
        return Response(s.TierSerializer(body).data)
