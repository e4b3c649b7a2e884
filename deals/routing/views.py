"""The partner's "Routed orders" page (admin and sales roles): open offers with accept / decline, and the history.

Every query goes through ``PartnerViewMixin.scope``: another partner's offer is a 404, exactly like one that does
not exist. Accept and decline are a link to a confirmation page, then one POST; posting twice is harmless (the
services are idempotent).
"""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView, TemplateView

from partners.scoping import ROLE_ADMIN, ROLE_SALES, PartnerViewMixin
from portal.forms import ConfirmForm

from ..models import RoutingOffer
from .selectors import routed_offers_for_partner
from .services import RoutingError, routed_offer_accept, routed_offer_decline
from .tables import RoutedHistoryTable, RoutedPendingTable

ROUTED_ROLES = (ROLE_ADMIN, ROLE_SALES)
HISTORY_ROWS = 100


def _with_order_figures(offers):
    """Attach ``lines`` (the order's lines) and ``total`` to each offer, from the prefetched lines."""
    offers = list(offers)
    for offer in offers:
        offer.lines = sorted(offer.case.order.lines.all(), key=lambda line: line.line_number)
        offer.total = sum((line.net_amount for line in offer.lines), start=Decimal("0.00"))
    return offers


class RoutedScopeMixin(PartnerViewMixin):
    partner_roles = ROUTED_ROLES

    def offers(self):
        return self.scope(RoutingOffer.objects.all(), "partner")


class RoutedListView(RoutedScopeMixin, TemplateView):
    template_name = "deals/routed_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["pending"] = _with_order_figures(routed_offers_for_partner(offers=self.offers(), pending=True))
        context["history"] = _with_order_figures(
            routed_offers_for_partner(offers=self.offers(), pending=False)[:HISTORY_ROWS]
        )
        context["pending_table"] = RoutedPendingTable(context["pending"])
        context["history_table"] = RoutedHistoryTable(context["history"])
        return context


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why do you decline this order?"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class RoutedOfferActionView(RoutedScopeMixin, FormView):
    """Confirm, then accept or decline one offer of the signed-in user's partner."""

    template_name = "deals/routed_confirm.html"
    action = ""  # "accept" | "decline"

    def get_offer(self) -> RoutingOffer:
        if not hasattr(self, "_offer"):
            offers = _with_order_figures(
                self.offers().filter(pk=self.kwargs["pk"]).select_related("case__order__customer")
            )
            if not offers:
                raise Http404(_("No such routed order."))
            self._offer = offers[0]
        return self._offer

    def get_form_class(self):
        return DeclineForm if self.action == "decline" else ConfirmForm

    def get(self, request, *args, **kwargs):
        offer = self.get_offer()
        if offer.status != RoutingOffer.Status.OFFERED:
            messages.info(request, _("This offer was already answered or is no longer open."))
            return redirect("deals:routed_list")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        offer = self.get_offer()
        context["offer"] = offer
        context["action"] = self.action
        if self.action == "accept":
            context["title"] = _("Accept routed order %(number)s") % {"number": offer.case.order.number}
            context["question"] = _(
                "The order will count as your company's order from its booked date (tier, rebates, channel lock)."
            )
            context["button"] = _("Accept the order")
            context["button_class"] = ""
        else:
            context["title"] = _("Decline routed order %(number)s") % {"number": offer.case.order.number}
            context["question"] = _(
                "The order goes to the next eligible partner, if there is one; otherwise it stays with Dell EMC. "
                "This cannot be undone."
            )
            context["button"] = _("Decline the order")
            context["button_class"] = "btn-danger"
        return context

    def form_valid(self, form):
        offer = self.get_offer()
        try:
            if self.action == "accept":
                routed_offer_accept(offer=offer, user=self.request.user)
                messages.success(
                    self.request,
                    _("Order %(number)s accepted: it now counts as yours.") % {"number": offer.case.order.number},
                )
            else:
                routed_offer_decline(offer=offer, user=self.request.user, reason=form.cleaned_data["reason"])
                messages.success(self.request, _("Order %(number)s declined.") % {"number": offer.case.order.number})
        except RoutingError as error:
            messages.error(self.request, str(error))
            return redirect("deals:routed_list")
        return redirect("deals:routed_list")
