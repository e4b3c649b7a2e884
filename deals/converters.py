"""URL converters for the identifiers the import lets in, so a URL takes exactly what the data allows."""

import re

from django.urls import reverse

from .models import ORDER_NUMBER_MAX_LENGTH, ORDER_NUMBER_PATTERN

_ORDER_NUMBER = re.compile(ORDER_NUMBER_PATTERN)


class OrderNumberConverter:
    """An order number as ``orders.csv`` accepts it, ``/`` included ("PO/2017/12"); anything else is a 404."""

    regex = ORDER_NUMBER_PATTERN

    def to_python(self, value: str) -> str:
        if len(value) > ORDER_NUMBER_MAX_LENGTH:
            raise ValueError("too long for an order number")  # the resolver answers 404
        return value

    def to_url(self, value: str) -> str:
        return value


def order_url(number: str) -> str | None:
    """The order's page, or None for a number stored before the import checked them (shown, not linked)."""
    if len(number) > ORDER_NUMBER_MAX_LENGTH or not _ORDER_NUMBER.fullmatch(number):
        return None
    return reverse("deals:order_detail", kwargs={"number": number})
