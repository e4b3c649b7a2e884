"""The partner's deal registration pages (sales and admin roles): register, list and export, detail, actions."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
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
    registration_can_edit,
    registration_can_mark_lost,
    registration_can_withdraw,
    registration_detail_for_partner,
    registration_drafts_for_partner,
    registration_list_for_partner,
    registration_near_matches,
)
from .services import (
    registration_delete_draft,
    registration_mark_lost,
    registration_request_extension,
    registration_save_draft,
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
        # Drafts are listed apart (``drafts``): they were never submitted and have no status to filter by.
        return registration_list_for_partner(
            registrations=self.registrations().exclude(status=Registration.Status.DRAFT),
            whole=self.request.GET.get("export") == "csv",
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["drafts"] = registration_drafts_for_partner(registrations=self.registrations())
        return context

    def export_rows(self, registrations):
        return registration_export_rows(registrations)


class RegistrationCreateView(RegistrationScopeMixin, FormView):
    """Register a deal, or save it as a draft ("save_draft" button: only the customer's name is needed)."""

    template_name = "deals/registration_form.html"
    form_class = RegistrationForm
    registration = None  # the draft or rejected registration being edited (``RegistrationEditView``)

    def get_initial(self):
        return {"token": RegistrationForm.new_token(), "customer_country": self.partner.country}

    def saving_draft(self) -> bool:
        return self.request.method == "POST" and "save_draft" in self.request.POST and self.can_save_draft()

    def can_save_draft(self) -> bool:
        """A new registration or a draft can be saved as a draft; a rejected one is corrected and resubmitted."""
        return self.registration is None or self.registration.status == Registration.Status.DRAFT

    def get_form_kwargs(self):
        return {
            **super().get_form_kwargs(),
            "own_customers": partner_own_customer_names(partner=self.partner),
            "draft": self.saving_draft(),
        }

    def get_context_data(self, **kwargs):
        return super().get_context_data(registration=self.registration, can_save_draft=self.can_save_draft(), **kwargs)

    def form_valid(self, form):
        if form.draft:
            return self.draft_valid(form)
        return self.submit_valid(form)

    def draft_valid(self, form):
        try:
            draft = registration_save_draft(
                partner=self.partner,
                user=self.request.user,
                data=form.draft_data(),
                token=form.cleaned_data["token"],
                registration=self.registration,
            )
        except ValidationError as error:
            for field, field_errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, field_errors)
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("Draft %s is saved. It is not submitted: nobody else sees it until you submit it.") % draft.number,
        )
        return redirect("deals:registration_edit", number=draft.number)

    def submit_valid(self, form):
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
                registration=self.registration,
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


class RegistrationEditView(RegistrationCreateView):
    """Edit and submit a draft, or correct and resubmit a rejected registration: the form of a new one, prefilled,
    and the same submission; the registration keeps its number and history."""

    def get(self, request, *args, **kwargs):
        self.registration = self.get_registration()
        if not registration_can_edit(self.registration):  # no form: say why, on the registration
            messages.info(request, self.refusal())
            return redirect("deals:registration_detail", number=self.registration.number)
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        self.registration = self.get_registration()
        return super().post(request, *args, **kwargs)

    @staticmethod
    def refusal() -> str:
        return _(
            "Only a draft or a rejected registration can be edited: a submitted or decided registration stays "
            "as channel staff saw it."
        )

    def get_initial(self):
        initial = {**RegistrationForm.initial_from(self.registration), "token": RegistrationForm.new_token()}
        initial["customer_country"] = initial.get("customer_country") or self.partner.country  # as a new form
        return initial


class RegistrationDeleteDraftView(RegistrationScopeMixin, FormView):
    """Delete a draft (confirmation page, then the deletion)."""

    template_name = "deals/registration_confirm.html"
    form_class = ConfirmForm

    def get(self, request, *args, **kwargs):
        self.registration = self.get_registration()
        if self.registration.status != Registration.Status.DRAFT:
            messages.info(request, _("Only a draft can be deleted."))
            return redirect("deals:registration_detail", number=self.registration.number)
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        self.registration = self.get_registration()
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            registration=self.registration,
            title=_("Delete draft %s") % self.registration.number,
            question=_("Delete this draft? It was never submitted; it cannot be recovered."),
            button=_("Delete draft"),
            button_class="btn btn-danger",
            cancel_url=reverse("deals:registration_edit", kwargs={"number": self.registration.number}),
            **kwargs,
        )

    def form_valid(self, form):
        try:
            registration_delete_draft(registration=self.registration, partner=self.partner)
        except ValidationError as error:
            messages.info(self.request, " ".join(error.messages))
            return redirect("deals:registration_detail", number=self.registration.number)
        messages.success(self.request, _("Draft %s is deleted.") % self.registration.number)
        return redirect("deals:registration_list")


class RegistrationDetailView(RegistrationScopeMixin, TemplateView):
    template_name = "deals/registration_detail.html"

    def get(self, request, *args, **kwargs):
        registration = self.get_registration()
        if registration.status == Registration.Status.DRAFT:  # a draft is its form
            return redirect("deals:registration_edit", number=registration.number)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        registration = self.get_registration()
        today = timezone.localdate()
        context.update(
            registration=registration,
            can_resubmit=registration_can_edit(registration),
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
