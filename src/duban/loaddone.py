"""Work already done when the catalog is loaded (`done_at_load`): recorded as done and verified at sync."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select, update

from duban.catalog import Catalog, Task
from duban.models import EventRow, OccurrenceRow
from duban.schedule import deadline
from duban.store import utc

PENDING = ("open", "acked")


def _note(catalog: Catalog, task: Task) -> str:
    done = task.done_at_load
    assert done is not None
    when = f"，{done.day.month}月{done.day.day}日" if done.day else ""
    text = f"载入方案时已完成（{catalog.units[done.by].label}{when}）"
    return f"{text}：{done.note}" if done.note else text


def record_done_at_load(connection: Connection, catalog: Catalog, now: datetime) -> int:
    """Mark the still-pending items of `done_at_load` tasks verified, each with its event; returns how many."""
    occ, plan = OccurrenceRow.__table__, catalog.plan
    count = 0
    for task in (t for t in catalog.tasks if t.done_at_load is not None):
        done = task.done_at_load
        rows = connection.execute(select(occ.c.id, occ.c.due, occ.c.state).where(
            occ.c.plan_id == plan.id, occ.c.task_id == task.id, occ.c.state.in_(PENDING),
            occ.c.archived.is_(False))).all()
        for row in rows:
            due = utc(row.due) if row.due.tzinfo else row.due.replace(tzinfo=UTC)  # SQLite: naive UTC
            at = utc(deadline(done.day, plan.tz)) if done.day else min(utc(now), due)
            connection.execute(update(occ).where(occ.c.plan_id == plan.id, occ.c.id == row.id).values(
                state="verified", reported_at=at, verified_at=at, report_count=1, updated_at=utc(now)))
            connection.execute(insert(EventRow.__table__).values(
                plan_id=plan.id, occurrence_id=row.id, at=utc(now), actor="system", source="sync", kind="verify",
                before=row.state, after="verified", note=_note(catalog, task),
                data=json.dumps({"done_at_load": {"by": done.by, "date": done.day.isoformat() if done.day else None,
                                                  "at": at.isoformat()}})))
            count += 1
    return count
