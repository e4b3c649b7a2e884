"""URL converters for the identifiers the import lets in, so a URL takes exactly what the data allows."""

from .models import ORDER_NUMBER_MAX_LENGTH, ORDER_NUMBER_PATTERN


class OrderNumberConverter:
    """An order number as ``orders.csv`` accepts it, ``/`` included ("PO/2017/12"); anything else is a 404."""

    regex = ORDER_NUMBER_PATTERN

    def to_python(self, value: str) -> str:
        if len(value) > ORDER_NUMBER_MAX_LENGTH:
            raise ValueError("too long for an order number")  # the resolver answers 404
        return value

    def to_url(self, value: str) -> str:
        return value
