"""Deliveries written before their notification (its id reserved): what another run put first stays theirs."""

from __future__ import annotations

import json

from conftest import at
from sqlalchemy import delete, func, select
from test_notices import BOTH, settings_for

from duban import runs
from duban.models import DeliveryRow, NotificationRow
from duban.notices import Message, write

MOMENT = "2020-09-29 09:00"


def _messages(engine, tmp_path):
    ctx = runs.context(engine, settings_for(engine, tmp_path), "mini-2020")
    return ctx, [m for chunk in runs.plan_notices(engine, ctx, at(MOMENT), BOTH) for m in chunk.messages]


def _linked(engine) -> tuple[dict[int, set[tuple[str, str]]], int]:
    """Each notification's listed (occurrence or line key, stage), as its deliveries say; deliveries linking nothing."""
    d = DeliveryRow.__table__.c
    found: dict[int, set[tuple[str, str]]] = {}
    with engine.connect() as connection:
        for occurrence_id, stage, notification_id in connection.execute(
                select(d.occurrence_id, d.stage, d.notification_id).where(d.notification_id.is_not(None))):
            found.setdefault(notification_id, set()).add((occurrence_id, stage))
        unlinked = connection.execute(select(func.count()).select_from(DeliveryRow).where(
            d.notification_id.is_(None))).scalar()
    return found, unlinked


def test_a_message_another_run_put_part_of_keeps_only_the_rest(mini_store, tmp_path):
    ctx, messages = _messages(mini_store, tmp_path)
    whole = next(m for m in messages if len(m.items) >= 2)
    first = Message(whole.person_id, whole.channel, whole.items[:1])
    assert sum(write(engine=mini_store, ctx=ctx, chunk=[first], as_of=at(MOMENT)).notifications.values()) == 1
    report = write(engine=mini_store, ctx=ctx, chunk=messages, as_of=at(MOMENT))
    assert sum(report.notifications.values()) == len(messages)
    n = NotificationRow.__table__.c
    with mini_store.connect() as connection:
        rows = connection.execute(select(n.id, n.data).where(n.person_id == whole.person_id,
                                                             n.channel == whole.channel).order_by(n.id)).all()
        total = connection.execute(select(func.count()).select_from(NotificationRow)).scalar()
    assert total == len(messages) + 1
    listed = [[tuple(i) for i in json.loads(row.data)["items"]] for row in rows]
    everything = [(i.occurrence_id, i.stage.name) for i in whole.items]
    assert listed == [everything[:1], everything[1:]]  # the second message lists only what the first did not
    linked, unlinked = _linked(mini_store)
    assert unlinked == 0
    assert {occ for occ in linked[rows[1].id] if not occ[0].startswith("@")} == set(everything[1:])
    assert linked[rows[0].id] == set(everything[:1])


def test_every_delivery_points_at_the_notification_that_lists_it(mini_store, tmp_path):
    ctx, messages = _messages(mini_store, tmp_path)
    write(engine=mini_store, ctx=ctx, chunk=messages, as_of=at(MOMENT))
    n = NotificationRow.__table__.c
    with mini_store.connect() as connection:
        listed = {row.id: {tuple(i) for i in json.loads(row.data)["items"]}
                  | {(key, f"group-{level:02d}-2020-09-29") for key, level, _ in json.loads(row.data)["groups"]}
                  for row in connection.execute(select(n.id, n.data))}
    linked, unlinked = _linked(mini_store)
    assert unlinked == 0 and linked == listed


def test_deliveries_of_a_message_already_in_the_outbox_link_to_nothing(mini_store, tmp_path):
    ctx, messages = _messages(mini_store, tmp_path)
    write(engine=mini_store, ctx=ctx, chunk=messages, as_of=at(MOMENT))
    with mini_store.begin() as connection:
        deliveries = connection.execute(select(func.count()).select_from(DeliveryRow)).scalar()
        connection.execute(delete(DeliveryRow))
    write(engine=mini_store, ctx=ctx, chunk=messages, as_of=at(MOMENT))  # the same keys: nothing new queued
    with mini_store.connect() as connection:
        total = connection.execute(select(func.count()).select_from(NotificationRow)).scalar()
    linked, unlinked = _linked(mini_store)
    assert total == len(messages) and not linked and unlinked == deliveries
