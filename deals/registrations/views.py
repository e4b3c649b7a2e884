"""The partner's deal registration pages (sales and admin roles): register, list and export, detail, actions."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import FormView, TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from partners.scoping import ROLE_ADMIN, ROLE_SALES, PartnerViewMixin
from portal.csvexport import FilteredCsvExportMixin
from portal.forms import ConfirmForm

from ..models import Customer, Registration
from .filters import RegistrationFilter
from .forms import (
    NEW_CUSTOMER,
    ExtensionRequestForm,
    LostForm,
    RegistrationForm,
)
from .selectors import (
    extension_can_request,
    extension_window,
    partner_own_customer_names,
    registration_can_mark_lost,
    registration_can_withdraw,
    registration_detail_for_partner,
    registration_list_for_partner,
    registration_near_matches,
)
from .services import (
    registration_mark_lost,
    registration_request_extension,
    registration_submit,
    registration_withdraw,
)
from .tables import RegistrationTable, registration_export_rows

DEAL_ROLES = (ROLE_ADMIN, ROLE_SALES)


class RegistrationScopeMixin(PartnerViewMixin):
    partner_roles = DEAL_ROLES

    def registrations(self):
        return self.scope(Registration.objects.all(), "partner")

    def get_registration(self) -> Registration:
        registration = registration_detail_for_partner(registrations=self.registrations(), number=self.kwargs["number"])
        if registration is None:  # another partner's number looks exactly like a number that does not exist
            raise Http404(_("No such registration."))
        return registration


class RegistrationListView(RegistrationScopeMixin, FilteredCsvExportMixin, SingleTableMixin, FilterView):
    export_prefix = "registrations"
    template_name = "deals/registration_list.html"
    table_class = RegistrationTable
    filterset_class = RegistrationFilter
    table_pagination = {"per_page": 25}

    def get_queryset(self):
        return registration_list_for_partner(registrations=self.registrations())

    def export_rows(self, registrations):
        return registration_export_rows(registrations)


class RegistrationCreateView(RegistrationScopeMixin, FormView):
    template_name = "deals/registration_form.html"
    form_class = RegistrationForm

    def get_initial(self):
        return {"token": RegistrationForm.new_token(), "customer_country": self.partner.country}

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "own_customers": partner_own_customer_names(partner=self.partner)}

    def form_valid(self, form):
        identity = form.identity()
        choice = form.cleaned_data["customer_choice"]
        customer_id = None
        near = registration_near_matches(identity, partner=self.partner)
        if near and not choice:
            # Ask once: a similar customer exists; the partner picks it or says it is another company.
            form.set_near_matches(near)
            form.near_match_warning = True
            return self.render_to_response(self.get_context_data(form=form))
        if choice and choice != NEW_CUSTOMER:
            allowed = {str(customer.pk) for customer in near}
            if choice not in allowed:
                form.add_error("customer_choice", _("Choose one of the customers listed."))
                form.set_near_matches(near)
                return self.form_invalid(form)
            customer_id = Customer.objects.only("pk").get(pk=choice).pk
        try:
            result = registration_submit(
                partner=self.partner,
                user=self.request.user,
                identity=identity,
                opportunity_name=form.cleaned_data["opportunity_name"].strip(),
                expected_close_on=form.cleaned_data["expected_close_on"],
                lines=form.lines(),
                token=form.cleaned_data["token"],
                customer_id=customer_id,
            )
        except ValidationError as error:
            for field, field_errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, field_errors)
            form.set_near_matches(near)
            return self.form_invalid(form)
        registration = result.registration
        if result.created:
            kind, message = result.outcome()
            (messages.warning if kind == "already_registered" else messages.success)(self.request, message)
        return redirect("deals:registration_detail", number=registration.number)


class RegistrationDetailView(RegistrationScopeMixin, TemplateView):
    template_name = "deals/registration_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        registration = self.get_registration()
        today = timezone.localdate()
        context.update(
            registration=registration,
            can_withdraw=registration_can_withdraw(registration),
            can_mark_lost=registration_can_mark_lost(registration),
            can_extend=extension_can_request(registration, today=today),
            extension_window=extension_window(registration),
            already_registered=registration.conflict_with_id is not None
            and registration.status == Registration.Status.SUBMITTED,
        )
        return context


class RegistrationActionView(RegistrationScopeMixin, FormView):
    """A confirmation page (GET) and the action itself (POST) on one registration."""

    template_name = "deals/registration_confirm.html"
    form_class = ConfirmForm
    title = ""
    question = ""
    button = ""
    button_class = "btn"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            registration=self.registration,
            title=self.title,
            question=self.question,
            button=self.button,
            button_class=self.button_class,
        )
        return context

    def allowed(self) -> bool:
        """Whether the action applies to the registration now (the service decides again, under its lock)."""
        return True

    def refusal(self) -> str:
        """What the partner is told when the action does not apply."""
        return ""

    def get(self, request, *args, **kwargs):
        self.registration = self.get_registration()
        if not self.allowed():  # no form for an action that cannot be done: say why, on the registration
            messages.info(request, self.refusal())
            return redirect("deals:registration_detail", number=self.registration.number)
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        self.registration = self.get_registration()
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        try:
            self.act(form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error.messages)
            return self.form_invalid(form)
        messages.success(self.request, self.done())
        return redirect("deals:registration_detail", number=self.registration.number)


class RegistrationWithdrawView(RegistrationActionView):
    button_class = "btn btn-danger"

    def refusal(self):
        return _("Only a submitted registration can be withdrawn.")

    def allowed(self):
        return registration_can_withdraw(self.registration)

    def get_context_data(self, **kwargs):
        self.title = _("Withdraw registration %s") % self.registration.number
        self.question = _("Withdraw this registration? Channel staff will no longer review it.")
        self.button = _("Withdraw")
        return super().get_context_data(**kwargs)

    def act(self, data):
        registration_withdraw(registration=self.registration, actor=self.request.user)

    def done(self):
        return _("Registration %s is withdrawn.") % self.registration.number


class RegistrationLostView(RegistrationActionView):
    form_class = LostForm
    button_class = "btn btn-danger"

    def refusal(self):
        return _("Only an approved registration can be marked lost.")

    def allowed(self):
        return registration_can_mark_lost(self.registration)

    def get_context_data(self, **kwargs):
        self.title = _("Mark registration %s lost") % self.registration.number
        self.question = _("Mark this deal lost? Its protection ends now.")
        self.button = _("Mark lost")
        return super().get_context_data(**kwargs)

    def act(self, data):
        registration_mark_lost(registration=self.registration, actor=self.request.user, note=data.get("note", ""))

    def done(self):
        return _("Registration %s is marked lost.") % self.registration.number


class RegistrationExtensionView(RegistrationActionView):
    form_class = ExtensionRequestForm

    def get_context_data(self, **kwargs):
        self.title = _("Request an extension of %s") % self.registration.number
        self.question = _("You can request one extension in the last days of protection. Channel staff decide.")
        self.button = _("Request the extension")
        return super().get_context_data(**kwargs)

    def refusal(self):
        return _(
            "This registration cannot be extended now: an approved registration can ask for one extension, "
            "in the last days of its protection."
        )

    def allowed(self):
        return extension_can_request(self.registration, today=timezone.localdate())

    def act(self, data):
        registration_request_extension(registration=self.registration, actor=self.request.user, reason=data["reason"])

    def done(self):
        return _("Your extension request for %s is sent to channel staff.") % self.registration.number
