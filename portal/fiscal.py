"""The program calendar: program years start on 1 February and are named after the year they end in."""

import re
from dataclasses import dataclass
from datetime import date, timedelta

FISCAL_START_MONTH = 2  # February: DESIGN §2. The program start date itself is data (portal.Program).


def add_months(day: date, months: int) -> date:
    """Return ``day`` moved by ``months``, clamped to the end of a shorter month (29 Feb → 28 Feb)."""
    month_index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(month_index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)


def fiscal_year_of(day: date) -> int:
    """FY2018 = 2017-02-01 … 2018-01-31."""
    return day.year + 1 if day.month >= FISCAL_START_MONTH else day.year


def fiscal_year_start(fiscal_year: int) -> date:
    return date(fiscal_year - 1, FISCAL_START_MONTH, 1)


@dataclass(frozen=True, order=True)
class Quarter:
    fiscal_year: int
    number: int

    PATTERN = re.compile(r"^FY(\d{4})-Q([1-4])$")

    @classmethod
    def parse(cls, text: str) -> "Quarter":
        match = cls.PATTERN.match(text.strip())
        if not match:
            raise ValueError(f"“{text}” is not a quarter like FY2018-Q1")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, day: date) -> "Quarter":
        months_in = (day.month - FISCAL_START_MONTH) % 12
        return cls(fiscal_year_of(day), months_in // 3 + 1)

    @property
    def start(self) -> date:
        return add_months(fiscal_year_start(self.fiscal_year), 3 * (self.number - 1))

    @property
    def end(self) -> date:
        """The last day of the quarter (inclusive)."""
        return self.next().start - timedelta(days=1)

    def next(self) -> "Quarter":
        if self.number == 4:
            return Quarter(self.fiscal_year + 1, 1)
        return Quarter(self.fiscal_year, self.number + 1)

    def previous(self) -> "Quarter":
        if self.number == 1:
            return Quarter(self.fiscal_year - 1, 4)
        return Quarter(self.fiscal_year, self.number - 1)

    def __str__(self) -> str:
        return f"FY{self.fiscal_year}-Q{self.number}"


def parse_iso_date(text: str) -> date:
    """Parse ``YYYY-MM-DD`` strictly."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise ValueError(f"“{text}” is not a date in YYYY-MM-DD form")
    return date.fromisoformat(text.strip())
