"""The register-a-deal form and the partner's action forms: input shape only; the rules live in the services."""

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.catalog import ProductLine
from portal.countries import country_choices, validate_country_code
from portal.widgets import DateInput

from ..matching import CustomerIdentity, validate_domain, validate_vat

NEW_CUSTOMER = "new"


def amount_field_name(product_line: str) -> str:
    return f"amount_{product_line}"


class RegistrationForm(forms.Form):
    """Customer, opportunity, close date, and one optional amount per product line (fixed rows: fast to fill)."""

    token = forms.UUIDField(widget=forms.HiddenInput)
    # The partner's own customers are offered as the name is typed (``own_customers``: a datalist).
    customer_name = forms.CharField(
        label=_("Customer name"), max_length=255, widget=forms.TextInput(attrs={"list": "own-customers"})
    )
    # A list of the countries by name; the code is what is posted (and what the API takes).
    customer_country = forms.CharField(label=_("Country"), max_length=2, widget=forms.Select(choices=country_choices))
    customer_vat = forms.CharField(
        label=_("VAT / company id"), max_length=50, required=False, validators=[validate_vat]
    )
    customer_domain = forms.CharField(
        label=_("Web domain"), max_length=255, required=False, validators=[validate_domain]
    )
    # Validated by the view against the near matches of the identity given (they are known only then).
    customer_choice = forms.CharField(label=_("Which customer is it?"), required=False, widget=forms.RadioSelect)
    opportunity_name = forms.CharField(label=_("Opportunity"), max_length=200)
    expected_close_on = forms.DateField(label=_("Expected close date"), widget=DateInput)

    def __init__(self, *args, near_matches=None, own_customers=(), draft=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.own_customers = list(own_customers)
        for product_line in ProductLine:
            self.fields[amount_field_name(product_line.value)] = forms.DecimalField(
                label=product_line.label, required=False, max_digits=14, decimal_places=2, localize=False
            )
        self.near_matches = list(near_matches or [])
        self.set_near_matches(self.near_matches)
        # Saving a draft asks only for the customer's name; what is typed must still have its shape (a date, a
        # number), the rules wait for the submission.
        self.draft = draft
        if draft:
            for name, field in self.fields.items():
                if name not in ("customer_name", "token"):
                    field.required = False

    def set_near_matches(self, customers):
        self.near_matches = list(customers)
        self.fields["customer_choice"].widget.choices = [
            (str(customer.pk), f"{customer.name} ({customer.country})") for customer in self.near_matches
        ] + [(NEW_CUSTOMER, _("None of these: a different company"))]

    def clean_customer_country(self):
        country = self.cleaned_data["customer_country"].strip().upper()  # "fr" is fine: it means FR
        if country or not self.draft:
            validate_country_code(country)
        return country

    def clean_customer_choice(self):
        return self.cleaned_data.get("customer_choice") or ""

    @property
    def amount_fields(self):
        return [self[amount_field_name(product_line.value)] for product_line in ProductLine]

    def identity(self) -> CustomerIdentity:
        data = self.cleaned_data
        return CustomerIdentity(
            name=data["customer_name"].strip(),
            country=data["customer_country"],
            vat=data.get("customer_vat", "").strip(),
            domain=data.get("customer_domain", "").strip(),
        )

    def lines(self) -> dict:
        """The product lines given an amount (a zero or negative amount is kept for the service to refuse)."""
        lines = {}
        for product_line in ProductLine:
            amount = self.cleaned_data.get(amount_field_name(product_line.value))
            if amount is not None:
                lines[product_line.value] = amount
        return lines

    def draft_data(self) -> dict:
        """The input as a draft keeps it: text, amounts as typed (``registration_save_draft``)."""
        data = self.cleaned_data
        return {
            "customer_name": data.get("customer_name", "").strip(),
            "customer_country": data.get("customer_country", ""),
            "customer_vat": data.get("customer_vat", "").strip(),
            "customer_domain": data.get("customer_domain", "").strip(),
            "opportunity_name": data.get("opportunity_name", "").strip(),
            "expected_close_on": data.get("expected_close_on"),
            "lines": {product_line: str(amount) for product_line, amount in self.lines().items()},
        }

    @classmethod
    def initial_from(cls, registration) -> dict:
        """The form prefilled with ``registration``: a draft's saved input, or what a rejected one registered."""
        if registration.status == registration.Status.DRAFT:
            draft = registration.draft or {}
            initial = {key: draft.get(key, "") for key in ("customer_name", "customer_country", "customer_vat",
                                                           "customer_domain")}  # fmt: skip
            lines = draft.get("lines") or {}
        else:
            customer = registration.customer
            initial = {"customer_name": customer.name, "customer_country": customer.country,
                       "customer_vat": customer.vat, "customer_domain": customer.domain}  # fmt: skip
            lines = {line.product_line: line.estimated_amount for line in registration.lines.all()}
        initial.update(opportunity_name=registration.opportunity_name, expected_close_on=registration.expected_close_on)
        for product_line, amount in lines.items():
            initial[amount_field_name(product_line)] = amount
        return initial

    @staticmethod
    def new_token() -> uuid.UUID:
        return uuid.uuid4()


class ExtensionRequestForm(forms.Form):
    reason = forms.CharField(
        label=_("Why does the deal need more time?"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )


class LostForm(forms.Form):
    note = forms.CharField(
        label=_("What happened? (optional)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
