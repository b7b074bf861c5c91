"""Many rows at driver speed: set-based writes without SQLAlchemy's per-row processing."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, insert, types, update

SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # what SQLAlchemy's SQLite DateTime writes, so SQL comparisons agree
MAX_PARAMETERS = 30_000  # per statement: under SQLite's default bound (32,766) and PostgreSQL's (65,535)


def _sqlite_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value.astimezone(UTC) if value.tzinfo else value).strftime(SQLITE_DATETIME)


def _sqlite_converter(column_type: types.TypeEngine) -> Callable[[Any], Any] | None:
    """How SQLite stores a Python value of this column type, memoized (deadlines repeat a lot)."""
    python_type = getattr(column_type, "impl", column_type)
    if isinstance(python_type, types.DateTime):
        convert: Callable[[Any], Any] = _sqlite_datetime
    elif isinstance(python_type, types.Date):
        convert = lambda value: None if value is None else value.isoformat()  # noqa: E731
    elif isinstance(python_type, types.Boolean):
        return lambda value: None if value is None else int(value)
    else:
        return None
    return functools.lru_cache(maxsize=65536)(convert)


def _postgres_converter(column_type: types.TypeEngine) -> Callable[[Any], Any] | None:
    """What COPY is handed for a value of this column type: moments as ISO text, formatted once per distinct value
    (a run stamps thousands of rows with the same few; the driver would format each again). Only for columns with
    a time zone: text with an offset put in a column without one would lose the offset."""
    python_type = getattr(column_type, "impl", column_type)
    if isinstance(python_type, types.DateTime) and python_type.timezone:
        return functools.lru_cache(maxsize=65536)(lambda value: None if value is None else value.isoformat())
    return None


def _driver_rows(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], columns: Sequence[str], copy: bool = False,
) -> list[tuple]:
    get = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
    converters = []
    if connection.dialect.name == "sqlite" or copy:
        converter = _sqlite_converter if connection.dialect.name == "sqlite" else _postgres_converter
        converters = [(i, convert) for i, c in enumerate(columns)
                      if (convert := converter(table.c[c].type)) is not None]
    if not converters:
        return [get(row) for row in rows]
    result = []
    for row in rows:
        values = list(get(row))
        for i, convert in converters:
            values[i] = convert(values[i])
        result.append(tuple(values))
    return result


def _marker(connection: Connection) -> str:
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


def _fast(connection: Connection) -> bool:
    return connection.dialect.name in ("sqlite", "postgresql")


def _scalar_defaults(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """The model defaults (state="open", counts 0) that a raw INSERT would otherwise miss."""
    return {
        column.name: column.default.arg
        for column in table.columns
        if column.name not in row and column.default is not None and column.default.is_scalar
    }


def _binary_name(column_type: types.TypeEngine) -> str | None:
    """The PostgreSQL type a binary COPY sends a value of this column type as, or None where it has no plain one
    here (an enum, JSON, a numeric: those go as text)."""
    python_type = getattr(column_type, "impl", column_type)
    if isinstance(python_type, types.Enum):
        return None
    if isinstance(python_type, types.String):
        return "text"  # the same bytes as varchar's binary form
    if isinstance(python_type, types.DateTime):
        return "timestamptz" if python_type.timezone else "timestamp"
    for kind, name in ((types.BigInteger, "int8"), (types.SmallInteger, "int2"), (types.Integer, "int4"),
                       (types.Boolean, "bool"), (types.Date, "date")):
        if isinstance(python_type, kind):
            return name
    return None


def _copy_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]], columns: Sequence[str],
               into: str | None = None, binary: bool = False) -> None:
    """PostgreSQL's COPY, inside the connection's own transaction: the fastest way in (to `table`, or to the table
    named `into` with the same columns). `binary`: every value is already its column's Python type (a str for
    text, an int, a datetime with its zone, a bool, a date, or None), so the rows go in COPY's binary format, which
    neither side escapes nor parses as text (a notification's bodies are kilobytes of Chinese: 2.5 times less of
    the client's CPU); a table with a column of another kind goes as text all the same."""
    names = [_binary_name(table.c[c].type) for c in columns] if binary else [None]
    cursor = connection.connection.driver_connection.cursor()
    if None in names:
        with cursor.copy(f"COPY {into or table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in _driver_rows(connection, table, rows, columns, copy=True):
                copy.write_row(row)
        return
    with cursor.copy(f"COPY {into or table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(names)
        for row in _driver_rows(connection, table, rows, columns):
            copy.write_row(row)


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT every row (all rows have the same keys)."""
    if not rows:
        return
    if not _fast(connection):
        connection.execute(insert(table), list(rows))
        return
    defaults = _scalar_defaults(table, rows[0])
    if defaults:
        rows = [{**defaults, **row} for row in rows]
    columns = list(rows[0])
    if connection.dialect.name == "postgresql":
        _copy_rows(connection, table, rows, columns)
        return
    marker = _marker(connection)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
    connection.exec_driver_sql(sql, _driver_rows(connection, table, rows, columns))


def update_rows(connection: Connection, table: Table, keys: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    """UPDATE each row found by its `keys` columns with its other values (all rows have the same keys)."""
    if not rows:
        return
    columns = [c for c in rows[0] if c not in keys]
    if not _fast(connection):
        where = and_(*(table.c[k] == bindparam(f"k_{k}") for k in keys))
        statement = update(table).where(where).values({c: bindparam(f"v_{c}") for c in columns})
        params = [{**{f"k_{k}": r[k] for k in keys}, **{f"v_{c}": r[c] for c in columns}} for r in rows]
        connection.execute(statement, params)
        return
    marker = _marker(connection)
    sets = ", ".join(f"{c} = {marker}" for c in columns)
    where = " AND ".join(f"{k} = {marker}" for k in keys)
    sql = f"UPDATE {table.name} SET {sets} WHERE {where}"
    connection.exec_driver_sql(sql, _driver_rows(connection, table, rows, [*columns, *keys]))


def insert_new(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], returning: Sequence[str],
    conflict: Sequence[str] = (),
) -> list[tuple]:
    """INSERT every row whose unique key is free (ON CONFLICT DO NOTHING, on `conflict`'s columns when given, else
    on any unique constraint); return `returning`'s columns of the rows this statement inserted (SQLite: multi-row
    VALUES statements at driver speed, each under the bound on parameters; PostgreSQL: a binary COPY, so each value
    must be its column's own Python type, a datetime with its zone)."""
    if not rows:
        return []
    defaults = _scalar_defaults(table, rows[0])
    if defaults:
        rows = [{**defaults, **row} for row in rows]
    columns = list(rows[0])
    target = f" ({', '.join(conflict)})" if conflict else ""
    tail = f" ON CONFLICT{target} DO NOTHING RETURNING {', '.join(returning)}"
    if connection.dialect.name == "postgresql":
        if set(returning) <= set(columns) and _copied_whole(connection, table, rows, columns):
            return [tuple(row[c] for c in returning) for row in rows]
        return _insert_new_copied(connection, table, rows, columns, tail)
    marker = _marker(connection)
    one = f"({', '.join([marker] * len(columns))})"
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
    values = _driver_rows(connection, table, rows, columns)
    step = max(1, MAX_PARAMETERS // len(columns))
    found: list[tuple] = []
    for start in range(0, len(values), step):
        part = values[start:start + step]
        flat = [value for row in part for value in row]
        found += [tuple(r) for r in connection.exec_driver_sql(head + ", ".join([one] * len(part)) + tail,
                                                               tuple(flat))]
    return found


def reserve_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """`count` ids for new rows of `table` (its integer `id`) that no other transaction takes, so rows that point at
    them can be written before them. PostgreSQL: the column's own sequence (rows inserted without an id draw from
    it too). SQLite: past the largest id, under the write lock, which this takes first (a write of nothing waits
    its turn) and holds till commit; so call it before anything else in a transaction that writes."""
    if count <= 0:
        return []
    if connection.dialect.name == "postgresql":
        drawn = connection.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) FROM generate_series(1, %s)", (count,))
        return [row[0] for row in drawn]
    connection.exec_driver_sql(f"UPDATE {table.name} SET id = id WHERE 0")
    top = connection.exec_driver_sql(f"SELECT max(id) FROM {table.name}").scalar() or 0
    return list(range(top + 1, top + 1 + count))


def _copied_whole(connection: Connection, table: Table, rows: Sequence[dict[str, Any]], columns: list[str]) -> bool:
    """PostgreSQL: COPY every row straight in, under a savepoint; False, with nothing written, when a row's unique
    key is taken (new rows are the rule: the conflict clause's speculative insert costs more than the copy)."""
    from psycopg.errors import UniqueViolation

    savepoint = connection.begin_nested()
    try:
        _copy_rows(connection, table, rows, columns, binary=True)
    except UniqueViolation:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


_TEMPORARY = itertools.count()


def _insert_new_copied(connection: Connection, table: Table, rows: Sequence[dict[str, Any]], columns: list[str],
                       tail: str) -> list[tuple]:
    """PostgreSQL: COPY the rows into a temporary table, then one INSERT ... SELECT with the conflict clause (a
    statement with thousands of parameters costs the driver more to parse than the server to run)."""
    names = ", ".join(columns)
    temporary = f"new_{table.name}_{next(_TEMPORARY)}"
    connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {temporary} ON COMMIT DROP AS "
                               f"SELECT {names} FROM {table.name} WITH NO DATA")
    _copy_rows(connection, table, rows, columns, into=temporary, binary=True)
    found = connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {temporary}{tail}")
    return [tuple(r) for r in found]
