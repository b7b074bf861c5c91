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


def test_text_comes_back_exactly_as_written(engine):
    """Bodies go to PostgreSQL in COPY's binary format: nothing is escaped or parsed on the way, by either path
    (straight in, or through the temporary table when a key is taken)."""
    table = NotificationRow.__table__
    body = "徐平同志：\n\t以下2项\\N工作已逾期\r\n「\\.」\x7f 😀 \\\\t" + "长" * 20_000
    stamp = datetime(2021, 2, 10, 23, 59, 59, 999_999, tzinfo=UTC)  # the eve of the 2021 Spring Festival, in UTC
    rows = [_notification(f"k{i}") | {"body_text": body + str(i), "data": '{"name": "徐平"}', "not_before": stamp}
            for i in range(3)]
    with engine.begin() as connection:
        assert len(insert_new(connection, table, rows[:1], ("id",))) == 1
    with engine.begin() as connection:  # k0 is taken: the conflict path writes the other two
        assert len(insert_new(connection, table, rows, ("key",), conflict=("key",))) == 2
    with engine.connect() as connection:
        stored = connection.execute(select(table.c.key, table.c.body_text, table.c.data, table.c.not_before)
                                    .order_by(table.c.key)).all()
    assert [(r.key, r.body_text, r.data) for r in stored] == [(f"k{i}", body + str(i), '{"name": "徐平"}')
                                                               for i in range(3)]
    assert all(r.not_before == stamp for r in stored)


def test_a_moment_without_its_zone_is_refused_and_nothing_is_written(engine):
    """On PostgreSQL, where COPY would otherwise read it in the session's zone (SQLite stores any moment as UTC)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps moments as UTC text: a naive one is read as UTC there")
    table = DeliveryRow.__table__
    with pytest.raises((TypeError, ValueError)), engine.begin() as connection:
        insert_new(connection, table, [_delivery("o1", 1), _delivery("o2", 1) | {"at": datetime(2020, 10, 29, 9)}],
                   ("notification_id",))
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(table)).scalar() == 0
