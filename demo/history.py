"""The demo's calendar: a program that has been running for three program years up to today.

The demo partners joined on the first day of the program year two years before the current one (DESIGN §3: a late
joiner keeps its status-matched tier until the first annual review at least 12 months later), so the demo has two
annual reviews behind it, a year in progress, and every date below is relative to the day ``seed_demo`` runs.
"""

from datetime import date, timedelta

from portal.fiscal import fiscal_year_of, fiscal_year_start


def demo_joined_on(today: date) -> date:
    """The demo partners' join date: the start of the program year two years before ``today``'s."""
    return fiscal_year_start(fiscal_year_of(today) - 2)


def month_starts(start: date, end: date) -> list[date]:
    """The first day of every month after ``start`` up to ``end`` (inclusive)."""
    days, year, month = [], start.year, start.month
    while True:
        month += 1
        if month == 13:
            year, month = year + 1, 1
        day = date(year, month, 1)
        if day > end:
            return days
        days.append(day)


def evaluation_days(today: date) -> list[date]:
    """The nightly evaluations replayed for the demo: the first of every month since the partners joined (so the
    first evaluation of each program year, its annual review, falls on 1 February), then today."""
    days = month_starts(demo_joined_on(today), today)
    return days if days and days[-1] == today else [*days, today]


def days_ago(today: date, days: int) -> date:
    return today - timedelta(days=days)
