"""Rows for the web pages and the calendar feed. Who sees what comes from duban.actions, never from here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, func, select

from duban.actions import STATE_NAMES, Item
from duban.models import OccurrenceRow, PersonRow, PlanRow, TaskRow, UnitRow
from duban.status import STATE_LABELS, status_at
from duban.store import utc

OPS = {">=": "≥", "<=": "≤", ">": "＞", "<": "＜", "==": "="}
GROUPS = (("overdue", "逾期"), ("due_soon", "临近"), ("upcoming", "以后"), ("waiting", "已报告，待销号"))


@dataclass(frozen=True)
class PlanInfo:
    """The plan as pages show it."""

    id: str
    title: str
    tz: ZoneInfo
    office: str | None


def plan_info(connection: Connection, plan_id: str) -> PlanInfo | None:
    """Title, zone and office of a plan."""
    row = connection.execute(select(PlanRow.id, PlanRow.title, PlanRow.timezone, PlanRow.office)
                             .where(PlanRow.id == plan_id)).first()
    return None if row is None else PlanInfo(row.id, row.title, ZoneInfo(row.timezone), row.office)


def target_text(target: dict[str, Any] | str | None) -> str:
    """开工率 ≥ 100%."""
    if isinstance(target, str):
        target = json.loads(target)
    if not target:
        return ""
    value = target.get("value")
    shown = f"{value:g}" if isinstance(value, (int, float)) else str(value)
    op = target.get("op", "")
    return f"{target.get('metric', '')} {OPS.get(op, op)} {shown}{target.get('unit', '')}"


def figure_text(value: float | None, target: dict[str, Any] | str | None) -> str:
    """93.5% (the figure with the target's unit)."""
    if value is None:
        return ""
    if isinstance(target, str):
        target = json.loads(target)
    return f"{value:g}{(target or {}).get('unit', '')}"


def unit_names(connection: Connection, plan_id: str, ids: Iterable[str] | None = None) -> dict[str, str]:
    """Unit id -> the name officials use (short name first); only `ids` when given."""
    query = select(UnitRow.id, UnitRow.name, UnitRow.short).where(UnitRow.plan_id == plan_id)
    if ids is not None:
        query = query.where(UnitRow.id.in_(sorted(set(ids))))
    return {r.id: r.short or r.name for r in connection.execute(query).all()}


def person_names(connection: Connection, plan_id: str, ids: Iterable[str] | None = None) -> dict[str, str]:
    """Person id -> name."""
    query = select(PersonRow.id, PersonRow.name).where(PersonRow.plan_id == plan_id)
    if ids is not None:
        query = query.where(PersonRow.id.in_(sorted(set(ids))))
    return dict(connection.execute(query).all())


def _tasks(connection: Connection, plan_id: str, ids: Iterable[str]) -> dict[str, Any]:
    task = TaskRow.__table__
    return {r.id: r for r in connection.execute(select(
        task.c.id, task.c.ref, task.c.title, task.c.evidence, task.c.target).where(
        task.c.plan_id == plan_id, task.c.id.in_(sorted(set(ids))))).all()}


def item_rows(
    connection: Connection, *, plan_id: str, clause: ColumnElement[bool] | Sequence[ColumnElement[bool]],
    as_of: datetime, states: tuple[str, ...] | None = None, unit: str | None = None, limit: int | None = None,
) -> list[dict[str, Any]]:
    """Occurrences matching a visibility clause (or any of several branches, each queried on its own index),
    soonest deadline first, each with its status at `as_of`."""
    occ = OccurrenceRow.__table__
    found: dict[str, Any] = {}
    for branch in ([clause] if isinstance(clause, ColumnElement) else clause):
        query = select(occ.c.id, occ.c.task_id, occ.c.owner_kind, occ.c.owner_id, occ.c.unit_id, occ.c.due,
                       occ.c.first_reminder_at, occ.c.state, occ.c.reported_at, occ.c.waived_at, occ.c.value,
                       occ.c.report_count, occ.c.times, occ.c.reminders, occ.c.superseded_at).where(
            branch, occ.c.plan_id == plan_id, occ.c.archived.is_(False))
        if states:
            query = query.where(occ.c.state.in_(states))
        if unit:
            query = query.where(occ.c.unit_id == unit)
        if limit:  # otherwise sorted below: an ORDER BY would lure SQLite onto the (plan_id, due) index
            query = query.order_by(occ.c.due, occ.c.id).limit(limit)
        for r in connection.execute(query).all():
            found.setdefault(r.id, r)
    rows = sorted(found.values(), key=lambda r: (r.due, r.id))[:limit]
    tasks = _tasks(connection, plan_id, (r.task_id for r in rows))
    units = unit_names(connection, plan_id, (r.unit_id for r in rows))
    people = person_names(connection, plan_id, (r.owner_id for r in rows if r.owner_kind == "person"))
    stamp = utc(as_of)
    shown = {t.id: {"title": t.title, "ref": t.ref, "evidence": t.evidence, "target": target_text(t.target),
                    "unit": json.loads(t.target).get("unit", "") if t.target else ""} for t in tasks.values()}
    result = []
    for r in rows:
        task = shown.get(r.task_id) or {"title": r.task_id, "ref": "", "evidence": "", "target": "", "unit": ""}
        status = status_at(state=r.state, due=r.due, first_reminder_at=r.first_reminder_at,
                           reported_at=r.reported_at, waived_at=r.waived_at, as_of=stamp,
                           superseded_at=r.superseded_at)
        result.append({
            "id": r.id, "task_id": r.task_id, "title": task["title"], "ref": task["ref"],
            "evidence": task["evidence"], "target": task["target"],
            "owner_name": (people if r.owner_kind == "person" else units).get(r.owner_id, r.owner_id),
            "unit_id": r.unit_id, "unit_name": units.get(r.unit_id, r.unit_id), "due": r.due, "state": r.state,
            "state_name": STATE_NAMES.get(r.state, r.state), "status": status,
            "status_name": STATE_LABELS.get(status, status), "reported_at": r.reported_at, "value": r.value,
            "figure": "" if r.value is None else f"{r.value:g}{task['unit']}",
            "report_count": r.report_count, "times": r.times, "reminders": r.reminders,
        })
    return result


def count_reported(connection: Connection, plan_id: str) -> int:
    """How many reports wait for the office."""
    occ = OccurrenceRow.__table__
    return connection.execute(select(func.count()).select_from(occ).where(
        occ.c.plan_id == plan_id, occ.c.state == "reported", occ.c.archived.is_(False))).scalar() or 0


def group_mine(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """逾期 / 临近 / 以后 for what is still to do, and what waits for the office."""
    groups: dict[str, list[dict[str, Any]]] = {key: [] for key, _ in GROUPS}
    for row in rows:
        if row["state"] == "reported":
            groups["waiting"].append(row)
        elif row["status"] in ("overdue", "due_soon", "upcoming"):
            groups[row["status"]].append(row)
        elif row["status"] == "missed":  # past its period, still to do: listed with the overdue (marked 未按期)
            groups["overdue"].append(row)
    return groups


def detail(connection: Connection, item: Item) -> dict[str, Any]:
    """What the item page shows about the occurrence and its task."""
    task = TaskRow.__table__
    row = connection.execute(select(task).where(task.c.plan_id == item.plan_id, task.c.id == item.task_id)).first()
    units = unit_names(connection, item.plan_id, {item.unit_id, *item.co_units})
    if item.owner_kind == "person":
        owner = person_names(connection, item.plan_id, [item.owner_id]).get(item.owner_id, item.owner_id)
        owner = f"{owner}（{units.get(item.unit_id, item.unit_id)}）"
    else:
        owner = units.get(item.unit_id, item.unit_id)
    return {
        "title": row.title if row else item.task_id, "quote": row.quote if row else "", "ref": row.ref if row else "",
        "evidence": row.evidence if row else "", "note": row.note if row else "", "owner": owner,
        "co_owners": [units.get(u, u) for u in sorted(item.co_units)],
        "target": target_text(item.target), "times": item.times, "unit": (item.target or {}).get("unit", ""),
        "figure": figure_text(item.value, item.target),
    }


def ics_rows(rows: list[dict[str, Any]], tz: ZoneInfo) -> list[dict[str, Any]]:
    """Rows in the shape `duban.output.as_ics` takes."""
    return [{
        "id": r["id"], "title": r["title"], "owner_name": r["owner_name"], "ref": r["ref"],
        "due": r["due"].astimezone(tz).isoformat(), "state": r["status"],
        "reminders": [{"stage": stage, "at": at} for stage, at in json.loads(r["reminders"])],
    } for r in rows]
