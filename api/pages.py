"""The portal page where a partner user lists, creates and revokes its own API tokens (every role)."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import View

from partners.scoping import ROLE_ADMIN, PartnerViewMixin
from portal.events import REGISTRATION_DECIDED, ROUTED_OFFER_RECEIVED, STATEMENT_ISSUED

from .models import ApiToken, WebhookDelivery, WebhookSubscription
from .services import DEFAULT_VALID_DAYS, MAX_VALID_DAYS, api_token_create, api_token_revoke
from .webhooks import webhook_disable, webhook_subscribe


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100, help_text=gettext_lazy("e.g. our CRM"))
    valid_days = forms.IntegerField(
        label=gettext_lazy("Valid for (days)"), min_value=1, max_value=MAX_VALID_DAYS, initial=DEFAULT_VALID_DAYS
    )


class ApiTokensView(PartnerViewMixin, View):
    """GET: the user's tokens and the form. POST ``create``: a new token, shown once. POST ``revoke``: one of the
    user's own tokens (a token of anyone else is a 404)."""

    template_name = "api/tokens.html"

    def tokens(self):
        # Personal: a user sees and revokes its own tokens, of its partner only.
        return self.scope(ApiToken.objects.filter(user=self.request.user))

    def render_page(self, *, form=None, secret=None, status=200):
        context = {
            "tokens": list(self.tokens()),
            "form": form or TokenForm(),
            "secret": secret,
            "now": timezone.now(),
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request):
        return self.render_page()

    def post(self, request):
        if "revoke" in request.POST:
            pk = request.POST["revoke"]
            token = self.tokens().filter(pk=pk).first() if pk.isdigit() else None
            if token is None:
                raise Http404(_("No such token."))
            api_token_revoke(token=token)
            messages.success(request, _("Token “%(name)s” is revoked.") % {"name": token.name})
            return redirect("api_tokens")
        form = TokenForm(request.POST)
        if not form.is_valid():
            return self.render_page(form=form, status=400)
        try:
            created = api_token_create(
                user=request.user, name=form.cleaned_data["name"], valid_days=form.cleaned_data["valid_days"]
            )
        except ValidationError as error:
            for field, field_errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, field_errors)
            return self.render_page(form=form, status=400)
        # Rendered, not redirected: the secret is in this one answer only (the page is never cached).
        return self.render_page(secret=created.secret)


class WebhookForm(forms.Form):
    url = forms.URLField(label=gettext_lazy("Address (URL)"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=[
            (REGISTRATION_DECIDED, gettext_lazy("A deal registration is decided")),
            (ROUTED_OFFER_RECEIVED, gettext_lazy("An order is routed to you")),
            (STATEMENT_ISSUED, gettext_lazy("A rebate statement is issued")),
        ],
        widget=forms.CheckboxSelectMultiple,
    )


class WebhooksView(PartnerViewMixin, View):
    """Partner admins: the partner's webhook subscriptions, their recent deliveries, subscribe and disable."""

    partner_roles = (ROLE_ADMIN,)
    template_name = "api/webhooks.html"
    LOG_ROWS = 50

    def subscriptions(self):
        return self.scope(WebhookSubscription.objects.all())

    def render_page(self, *, form=None, created=None, status=200):
        deliveries = (
            WebhookDelivery.objects.filter(subscription__in=self.subscriptions())
            .select_related("subscription")
            .order_by("-created_at", "-id")[: self.LOG_ROWS]
        )
        context = {
            "subscriptions": list(self.subscriptions()),
            "deliveries": list(deliveries),
            "form": form or WebhookForm(),
            "created": created,
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request):
        return self.render_page()

    def post(self, request):
        if "disable" in request.POST:
            pk = request.POST["disable"]
            subscription = self.subscriptions().filter(pk=pk).first() if pk.isdigit() else None
            if subscription is None:
                raise Http404(_("No such webhook."))
            webhook_disable(subscription=subscription)
            messages.success(request, _("The webhook to %(url)s is disabled.") % {"url": subscription.url})
            return redirect("api_webhooks")
        form = WebhookForm(request.POST)
        if not form.is_valid():
            return self.render_page(form=form, status=400)
        try:
            created = webhook_subscribe(
                partner=self.partner,
                user=request.user,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
            )
        except ValidationError as error:
            for field, field_errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, field_errors)
            return self.render_page(form=form, status=400)
        return self.render_page(created=created)
