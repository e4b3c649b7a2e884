"""The quarter-close benchmark at a small size, so that it cannot rot (no timing asserted): its loader builds a
program on which the two fast paths agree, with every component present."""

import pytest

from portal.fiscal import Quarter
from rebates import generator
from rebates.models import COMPONENT_ORDER

pytestmark = pytest.mark.django_db


def test_the_close_benchmark_loads_a_program_on_which_both_paths_agree(require_postgresql):
    from benchmarks import quarter_close

    partners, lines, attested = quarter_close.load(900)
    assert partners == 50 and lines >= 900 and 0 < attested < lines
    quarter = Quarter.parse("FY2018-Q1")
    rows = generator.rebate_rows_sql(quarter=quarter)
    assert rows == generator.rebate_rows_python(quarter=quarter)
    assert {row.component for row in rows} == set(COMPONENT_ORDER)
    assert len({row.order_line_id for row in rows}) == lines
