from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView

from partners.scoping import ROLE_ADMIN, PartnerViewMixin
from portal.catalog import ProductLine

from . import selectors, services
from .dashboard import dashboard_card_values, dashboard_cards
from .forms import CertificationRecordForm, InvitationAcceptForm, InvitationForm, PersonForm, RoleForm
from .models import CertificationRecord, Invitation, Membership, Person
from .tiers.forecast import tier_outlook
from .tiers.overview import tier_overview
from .view_as import partner_view_stop


class DashboardView(PartnerViewMixin, TemplateView):
    template_name = "partners/dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["tier_history"] = selectors.partner_tier_history(partner=self.partner)[:5]
        # The other apps' cards (routed orders and protections, the rebate accrual), each for its roles.
        role, today = self.membership.role, timezone.localdate()
        context["dashboard_cards"] = dashboard_cards(role=role)
        context.update(dashboard_card_values(partner=self.partner, role=role, today=today))
        return context


def home(request):
    """Send partner users (and staff viewing as a partner) to the dashboard, staff to the admin, everyone else to
    the login."""
    if not request.user.is_authenticated:
        return redirect("account_login")
    if request.user.is_staff and not hasattr(request.user, "membership") and not hasattr(request, "viewing_as"):
        return redirect("admin:index")
    return redirect("dashboard")


@require_POST
def view_as_stop(request):
    """Stop viewing as a partner (logged) and go back to that partner's admin page."""
    viewing = partner_view_stop(request=request)
    if viewing is None:
        return redirect("home")
    return redirect("admin:partners_partner_change", viewing.partner_id)


class TeamView(PartnerViewMixin, View):
    partner_roles = (ROLE_ADMIN,)
    template_name = "partners/team.html"

    def render_page(self, form, status=200):
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "members": selectors.team_members(partner=self.partner),
                "invitations": selectors.team_open_invitations(partner=self.partner),
                "role_choices": Membership.Role.choices,
            },
            status=status,
        )

    def get(self, request):
        return self.render_page(InvitationForm())

    def post(self, request):
        form = InvitationForm(request.POST)
        if form.is_valid():
            try:
                services.invitation_create(
                    partner=self.partner,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    invited_by=request.user,
                    base_url=request.build_absolute_uri("/"),
                )
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    for message in errors:
                        form.add_error(field if field in form.fields else None, message)
            else:
                messages.success(request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]})
                return redirect("team")
        return self.render_page(form, status=400)


class MembershipRoleView(PartnerViewMixin, View):
    partner_roles = (ROLE_ADMIN,)

    def post(self, request, pk):
        membership = get_object_or_404(self.scope(Membership.objects.all()), pk=pk)
        form = RoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose a role."))
            return redirect("team")
        try:
            services.membership_change_role(
                membership=membership, role=form.cleaned_data["role"], changed_by=request.user
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Role updated."))
        return redirect("team")


class MembershipRemoveView(PartnerViewMixin, View):
    """Removing a colleague's access is confirmed on its own page first (GET), then done (POST)."""

    partner_roles = (ROLE_ADMIN,)

    def get(self, request, pk):
        membership = get_object_or_404(self.scope(Membership.objects.select_related("user")), pk=pk)
        name = membership.user.get_full_name() or membership.user.email
        return render(
            request,
            "partners/membership_remove.html",
            {
                "title": _("Remove %(name)s from the team") % {"name": name},
                "question": _(
                    "%(name)s (%(email)s) will no longer be able to sign in. Their deals and certifications stay."
                )
                % {"name": name, "email": membership.user.email},
                "button": _("Remove access"),
                "button_class": "btn btn-danger",
                "form": None,
            },
        )

    def post(self, request, pk):
        membership = get_object_or_404(self.scope(Membership.objects.all()), pk=pk)
        name = membership.user.get_full_name() or membership.user.email
        try:
            services.membership_remove(membership=membership, removed_by=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("%(name)s no longer has access to the portal.") % {"name": name})
        return redirect("team")


class InvitationRevokeView(PartnerViewMixin, View):
    partner_roles = (ROLE_ADMIN,)

    def post(self, request, pk):
        invitation = get_object_or_404(self.scope(Invitation.objects.filter(accepted_at=None)), pk=pk)
        services.invitation_revoke(invitation=invitation)
        messages.success(request, _("Invitation withdrawn."))
        return redirect("team")


class InvitationAcceptView(View):
    template_name = "partners/invitation_accept.html"

    def get_invitation(self, token):
        invitation = get_object_or_404(Invitation.objects.select_related("partner", "invited_by"), token=token)
        # The page speaks the email's language (the invitee's, not the inviter's) until the visitor picks one.
        if settings.LANGUAGE_COOKIE_NAME not in self.request.COOKIES:
            language = services.invitation_language(partner=invitation.partner, invited_by=invitation.invited_by)
            translation.activate(language)
            self.request.LANGUAGE_CODE = language
        return invitation

    def get(self, request, token):
        invitation = self.get_invitation(token)
        form = InvitationAcceptForm(email=invitation.email)
        return render(request, self.template_name, {"invitation": invitation, "form": form})

    def post(self, request, token):
        invitation = self.get_invitation(token)
        form = InvitationAcceptForm(request.POST, email=invitation.email)
        if form.is_valid():
            try:
                user = services.invitation_accept(
                    invitation=invitation,
                    first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"],
                    password=form.cleaned_data["password1"],
                    language=get_language() or "en",
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, _("Welcome to the partner portal."))
                return redirect("dashboard")
        return render(request, self.template_name, {"invitation": invitation, "form": form}, status=400)


class MyTierView(PartnerViewMixin, TemplateView):
    """The partner's tier today: figures with and without 1.25X, the next tier's paths, risk, award, history."""

    template_name = "partners/my_tier.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        overview = tier_overview(partner=self.partner, as_of=timezone.localdate())
        context["overview"] = overview
        context["outlook"] = tier_outlook(evaluation=overview.evaluation, next_tier=overview.next_tier)
        return context


# --- People & certifications (partner admins) ------------------------------------------------------------


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    for field, messages_ in error.message_dict.items():
        for message in messages_:
            form.add_error(field if field in form.fields else None, message)


class PeopleView(PartnerViewMixin, View):
    partner_roles = (ROLE_ADMIN,)
    template_name = "partners/people.html"

    def people(self):
        return self.scope(Person.objects.all(), "partner")

    def render_page(self, *, person_form=None, record_form=None, status=200):
        today = timezone.localdate()
        people_list = list(selectors.people_with_certifications(people=self.people()))
        pending = 0
        for person in people_list:
            for record in person.certifications.all():
                record.is_active = record.is_active_on(today)  # on the prefetched rows, no query
                pending += record.is_pending
        records = self.scope(CertificationRecord.objects.all(), "person__partner")
        summary = selectors.certification_summary(records=records, day=today)
        labels = dict(ProductLine.choices)
        return render(
            self.request,
            self.template_name,
            {
                "people": people_list,
                "today": today,
                "certified_people": summary.certified_people,
                "pending": pending,
                "competencies": [labels.get(value, value) for value in summary.competencies],
                "person_form": person_form or PersonForm(),
                "record_form": record_form or CertificationRecordForm(people=self.people().order_by("name")),
            },
            status=status,
        )

    def get(self, request):
        return self.render_page()

    def post(self, request):
        if request.POST.get("form") == "certification":
            return self.post_certification(request)
        form = PersonForm(request.POST)
        if form.is_valid():
            try:
                person = services.person_add(partner=self.partner, **form.cleaned_data)
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, _("%(name)s was added.") % {"name": person.name})
                return redirect("people")
        return self.render_page(person_form=form, status=400)

    def post_certification(self, request):
        scoped = self.people()
        # A person of another partner (or no such person) is not found, the same as a page it cannot see.
        person_id = request.POST.get("person", "")
        if person_id and (not person_id.isdigit() or not scoped.filter(pk=person_id).exists()):
            raise Http404(_("No such person."))
        form = CertificationRecordForm(request.POST, people=scoped.order_by("name"))
        if form.is_valid():
            data = form.cleaned_data
            try:
                record = services.certification_record_add(
                    person=data["person"],
                    certification=data["certification"],
                    earned_on=data["earned_on"],
                    expires_on=data["expires_on"],
                    entered_by=request.user,
                )
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(
                    request,
                    _(
                        "%(certification)s recorded for %(name)s. It counts towards your tier once channel staff "
                        "have verified it."
                    )
                    % {"certification": record.certification.code, "name": record.person.name},
                )
                return redirect("people")
        return self.render_page(record_form=form, status=400)
