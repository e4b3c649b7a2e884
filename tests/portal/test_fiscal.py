from datetime import date

import pytest

from portal.fiscal import Quarter, add_months, fiscal_year_of, parse_iso_date


@pytest.mark.parametrize(
    ("day", "year"),
    [(date(2017, 2, 1), 2018), (date(2018, 1, 31), 2018), (date(2017, 1, 31), 2017), (date(2018, 2, 1), 2019)],
)
def test_program_year_starts_on_1_february_named_after_the_year_it_ends(day, year):
    assert fiscal_year_of(day) == year


@pytest.mark.parametrize(
    ("day", "quarter"),
    [
        (date(2017, 2, 1), "FY2018-Q1"),
        (date(2017, 4, 30), "FY2018-Q1"),
        (date(2017, 5, 1), "FY2018-Q2"),
        (date(2017, 8, 1), "FY2018-Q3"),
        (date(2017, 11, 1), "FY2018-Q4"),
        (date(2018, 1, 31), "FY2018-Q4"),
        (date(2018, 2, 1), "FY2019-Q1"),
    ],
)
def test_quarters_run_feb_apr_may_jul_aug_oct_nov_jan(day, quarter):
    assert str(Quarter.containing(day)) == quarter


def test_quarter_bounds_and_order():
    q4 = Quarter.parse("FY2018-Q4")
    assert (q4.start, q4.end) == (date(2017, 11, 1), date(2018, 1, 31))
    assert q4.next() == Quarter.parse("FY2019-Q1")
    assert Quarter.parse("FY2019-Q1").previous() == q4
    assert Quarter.parse("FY2018-Q1") < Quarter.parse("FY2018-Q2")


@pytest.mark.parametrize("text", ["2018-Q1", "FY2018-Q5", "fy2018-q1", "FY18-Q1"])
def test_quarter_parse_rejects_bad_names(text):
    with pytest.raises(ValueError):
        Quarter.parse(text)


def test_add_months_clamps_to_month_end():
    assert add_months(date(2016, 2, 29), 12) == date(2017, 2, 28)
    assert add_months(date(2017, 1, 31), 1) == date(2017, 2, 28)
    assert add_months(date(2017, 3, 15), -12) == date(2016, 3, 15)


def test_parse_iso_date_is_strict():
    assert parse_iso_date("2017-02-10") == date(2017, 2, 10)
    for bad in ["10/02/2017", "2017-2-10", "2017-02-30"]:
        with pytest.raises(ValueError):
            parse_iso_date(bad)
