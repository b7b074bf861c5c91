"""Rows for the reading commands: occurrences with their deadlines, reminders and states."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from duban.catalog import Catalog
from duban.directory import Person
from duban.models import OccurrenceRow, PersonRow, PlanRow, TaskRow, UnitRow
from duban.schedule import expand
from duban.status import status_at
from duban.store import StoreError, require_tables, utc


def task_rows(catalog: Catalog) -> list[dict[str, Any]]:
    """One object per task."""
    return [
        {"id": t.id, "ref": t.ref, "title": t.title, "quote": t.quote, "owner": t.owner,
         "owner_name": catalog.owner_label(t.owner), "co_owners": list(t.co_owners), "schedule": t.schedule,
         "target": None if t.target is None else {"metric": t.target.metric, "op": t.target.op,
                                                  "value": t.target.value, "unit": t.target.unit}}
        for t in catalog.tasks
    ]


def _in_range(due_day: date, start: date | None, end: date | None) -> bool:
    return (start is None or due_day >= start) and (end is None or due_day <= end)


def calendar_from_catalog(
    catalog: Catalog, people: Sequence[Person] | None, start: date | None, end: date | None, owner: str | None
) -> list[dict[str, Any]]:
    """Occurrences straight from the catalog (and directory, for role owners)."""
    rows = []
    for occ in expand(catalog, people):
        if not _in_range(occ.period.end, start, end):
            continue
        if owner and owner not in (occ.owner.id, occ.owner.unit_id):
            continue
        rows.append({
            "id": occ.id, "task": occ.task.id, "ref": occ.task.ref, "title": occ.task.title,
            "owner": occ.owner.id, "owner_name": occ.owner.name, "unit": occ.owner.unit_id,
            "period_start": occ.period.start.isoformat(), "due": occ.due.isoformat(),
            "reminders": [{"stage": stage, "at": at.isoformat()} for stage, at in occ.reminders],
        })
    return sorted(rows, key=lambda row: (row["due"], row["id"]))


def pick_plan(engine: Engine, plan_id: str | None) -> tuple[str, ZoneInfo]:
    """The plan to read: the one named, or the only one in the store."""
    require_tables(engine)
    with engine.connect() as connection:
        plans = connection.execute(select(PlanRow.id, PlanRow.timezone)).all()
    if plan_id:
        plans = [p for p in plans if p.id == plan_id]
        if not plans:
            raise StoreError(f"no plan '{plan_id}' in the store")
    if not plans:
        raise StoreError("the store holds no plan yet: run `duban sync` first")
    if len(plans) > 1:
        raise StoreError(f"the store holds several plans ({', '.join(p.id for p in plans)}): choose one with --plan")
    return plans[0].id, ZoneInfo(plans[0].timezone)


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).isoformat()


def store_rows(
    engine: Engine, plan_id: str, tz: ZoneInfo, start: date | None, end: date | None, owner: str | None,
    as_of: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """Occurrences from the store; with `as_of`, each with its state then."""
    occ = OccurrenceRow.__table__
    query = select(
        occ.c.id, occ.c.task_id, occ.c.owner_id, occ.c.owner_kind, occ.c.unit_id, occ.c.period_start, occ.c.due,
        occ.c.reminders, occ.c.first_reminder_at, occ.c.state, occ.c.reported_at, occ.c.waived_at,
    ).where(occ.c.plan_id == plan_id, occ.c.archived.is_(False))
    if start is not None:
        query = query.where(occ.c.due >= utc(datetime.combine(start, time(), tzinfo=tz)))
    if end is not None:
        query = query.where(occ.c.due < utc(datetime.combine(end + timedelta(days=1), time(), tzinfo=tz)))
    if owner:
        query = query.where((occ.c.owner_id == owner) | (occ.c.unit_id == owner))
    query = query.order_by(occ.c.due, occ.c.id)
    with engine.connect() as connection:
        tasks = {r.id: r for r in connection.execute(select(TaskRow.id, TaskRow.ref, TaskRow.title).where(TaskRow.plan_id == plan_id))}
        names = dict(connection.execute(select(UnitRow.id, UnitRow.short).where(UnitRow.plan_id == plan_id)).all())
        names.update(connection.execute(select(UnitRow.id, UnitRow.name).where(UnitRow.plan_id == plan_id, UnitRow.short == "")).all())
        people = dict(connection.execute(select(PersonRow.id, PersonRow.name).where(PersonRow.plan_id == plan_id)).all())
        as_of_utc = None if as_of is None else utc(as_of)
        due_cache: dict[datetime, str] = {}
        for r in connection.execute(query):
            task = tasks[r.task_id]
            due = due_cache.get(r.due) or due_cache.setdefault(r.due, _local(r.due, tz))
            row = {
                "id": r.id, "task": r.task_id, "ref": task.ref, "title": task.title, "owner": r.owner_id,
                "owner_name": (people if r.owner_kind == "person" else names).get(r.owner_id, r.owner_id),
                "unit": r.unit_id, "period_start": r.period_start.isoformat(), "due": due,
                "reminders": [{"stage": s, "at": at} for s, at in json.loads(r.reminders)],
            }
            if as_of_utc is not None:
                row["state"] = status_at(state=r.state, due=r.due, first_reminder_at=r.first_reminder_at,
                                         reported_at=r.reported_at, waived_at=r.waived_at, as_of=as_of_utc)
            yield row


def count_by(rows: Iterable[dict[str, Any]], key: str) -> dict[str, int]:
    """How many rows per value of a key."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[key]] = counts.get(row[key], 0) + 1
    return counts
