from decimal import Decimal

import pytest

from portal.money import parse_money, percent_of, round_money


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("1.005", "1.01"), ("1.004", "1.00"), ("-1.005", "-1.01"), ("2.675", "2.68"), ("0.125", "0.13"), ("10", "10.00")],
)
def test_round_money_is_half_up_away_from_zero(amount, expected):
    assert round_money(Decimal(amount)) == Decimal(expected)


def test_round_money_refuses_floats():
    with pytest.raises(TypeError):
        round_money(1.005)


def test_percent_of_rounds_once_after_multiplying():
    # 2% of 12.25 = 0.245 → 0.25 (a tie, rounded up); 8% of 20,000.00 = 1,600.00
    assert percent_of(Decimal("12.25"), Decimal("2")) == Decimal("0.25")
    assert percent_of(Decimal("20000.00"), Decimal("8")) == Decimal("1600.00")
    assert percent_of(Decimal("-12.25"), Decimal("2")) == Decimal("-0.25")


@pytest.mark.parametrize(
    "text",
    ["1.234", "1,00", "abc", "", "1e5", "--1", "1.", "٣٤٥.٠٠", "۱۲۳", "１２３", "१२.५०", "12.٥٠"],  # ASCII digits only
)
def test_parse_money_rejects_what_is_not_an_amount(text):
    with pytest.raises(ValueError):
        parse_money(text)


@pytest.mark.parametrize(("text", "expected"), [("62336.1", "62336.1"), ("-10.00", "-10.00"), ("5", "5")])
def test_parse_money_accepts_up_to_two_decimals(text, expected):
    assert parse_money(text) == Decimal(expected)


def test_headline_amounts_show_the_currency_in_the_readers_number_format():
    from django.utils import translation

    from portal.templatetags.portal_tags import money

    with translation.override("en"):
        assert money(Decimal("17616.99")) == "17,616.99\u00a0USD"
    with translation.override("fr"):
        assert money(Decimal("17616.99")) == "17\u00a0616,99\u00a0USD"
    assert money(None) == "—"
