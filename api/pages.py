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

from partners.scoping import PartnerViewMixin

from .models import ApiToken
from .services import DEFAULT_VALID_DAYS, MAX_VALID_DAYS, api_token_create, api_token_revoke


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
