"""Forms every app shares."""

from django import forms


class ConfirmForm(forms.Form):
    """A confirmation with no input (the POST is the confirmation)."""
