"""Matching a column against thousands of values: the same rows on both stores, run after run (on PostgreSQL past
the point where psycopg prepares the statement and the server may switch to a generic plan; issue 12)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select

from duban.manyof import CHUNK, many_of
from duban.models import DeliveryRow

TABLE = DeliveryRow.__table__


def _fill(engine, count: int) -> None:
    at = datetime(2020, 10, 28, 1, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(insert(TABLE), [
            {"plan_id": "p", "occurrence_id": f"task/o{i:05d}/2020-10-01", "person_id": f"u{i % 7}", "channel": "email",
             "stage": "remind-3" if i % 2 else "escalate-1", "at": at} for i in range(count)])


def _query(condition):
    return select(TABLE.c.occurrence_id).where(TABLE.c.plan_id == "p", condition, TABLE.c.stage == "remind-3")


def test_many_values_find_the_same_rows_run_after_run(engine):
    _fill(engine, 3000)
    wanted = [f"task/o{i:05d}/2020-10-01" for i in range(0, 2500)] + [f"absent/{i}" for i in range(500)]
    expected = {f"task/o{i:05d}/2020-10-01" for i in range(1, 2500, 2)}
    with engine.connect() as connection:
        conditions = many_of(connection, TABLE.c.occurrence_id, wanted)
        assert len(conditions) == (1 if engine.dialect.name == "postgresql" else -(-len(wanted) // CHUNK))
        for _ in range(7):  # past psycopg's prepare threshold (5): the prepared statement must answer the same
            found = {r for condition in conditions for (r,) in connection.execute(_query(condition))}
            assert found == expected
        assert many_of(connection, TABLE.c.occurrence_id, []) == []

