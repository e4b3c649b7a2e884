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

    def __init__(self, *args, near_matches=None, own_customers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.own_customers = list(own_customers)
        for product_line in ProductLine:
            self.fields[amount_field_name(product_line.value)] = forms.DecimalField(
                label=product_line.label, required=False, max_digits=14, decimal_places=2, localize=False
            )
        self.near_matches = list(near_matches or [])
        self.set_near_matches(self.near_matches)

    def set_near_matches(self, customers):
        self.near_matches = list(customers)
        self.fields["customer_choice"].widget.choices = [
            (str(customer.pk), f"{customer.name} ({customer.country})") for customer in self.near_matches
        ] + [(NEW_CUSTOMER, _("None of these: a different company"))]

    def clean_customer_country(self):
        country = self.cleaned_data["customer_country"].strip().upper()  # "fr" is fine: it means FR
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
