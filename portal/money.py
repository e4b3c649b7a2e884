"""Money: the one place that rounds. Amounts are ``Decimal``; a float never enters."""

import re
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
CURRENCY = "USD"  # the program's amounts (DESIGN §3: the published thresholds are in USD)
ZERO = Decimal("0.00")


def money_text(amount) -> str:
    """An amount with its currency, in the reader's number format ("17,616.99 USD", "17 616,99 USD"): the one
    definition for tables, pages, PDFs and emails; "—" for no amount."""
    from django.template.defaultfilters import floatformat

    if amount in (None, ""):
        return "—"
    return f"{floatformat(amount, '2g')}\u00a0{CURRENCY}"


def round_money(amount: Decimal) -> Decimal:
    """Round ``amount`` to the cent, ties away from zero (PostgreSQL's ``round(numeric, 2)``)."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, not {type(amount).__name__}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def percent_of(amount: Decimal, rate_points: Decimal) -> Decimal:
    """Return ``amount × rate_points / 100`` rounded to the cent (rates are percentage points)."""
    return round_money(amount * rate_points / Decimal(100))


# The same rounding in PostgreSQL, for the set-based jobs: ``round(numeric, 2)`` rounds ties away from zero, as
# ``ROUND_HALF_UP`` does; the number of places comes from ``CENT``.
CENT_PLACES = -CENT.as_tuple().exponent


def round_money_sql(expression: str) -> str:
    """The SQL of ``round_money(expression)`` (``expression`` a numeric SQL expression)."""
    return f"ROUND(({expression}), {CENT_PLACES})"


def percent_of_sql(amount: str, rate_points: str) -> str:
    """The SQL of ``percent_of(amount, rate_points)``."""
    return round_money_sql(f"({amount}) * ({rate_points}) / 100")


# ASCII digits only: ``\d`` would also take Arabic-Indic or full-width digits, which ``Decimal`` reads but a
# statement would echo back as the file wrote them.
AMOUNT_PATTERN = re.compile(r"-?[0-9]{1,13}(?:\.[0-9]{1,2})?")


def parse_money(text: str) -> Decimal:
    """Parse a CSV amount: optional minus, ASCII digits, a dot and at most two decimals."""
    text = text.strip()
    if not AMOUNT_PATTERN.fullmatch(text):
        raise ValueError(f"“{text}” is not an amount (digits, a dot and at most 2 decimals)")
    return Decimal(text)
