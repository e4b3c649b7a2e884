"""The large tables carry no index another index already serves: each one is paid again on every row an import or
a close writes (issue 11's index review)."""

import pytest
from django.db import connection

# The tables that grow with the program: a million order lines, their orders, a quarter's rebate lines.
LARGE_TABLES = ("deals_order", "deals_orderline", "rebates_rebateline")


def _btree_indexes(table: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    """Each B-tree index of ``table`` on plain columns, unique constraints included: its columns in order, and
    whether it is unique. (Django's introspection names a B-tree index's type ``idx`` on both databases.)"""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        name: (tuple(info["columns"]), bool(info["unique"]))
        for name, info in constraints.items()
        if ((info["index"] and info.get("type") == "idx") or info["unique"]) and all(info["columns"])
        and not name.endswith("_like")  # PostgreSQL's pattern-ops twin of a text index: it serves LIKE 'x%'
    }  # fmt: skip


def covered_indexes(table: str) -> list[tuple[str, str]]:
    """(index, covering index) pairs: a non-unique index whose columns begin another index's columns (of an equal
    non-unique pair, the later name is the covered one)."""
    indexes = _btree_indexes(table)

    def covers(other: str, name: str) -> bool:
        (columns, _unique), (other_columns, other_unique) = indexes[name], indexes[other]
        if other_columns[: len(columns)] != columns:
            return False
        return len(other_columns) > len(columns) or other_unique or other < name

    return sorted(
        (name, other)
        for name, (_columns, unique) in indexes.items()
        if not unique
        for other in indexes
        if other != name and covers(other, name)
    )


@pytest.mark.django_db
@pytest.mark.parametrize("table", LARGE_TABLES)
def test_no_index_of_a_large_table_is_served_by_another(table):
    assert _btree_indexes(table), "introspection found no index: the check would pass for nothing"
    assert covered_indexes(table) == []


@pytest.mark.django_db
def test_the_check_finds_an_index_a_composite_one_leads_with():
    with connection.cursor() as cursor:
        cursor.execute('CREATE INDEX "test_orderline_booked_on_sku" ON "deals_orderline" ("booked_on", "sku")')
        cursor.execute('CREATE INDEX "test_orderline_booked_on_copy" ON "deals_orderline" ("booked_on")')
        cursor.execute('CREATE INDEX "test_orderline_order" ON "deals_orderline" ("order_id")')
    assert covered_indexes("deals_orderline") == [
        ("deals_order_booked__292466_idx", "test_orderline_booked_on_sku"),
        ("test_orderline_booked_on_copy", "deals_order_booked__292466_idx"),
        ("test_orderline_booked_on_copy", "test_orderline_booked_on_sku"),
        ("test_orderline_order", "orderline_unique_number"),
    ]


@pytest.mark.django_db
def test_the_partner_window_index_carries_what_a_tier_chunk_sums():
    """A chunk of the tier evaluation sums its own partners' lines of the window from ``orderline_partner_window``
    alone (an index-only scan on the 1M-line program: 0.21 -> 0.03 s a chunk), so its key is (partner, day) and
    it carries the amount and the product line the revenue and services figures sum; the accrual's stamp counts
    and sums a partner's line ids and registration links from it alone too (``rebates.accruals.accrual_stamps``)."""
    if connection.vendor != "postgresql":
        pytest.skip("covering indexes (INCLUDE) are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'orderline_partner_window'")
        [(definition,)] = cursor.fetchall()
    assert definition.endswith("(partner_id, booked_on) INCLUDE (net_amount, product_line, id, registration_id)"), (
        definition
    )
