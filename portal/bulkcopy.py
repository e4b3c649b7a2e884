"""``copy_create``: ``bulk_create`` by ``COPY`` on PostgreSQL, the instances getting their ids.

A ``bulk_create`` of thousands of rows spends most of its time in Python building one huge parameter list and in
psycopg splitting the statement client-side; ``COPY`` streams the same values. The ids are taken from the table's
sequence first (one ``nextval`` query for the batch), so every instance knows its id without relying on the order
of ``RETURNING``. Elsewhere (SQLite) it is Django's ``bulk_create``. Conflicts raise, as ``bulk_create`` without
``ignore_conflicts``; ``auto_now``/``auto_now_add`` fields are set as ``bulk_create`` sets them.
"""

from collections.abc import Iterable
from contextlib import contextmanager

from django.db import connection, models
from django.utils import timezone

RAW_FIELDS = (
    models.AutoField, models.BigAutoField, models.IntegerField, models.BooleanField, models.DecimalField,
    models.DateField, models.ForeignKey,
)  # fmt: skip


def copy_create(model: type[models.Model], objs: list[models.Model], *, batch_size: int = 1000) -> list:
    """Insert ``objs`` (unsaved instances of ``model``, without ids) and give each its id; return ``objs``."""
    if not objs:
        return objs
    if connection.vendor != "postgresql":
        return model.objects.bulk_create(objs, batch_size=batch_size)
    opts = model._meta
    pk = opts.pk
    fields = list(opts.concrete_fields)
    table = connection.ops.quote_name(opts.db_table)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [opts.db_table, pk.column, len(objs)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        for obj, new_id in zip(objs, ids, strict=True):
            setattr(obj, pk.attname, new_id)
            for field in fields:
                if getattr(field, "auto_now", False) or (
                    getattr(field, "auto_now_add", False) and getattr(obj, field.attname) is None
                ):
                    setattr(obj, field.attname, now)
        # PostgreSQL's backend passes these types' values through unchanged (``adapt_*field_value``): read them
        # as they are; the others (text, JSON) are prepared by their field.
        raw = [isinstance(field, RAW_FIELDS) for field in fields]
        columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
        # Only the model's own table and column names are interpolated; every value is copied as data.
        # Through Django's error wrapper, so a conflict is an ``IntegrityError`` as from ``bulk_create``.
        with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # noqa: S608
            for obj in objs:
                values = [getattr(obj, field.attname) for field in fields]
                copy.write_row([
                    value if plain else field.get_db_prep_save(value, connection)
                    for field, plain, value in zip(fields, raw, values, strict=True)
                ])  # fmt: skip
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


def copy_rows(model: type[models.Model], fields: list[str], rows: list[tuple]) -> list[int]:
    """Insert ``rows`` (tuples of the values of ``fields``, attribute names, no id) into ``model``'s table; return
    their new ids, in order.

    For a job that holds plain values, not instances (routing writes thousands of cases and offers a night): on
    PostgreSQL by ``COPY`` with the ids taken from the sequence first; elsewhere Django's ``bulk_create``. Values
    are written as given: the caller sets the timestamps and defaults it needs.
    """
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objs = model.objects.bulk_create([model(**dict(zip(fields, row, strict=True))) for row in rows])
        return [obj.pk for obj in objs]
    opts = model._meta
    table = connection.ops.quote_name(opts.db_table)
    by_attname = {field.attname: field for field in opts.concrete_fields}
    columns = [by_attname[name].column for name in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [opts.db_table, opts.pk.column, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        names = ", ".join(connection.ops.quote_name(column) for column in [opts.pk.column, *columns])
        # Only the model's own table and column names are interpolated; every value is copied as data.
        with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:  # noqa: S608
            for new_id, row in zip(ids, rows, strict=True):
                copy.write_row((new_id, *row))
    return ids


@contextmanager
def staging_table(cursor, name: str, model: type[models.Model], columns: list[str], rows: Iterable[tuple]):
    """A temporary table ``name`` of ``model``'s ``columns`` (database column names, with their types) holding
    ``rows``, for the statements of the ``with`` block; PostgreSQL, inside a transaction.

    For a job that applies thousands of rows in one statement (``INSERT … SELECT``, ``UPDATE … FROM``): copied,
    where a statement carrying them as parameters is split and bound client-side by psycopg. A table of the name
    left earlier in the transaction is dropped first; the table is dropped after the block, at commit otherwise.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    # Only the model's own table and column names and the caller's table name are interpolated; values are copied.
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute(f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS SELECT {names} FROM {table} WITH NO DATA")  # noqa: S608
    with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {name} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    yield name
    cursor.execute(f"DROP TABLE {name}")
