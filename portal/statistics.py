"""The planner's statistics after a bulk write (PostgreSQL).

Autovacuum analyses a table some time after a large write; the queries that follow at once plan on the old
row counts. After a quarter close, the statements table still counted 17 rows of the quarter: the export then
joined 224,825 rebate lines by nested loops (3.9 s against 2.6 s once analysed), and one partner's Orders page
took 591 ms of SQL after an import until analysed (issue 11). ``ANALYZE`` reads a sample, about 0.1–0.3 s per
table here, and may run inside the job's transaction, so the statistics are new when the job's rows become
visible.
"""

from django.db import connection

# Below this many rows, autovacuum's own analysis is soon enough.
ANALYZE_AFTER_ROWS = 10_000


def statistics_refresh(models, *, rows: int) -> bool:
    """``ANALYZE`` the tables of ``models`` when ``rows`` rows were just written to them (PostgreSQL); return
    whether it ran."""
    if connection.vendor != "postgresql" or rows <= ANALYZE_AFTER_ROWS:
        return False
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")  # noqa: S608 - a model's table
    return True
