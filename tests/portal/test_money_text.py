"""Amounts in tables carry their currency, in the reader's number format (one definition: portal.money.money_text)."""

from decimal import Decimal

from django.utils import translation

from deals.tables import IDENTIFIER_ATTRS, OrderLineTable, OrderTable
from portal.money import money_text
from rebates.tables import RebateLineTable, StatementTable


def test_money_text_carries_the_currency_in_each_language():
    with translation.override("en"):
        assert money_text(Decimal("17616.99")) == "17,616.99\u00a0USD"
    with translation.override("fr"):
        shown = money_text(Decimal("17616.99"))
        assert shown.endswith(",99\u00a0USD") and "17" in shown and "616" in shown
    assert money_text(None) == "—"


def test_table_amount_columns_render_with_the_currency():
    with translation.override("en"):
        assert OrderTable([]).render_total(Decimal("10")) == "10.00\u00a0USD"
        assert StatementTable([]).render_total(Decimal("-5.5")) == "-5.50\u00a0USD"
        assert RebateLineTable([]).render_amount(Decimal("1")) == "1.00\u00a0USD"


def test_order_numbers_and_skus_are_identifier_cells_that_never_wrap():
    assert OrderTable.base_columns["number"].attrs["td"] == IDENTIFIER_ATTRS["td"]
    assert OrderLineTable.base_columns["sku"].attrs["td"] == IDENTIFIER_ATTRS["td"]
    assert RebateLineTable.base_columns["order"].attrs["td"]["class"] == "identifier"
