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
from duban.status import status_column
from duban.store import StoreError, require_tables, utc


def task_rows(catalog: Catalog) -> list[dict[str, Any]]:
    """One object per task."""
    return [
        {
            "id": t.id,
            "ref": t.ref,
            "title": t.title,
            "quote": t.quote,
            "owner": t.owner,
            "owner_name": catalog.owner_label(t.owner),
            "co_owners": list(t.co_owners),
            "schedule": t.schedule,
            "target": None
            if t.target is None
            else {"metric": t.target.metric, "op": t.target.op, "value": t.target.value, "unit": t.target.unit},
        }
        for t in catalog.tasks
    ]


def _in_range(due_day: date, start: date | None, end: date | None) -> bool:
    return (start is None or due_day >= start) and (end is None or due_day <= end)


def _reminder_list(reminders: tuple[tuple[int, datetime], ...]) -> list[dict[str, Any]]:
    return [{"stage": stage, "at": at.isoformat()} for stage, at in reminders]


def calendar_from_catalog(
    catalog: Catalog, people: Sequence[Person] | None, start: date | None, end: date | None, owner: str | None
) -> list[dict[str, Any]]:
    """Occurrences straight from the catalog (and directory, for role owners)."""
    rows = []
    shared: dict[tuple, list[dict[str, Any]]] = {}
    for occ in expand(catalog, people):
        if not _in_range(occ.period.end, start, end):
            continue
        if owner and owner not in (occ.owner.id, occ.owner.unit_id):
            continue
        rows.append(
            {
                "id": occ.id,
                "task": occ.task.id,
                "ref": occ.task.ref,
                "title": occ.task.title,
                "owner": occ.owner.id,
                "owner_name": occ.owner.name,
                "unit": occ.owner.unit_id,
                "period_start": occ.period.start.isoformat(),
                "due": occ.due.isoformat(),
                "reminders": shared.setdefault(occ.reminders, _reminder_list(occ.reminders))
                if occ.reminders not in shared
                else shared[occ.reminders],
            }
        )
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
    engine: Engine,
    plan_id: str,
    tz: ZoneInfo,
    start: date | None,
    end: date | None,
    owner: str | None,
    as_of: datetime | None = None,
    state: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Occurrences from the store; with `as_of`, each with its state then (optionally only one state)."""
    occ = OccurrenceRow.__table__
    columns = [
        occ.c.id,
        occ.c.task_id,
        occ.c.owner_id,
        occ.c.owner_kind,
        occ.c.unit_id,
        occ.c.period_start,
        occ.c.due,
        occ.c.reminders,
    ]
    if as_of is not None:
        columns.append(status_column(utc(as_of)).label("state"))
    query = select(*columns).where(occ.c.plan_id == plan_id, occ.c.archived.is_(False))
    if start is not None:
        query = query.where(occ.c.due >= utc(datetime.combine(start, time(), tzinfo=tz)))
    if end is not None:
        query = query.where(occ.c.due < utc(datetime.combine(end + timedelta(days=1), time(), tzinfo=tz)))
    if owner:
        query = query.where((occ.c.owner_id == owner) | (occ.c.unit_id == owner))
    if state is not None and as_of is not None:
        query = query.where(status_column(utc(as_of)) == state)
    query = query.order_by(occ.c.due, occ.c.id)
    with engine.connect() as connection:
        tasks = {
            r.id: (r.ref, r.title)
            for r in connection.execute(
                select(TaskRow.id, TaskRow.ref, TaskRow.title).where(TaskRow.plan_id == plan_id)
            )
        }
        units = {
            r.id: r.short or r.name
            for r in connection.execute(
                select(UnitRow.id, UnitRow.short, UnitRow.name).where(UnitRow.plan_id == plan_id)
            )
        }
        people = dict(
            connection.execute(select(PersonRow.id, PersonRow.name).where(PersonRow.plan_id == plan_id)).all()
        )
        dues: dict[datetime, str] = {}
        reminders: dict[str, list] = {}
        for (
            occ_id,
            task_id,
            owner_id,
            owner_kind,
            unit_id,
            period_start,
            due,
            raw_reminders,
            *rest,
        ) in connection.execute(query).all():
            ref, title = tasks[task_id]
            if due not in dues:
                dues[due] = due.astimezone(tz).isoformat()
            if raw_reminders not in reminders:
                reminders[raw_reminders] = [{"stage": s, "at": at} for s, at in json.loads(raw_reminders)]
            row = {
                "id": occ_id,
                "task": task_id,
                "ref": ref,
                "title": title,
                "owner": owner_id,
                "owner_name": (people if owner_kind == "person" else units).get(owner_id, owner_id),
                "unit": unit_id,
                "period_start": period_start.isoformat(),
                "due": dues[due],
                "reminders": reminders[raw_reminders],
            }
            if rest:
                row["state"] = rest[0]
            yield row


def count_by(rows: Iterable[dict[str, Any]], key: str) -> dict[str, int]:
    """How many rows per value of a key."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[key]] = counts.get(row[key], 0) + 1
    return counts
