"""Load a catalog and directory into the store: idempotent, history-keeping, set-based."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, select, update

from duban.bulk import insert_rows, update_rows
from duban.catalog import Catalog, Task
from duban.directory import Person
from duban.models import EventRow, GroupRow, OccurrenceRow, PersonRow, PlanRow, TaskRow, UnitRow
from duban.schedule import expand
from duban.store import utc

PENDING = ("open", "acked")
log = logging.getLogger("duban.sync")


@dataclass
class Changes:
    """What a sync did to one kind of row."""

    created: int = 0
    updated: int = 0
    archived: int = 0

    @property
    def any(self) -> bool:
        """Whether anything changed."""
        return bool(self.created or self.updated or self.archived)


@dataclass
class SyncReport:
    """What a sync did, per kind of row."""

    plan_id: str
    kinds: dict[str, Changes] = field(default_factory=dict)
    kept_done: int = 0

    @property
    def changed(self) -> bool:
        """Whether the store changed at all."""
        return any(c.any for c in self.kinds.values())

    def summary(self) -> str:
        """One line for people."""
        if not self.changed:
            return f"{self.plan_id}: already up to date, nothing changed"
        parts = [f"{kind} +{c.created} ~{c.updated} -{c.archived}" for kind, c in self.kinds.items() if c.any]
        return f"{self.plan_id}: " + ", ".join(parts) + " (+created ~updated -archived)"


def _policy_json(task: Task) -> str:
    return json.dumps(asdict(task.policy), ensure_ascii=False, sort_keys=True)


def _task_values(task: Task, position: int) -> dict[str, Any]:
    return {
        "position": position,
        "ref": task.ref,
        "section": task.section,
        "title": task.title,
        "quote": task.quote,
        "owner": task.owner,
        "co_owners": ";".join(task.co_owners),
        "schedule": json.dumps(task.schedule, ensure_ascii=False, sort_keys=True),
        "times": task.times,
        "evidence": task.evidence,
        "note": task.note,
        "policy": _policy_json(task),
        "target": json.dumps(asdict(task.target), ensure_ascii=False) if task.target else None,
        "archived": False,
    }


def desired_occurrences(catalog: Catalog, people: Sequence[Person]) -> dict[str, dict[str, Any]]:
    """The occurrence rows the catalog and directory call for, by id."""
    result: dict[str, dict[str, Any]] = {}
    cache: dict[tuple, tuple] = {}
    for occ in expand(catalog, people):
        key = (occ.due, occ.reminders)
        if key not in cache:
            reminders = json.dumps([[stage, at.isoformat()] for stage, at in occ.reminders])
            first = utc(occ.reminders[0][1]) if occ.reminders else None
            cache[key] = (utc(occ.due), first, reminders)
        due, first, reminders = cache[key]
        result[occ.id] = {
            "task_id": occ.task.id,
            "owner_id": occ.owner.id,
            "owner_kind": occ.owner.kind,
            "unit_id": occ.owner.unit_id,
            "period_start": occ.period.start,
            "due": due,
            "first_reminder_at": first,
            "reminders": reminders,
            "times": occ.task.times,
            "archived": False,
        }
    return result


class _Reconciler:
    """Makes one table's rows for a plan match a desired set: insert, update, archive; never delete."""

    def __init__(self, connection: Connection, plan_id: str, now: datetime) -> None:
        self.connection = connection
        self.plan_id = plan_id
        self.now = now

    def run(self, table: Table, desired: dict[str, dict[str, Any]], protect: Iterable[str] = ()) -> Changes:
        """Reconcile; rows whose state is in `protect`... are left as they are but may be archived."""
        columns = sorted(next(iter(desired.values())).keys()) if desired else ["archived"]
        existing = {
            row[0]: row[1:]
            for row in self.connection.execute(
                select(table.c.id, *(table.c[name] for name in columns)).where(table.c.plan_id == self.plan_id)
            )
        }
        protected = set(protect)
        new_rows, changed_rows = [], []
        for row_id, values in desired.items():
            if row_id not in existing:
                new_rows.append({"plan_id": self.plan_id, "id": row_id, **values})
            elif row_id not in protected and existing[row_id] != tuple(values[c] for c in columns):
                changed_rows.append({**values, "plan_id": self.plan_id, "id": row_id})
        archived_at = columns.index("archived")
        gone = [
            {"archived": True, "plan_id": self.plan_id, "id": row_id}
            for row_id, values in existing.items()
            if row_id not in desired and not values[archived_at]
        ]
        insert_rows(self.connection, table, new_rows)
        update_rows(self.connection, table, ("plan_id", "id"), changed_rows)
        update_rows(self.connection, table, ("plan_id", "id"), gone)
        return Changes(len(new_rows), len(changed_rows), len(gone))


def _settled_occurrences(connection: Connection, plan_id: str) -> list[str]:
    table = OccurrenceRow.__table__
    query = select(table.c.id).where(table.c.plan_id == plan_id, table.c.state.not_in(PENDING))
    return [row[0] for row in connection.execute(query)]


def sync(*, engine: Engine, catalog: Catalog, catalog_text: str, people: Sequence[Person], now: datetime) -> SyncReport:
    """Make the store carry this catalog and directory; a second run changes nothing."""
    plan = catalog.plan
    report = SyncReport(plan.id)
    sha = hashlib.sha256((catalog_text + repr(people)).encode()).hexdigest()
    stamp = utc(now)
    with engine.begin() as connection:
        plan_table = PlanRow.__table__
        current = connection.execute(select(plan_table.c.catalog_sha).where(plan_table.c.id == plan.id)).scalar()
        if current == sha:
            return report
        plan_values = {
            "title": plan.title,
            "timezone": plan.timezone,
            "start": plan.start,
            "end": plan.end,
            "office": plan.office,
            "catalog_sha": sha,
            "catalog_text": catalog_text,
            "synced_at": stamp,
        }
        if current is None:
            connection.execute(insert(plan_table).values(id=plan.id, **plan_values))
        else:
            connection.execute(update(plan_table).where(plan_table.c.id == plan.id).values(**plan_values))
        reconcile = _Reconciler(connection, plan.id, stamp)
        units = catalog.units.values()
        report.kinds["units"] = reconcile.run(
            UnitRow.__table__,
            {u.id: {"name": u.name, "short": u.short, "kind": u.kind, "archived": False} for u in units},
        )
        report.kinds["groups"] = reconcile.run(
            GroupRow.__table__,
            {
                g.id: {"name": g.name, "members": ";".join(g.members), "archived": False}
                for g in catalog.groups.values()
            },
        )
        report.kinds["people"] = reconcile.run(
            PersonRow.__table__,
            {
                p.id: {
                    "name": p.name,
                    "unit_id": p.unit,
                    "roles": ";".join(p.roles),
                    "email": p.email,
                    "mobile": p.mobile,
                    "archived": False,
                }
                for p in people
            },
        )
        report.kinds["tasks"] = reconcile.run(
            TaskRow.__table__, {t.id: _task_values(t, i) for i, t in enumerate(catalog.tasks)}
        )
        settled = _settled_occurrences(connection, plan.id)
        changes = reconcile.run(OccurrenceRow.__table__, desired_occurrences(catalog, people), protect=settled)
        report.kinds["occurrences"] = changes
        report.kept_done = len(settled)
        if report.changed:
            counts = {kind: asdict(c) for kind, c in report.kinds.items()}
            connection.execute(
                insert(EventRow.__table__).values(
                    plan_id=plan.id,
                    at=stamp,
                    actor="system",
                    source="sync",
                    kind="sync",
                    data=json.dumps(counts),
                    note=report.summary(),
                )
            )
    if report.changed:
        counts = {kind: asdict(c) for kind, c in report.kinds.items()}
        log.info("sync %s", report.summary(), extra={"event": "sync", "plan": plan.id, "counts": counts})
    return report
