"""Opening the store for reading with the database's own driver: sqlite3 for SQLite files, psycopg for PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

SQLITE_INSTANT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy keeps instants in SQLite: UTC text, compared as text


@dataclass
class Reader:
    """A read-only use of one store connection, and how its driver spells parameters, instants and days."""

    connection: Any
    dialect: str  # "sqlite" or "postgresql"
    days: dict[Any, str] = field(default_factory=dict)  # stored dates as YYYY-MM-DD, as met

    def param(self, name: str) -> str:
        """A named parameter in this driver's style."""
        return f":{name}" if self.dialect == "sqlite" else f"%({name})s"

    def instant(self, moment: datetime) -> Any:
        """An aware moment as this store compares instants."""
        utc = moment.astimezone(UTC)
        return utc.strftime(SQLITE_INSTANT) if self.dialect == "sqlite" else utc

    def read_instant(self, value: Any) -> datetime:
        """A stored instant as an aware datetime."""
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if isinstance(value, str) else value

    def read_day(self, value: Any) -> str:
        """A stored calendar date as YYYY-MM-DD."""
        text = self.days.get(value)
        if text is None:
            text = self.days[value] = (date.fromisoformat(value) if isinstance(value, str) else value).isoformat()
        return text

    def batches(self, sql: str, params: dict[str, Any], size: int = 2000) -> Iterator[list[tuple]]:
        """The rows of a query in lists of `size`, as they come (a server-side cursor on PostgreSQL)."""
        cursor = self.connection.cursor() if self.dialect == "sqlite" else self.connection.cursor(name="duban_read")
        try:
            cursor.execute(sql, params)
            while batch := cursor.fetchmany(size):
                yield batch
        finally:
            cursor.close()  # (a server-side cursor's name is free again for the next query)

    def all(self, sql: str, params: dict[str, Any]) -> list[tuple]:
        """Every row of a small query."""
        cursor = self.connection.cursor()
        cursor.execute(sql, params)
        return cursor.fetchall()

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        """The driver's database errors (a store without the table asked for raises one of them)."""
        if self.dialect == "sqlite":
            import sqlite3

            return (sqlite3.Error,)
        import psycopg  # (already loaded: it opened this connection)

        return (psycopg.Error,)

    def close(self) -> None:
        """Let the connection go."""
        self.connection.close()


def open_reader(url: str) -> Reader | None:
    """A reader for a SQLite file or a PostgreSQL URL; None for anything else (the ORM path serves it)."""
    if url.startswith("sqlite:///"):
        return _sqlite(url.removeprefix("sqlite:///"))
    for prefix in ("postgresql://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return _postgres("postgresql://" + url.removeprefix(prefix))
    return None


def _sqlite(path: str) -> Reader | None:
    import sqlite3

    # A missing file, memory or URL options: the full path creates, refuses or reads it as before.
    if not path or path.startswith(":memory:") or "?" in path or not Path(path).is_file():
        return None
    return Reader(sqlite3.connect(path, timeout=30), "sqlite")


def _postgres(conninfo: str) -> Reader | None:
    import psycopg

    try:
        return Reader(psycopg.connect(conninfo), "postgresql")
    except psycopg.Error:
        return None  # the full path connects again and reports the failure in its usual words
