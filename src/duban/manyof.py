"""`column IN (many values)` that stays fast on PostgreSQL as well as SQLite.

On PostgreSQL a long list of bound values (`IN (%s, %s, ...)`, 900 of them) goes wrong once psycopg prepares the
statement (its fifth run): the generic plan compares every row of the index range against each parameter in turn
instead of looking the values up, about a second per 900 ids over 100k delivery rows. One array parameter
(`column = ANY(%s)`) is looked up in the index, prepared or not, with or without statistics. SQLite has no arrays;
there the values go in chunks of bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ARRAY, ColumnElement, Connection, any_, literal

CHUNK = 900  # SQLite: bound values per statement, well under its limit, so other conditions fit alongside


def many_of(connection: Connection, column: ColumnElement, values: Iterable) -> list[ColumnElement[bool]]:
    """Conditions that together match `column` against every one of `values`: run one query per condition and
    take the union. One condition on PostgreSQL (whatever the count), one per chunk on SQLite; none for no values."""
    values = list(values)
    if not values:
        return []
    if connection.dialect.name == "postgresql":
        return [column == any_(literal(values, ARRAY(column.type)))]
    return [column.in_(values[start:start + CHUNK]) for start in range(0, len(values), CHUNK)]
