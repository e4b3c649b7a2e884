from django import template
from django.template.defaultfilters import floatformat

from portal.money import CURRENCY

register = template.Library()


@register.filter
def money(amount):
    """A headline amount with its currency, in the reader's number format: "17 616,99 USD"."""
    if amount in (None, ""):
        return "—"
    return f"{floatformat(amount, '2g')}\u00a0{CURRENCY}"
