from django import forms
from django.utils.translation import gettext_lazy as _


class AllYesNoSelect(forms.NullBooleanSelect):
    """A yes/no list filter whose empty choice reads "All" (Django's says "Unknown")."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = (("unknown", _("All")), ("true", _("Yes")), ("false", _("No")))


class DateInput(forms.DateInput):
    """A date field the browser shows with its date picker: ``<input type="date">``, whose value is always ISO
    (``YYYY-MM-DD``) whatever the page's language — a localized value such as ``01/06/2017`` would show empty."""

    input_type = "date"

    def __init__(self, attrs=None, format="%Y-%m-%d"):
        super().__init__(attrs, format=format)
