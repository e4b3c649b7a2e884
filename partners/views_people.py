"""People & certifications, for partner admins: the partner's people, their records, and forms to add both.

Kept apart from ``views.py`` (team and dashboard); the two forms live here because only this page uses them.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from partners.scoping import ROLE_ADMIN, PartnerViewMixin
from portal.catalog import ProductLine

from . import people
from .models import Certification, CertificationRecord, Person


class DateInput(forms.DateInput):
    input_type = "date"


class PersonForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    email = forms.EmailField(label=gettext_lazy("Email"))


class CertificationRecordForm(forms.Form):
    person = forms.ModelChoiceField(label=gettext_lazy("Person"), queryset=Person.objects.none())
    certification = forms.ModelChoiceField(
        label=gettext_lazy("Certification"), queryset=Certification.objects.order_by("code")
    )
    earned_on = forms.DateField(label=gettext_lazy("Earned on"), widget=DateInput)
    expires_on = forms.DateField(
        label=gettext_lazy("Expires on"),
        widget=DateInput,
        required=False,
        help_text=gettext_lazy("Leave blank to use the certification's standard validity."),
    )

    def __init__(self, *args, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = people
        self.fields["certification"].label_from_instance = lambda item: f"{item.code} — {item.name}"


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
        people_list = list(people.people_with_certifications(people=self.people()))
        for person in people_list:
            for record in person.certifications.all():
                # The same rule as CertificationRecord.objects.active_on, on the prefetched rows.
                record.is_active = record.earned_on <= today < record.expires_on
        summary = people.certification_summary(
            records=self.scope(CertificationRecord.objects.all(), "person__partner"), day=today
        )
        labels = dict(ProductLine.choices)
        return render(
            self.request,
            self.template_name,
            {
                "people": people_list,
                "today": today,
                "certified_people": summary.certified_people,
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
                person = people.person_add(partner=self.partner, **form.cleaned_data)
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
                record = people.certification_record_add(
                    person=data["person"],
                    certification=data["certification"],
                    earned_on=data["earned_on"],
                    expires_on=data["expires_on"],
                )
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(
                    request,
                    _("%(certification)s recorded for %(name)s.")
                    % {"certification": record.certification.code, "name": record.person.name},
                )
                return redirect("people")
        return self.render_page(record_form=form, status=400)
