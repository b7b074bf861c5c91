"""Bulk writes at driver speed: new rows only, ids reserved before their rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from duban.bulk import insert_new, reserve_ids
from duban.models import DeliveryRow, NotificationRow
from duban.store import make_engine

AT = datetime(2020, 10, 29, 1, tzinfo=UTC)


def _delivery(occurrence: str, notification_id: int) -> dict:
    return {"plan_id": "p", "occurrence_id": occurrence, "stage": "remind-0", "person_id": "a", "channel": "email",
            "at": AT, "notification_id": notification_id}


def _notification(key: str) -> dict:
    return {"plan_id": "p", "key": key, "person_id": "a", "channel": "email", "as_of": AT, "created_at": AT,
            "not_before": AT}


@pytest.mark.parametrize("returning", [("notification_id",), ("occurrence_id", "stage", "person_id", "channel")])
def test_insert_new_returns_only_the_rows_it_inserted(engine, returning):
    table = DeliveryRow.__table__
    with engine.begin() as connection:
        assert len(insert_new(connection, table, [_delivery("o1", 1), _delivery("o2", 1)], returning)) == 2
    with engine.begin() as connection:  # o2 is taken: the rest still goes in, in the same transaction
        found = insert_new(connection, table, [_delivery("o2", 2), _delivery("o3", 2), _delivery("o4", 2)], returning)
        assert sorted(found) == sorted(tuple(_delivery(o, 2)[c] for c in returning) for o in ("o3", "o4"))
        assert len(insert_new(connection, table, [_delivery("o5", 3)], returning)) == 1
    with engine.connect() as connection:
        ids = dict(connection.execute(select(table.c.occurrence_id, table.c.notification_id)).all())
    assert ids == {"o1": 1, "o2": 1, "o3": 2, "o4": 2, "o5": 3}


def test_reserved_ids_are_taken_by_nobody_else(engine):
    table = NotificationRow.__table__
    other = make_engine(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        ids = reserve_ids(connection, table, 3)
        assert len(set(ids)) == 3
        if engine.dialect.name == "sqlite":  # one writer at a time: another waits for this transaction's end
            with pytest.raises(OperationalError, match="locked"), other.begin() as waiting:
                waiting.exec_driver_sql("PRAGMA busy_timeout = 100")
                insert_new(waiting, table, [_notification("elsewhere")], ("id",))
        else:  # the sequence hands the others different ids meanwhile
            with other.begin() as elsewhere:
                (taken,), = insert_new(elsewhere, table, [_notification("elsewhere")], ("id",))
            assert taken not in ids
        written = insert_new(connection, table, [_notification(f"k{i}") | {"id": i} for i in ids], ("key", "id"))
        assert sorted(i for _, i in written) == ids
    with other.begin() as connection:  # after the commit, ids drawn the ordinary way come after them
        (later,), = insert_new(connection, table, [_notification("later")], ("id",))
        assert later > max(ids)
        assert connection.execute(select(func.count()).select_from(table)).scalar() == 4 + (
            engine.dialect.name != "sqlite")
    other.dispose()
