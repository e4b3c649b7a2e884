"""Template helpers of the deals pages."""

from django import template
from django.utils.html import format_html

from ..converters import order_url

register = template.Library()


@register.simple_tag
def order_link(number: str):
    """The order number linked to its page, or as plain text when no URL can carry it (see ``order_url``)."""
    url = order_url(number)
    return format_html('<a href="{}">{}</a>', url, number) if url else number
