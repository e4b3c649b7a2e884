from django import template

from portal.money import money_text

register = template.Library()


@register.filter
def money(amount):
    """A headline amount with its currency, in the reader's number format: "17 616,99 USD"."""
    return money_text(amount)
