"""Load a catalog and directory into the store: idempotent, history-keeping, set-based."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table, insert, or_, select, true, update

from duban.bulk import insert_rows, update_rows
from duban.catalog import Catalog, CatalogError, Problem, Task
from duban.config import Settings
from duban.directory import Person, load_people, person_from_row
from duban.loaddone import record_done_at_load
from duban.models import EventRow, GroupRow, OccurrenceRow, PersonRow, PlanRow, TaskRow, UnitRow
from duban.schedule import expand
from duban.status import superseded_moments
from duban.store import utc
from duban.yamlsrc import Where

PENDING = ("open", "acked")
log = logging.getLogger("duban.sync")


class SyncRefused(ValueError):
    """A sync that would archive more than its limits allow; nothing was changed."""


@dataclass(frozen=True)
class ArchiveLimits:
    """How much one sync may archive before it is refused, as shares of what the store holds live."""

    people_pct: int = 20  # of the live people
    reported_pct: int = 5  # of the live occurrences that carry reports (reported, verified, waived, partly done)
    allow: bool = False  # archive whatever the catalog and directory call for (--allow-archive)


@dataclass
class Changes:
    """What a sync did to one kind of row."""

    created: int = 0
    updated: int = 0
    archived: int = 0
    restored: int = 0  # of the updated rows, those that came back from the archive

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
    people_kept: int | None = None  # no directory given: how many people the store's directory held
    done_at_load: int = 0  # items recorded as done at load (the catalog's `done_at_load`)

    @property
    def changed(self) -> bool:
        """Whether the store changed at all."""
        return any(c.any for c in self.kinds.values())

    def summary(self) -> str:
        """One line for people."""
        if not self.changed:
            return f"{self.plan_id}: already up to date, nothing changed"
        parts = [f"{kind} +{c.created} ~{c.updated} -{c.archived}" + (f" ({c.restored} back from the archive)"
                                                                      if c.restored else "")
                 for kind, c in self.kinds.items() if c.any]
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
    planned = list(expand(catalog, people))
    superseded = superseded_moments(planned)
    for occ in planned:
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
            "superseded_at": utc(superseded[occ.id]) if occ.id in superseded else None,
            "times": occ.task.times,
            "archived": False,
        }
    return result


@dataclass
class _Diff:
    """What reconciling one table would write: new rows, changed rows, rows back from the archive, rows to archive."""

    table: Table
    new: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    unarchived: list[dict[str, Any]] = field(default_factory=list)  # settled rows: only their flag changes
    gone: list[str] = field(default_factory=list)
    restored: int = 0
    live: int = 0  # rows live before the sync


class _Reconciler:
    """Makes one table's rows for a plan match a desired set: insert, update, archive; never delete."""

    def __init__(self, connection: Connection, plan_id: str) -> None:
        self.connection = connection
        self.plan_id = plan_id

    def diff(self, table: Table, desired: dict[str, dict[str, Any]], protect: Iterable[str] = (),
             scope: ColumnElement[bool] | None = None) -> _Diff:
        """What would change; rows in `protect` (settled occurrences) keep their values, only `archived` follows.
        Rows outside `scope` (items handed out or imported, not from the catalog) are left alone."""
        columns = sorted(next(iter(desired.values())).keys()) if desired else ["archived"]
        at = columns.index("archived")
        existing = {
            row[0]: row[1:]
            for row in self.connection.execute(
                select(table.c.id, *(table.c[name] for name in columns)).where(table.c.plan_id == self.plan_id)
                .where(true() if scope is None else scope)
            )
        }
        protected = set(protect)
        result = _Diff(table)
        for row_id, values in desired.items():
            old = existing.get(row_id)
            if old is None:
                result.new.append({"plan_id": self.plan_id, "id": row_id, **values})
            elif row_id in protected:
                if old[at]:
                    result.unarchived.append({"archived": False, "plan_id": self.plan_id, "id": row_id})
            elif old != tuple(values[c] for c in columns):
                result.changed.append({**values, "plan_id": self.plan_id, "id": row_id})
                result.restored += bool(old[at])
        result.gone = [row_id for row_id, old in existing.items() if row_id not in desired and not old[at]]
        result.live = sum(not old[at] for old in existing.values())
        return result

    def apply(self, diff: _Diff) -> Changes:
        """Write a diff."""
        keys = ("plan_id", "id")
        insert_rows(self.connection, diff.table, diff.new)
        update_rows(self.connection, diff.table, keys, diff.changed)
        update_rows(self.connection, diff.table, keys, diff.unarchived)
        update_rows(self.connection, diff.table, keys,
                    [{"archived": True, "plan_id": self.plan_id, "id": row_id} for row_id in diff.gone])
        return Changes(len(diff.new), len(diff.changed) + len(diff.unarchived), len(diff.gone),
                       diff.restored + len(diff.unarchived))


def _of_catalog(plan_id: str) -> ColumnElement[bool]:
    """Occurrences of catalog tasks: sync never touches items the office handed out or imported (casework)."""
    task = TaskRow.__table__
    return OccurrenceRow.__table__.c.task_id.not_in(
        select(task.c.id).where(task.c.plan_id == plan_id, task.c.origin != "catalog"))


def _reported_occurrences(connection: Connection, plan_id: str) -> dict[str, tuple[str, bool]]:
    """Occurrences that carry reports (settled, or partly reported): id -> (state, archived)."""
    table = OccurrenceRow.__table__
    query = select(table.c.id, table.c.state, table.c.archived).where(
        table.c.plan_id == plan_id, or_(table.c.state.not_in(PENDING), table.c.report_count > 0), _of_catalog(plan_id))
    return {row.id: (row.state, row.archived) for row in connection.execute(query)}


def stored_people(connection: Connection, plan_id: str, catalog: Catalog | None = None) -> list[Person]:
    """The directory as the store has it (live people; with a catalog, those whose unit it still has)."""
    table = PersonRow.__table__
    rows = connection.execute(select(table).where(table.c.plan_id == plan_id, table.c.archived.is_(False))
                              .order_by(table.c.id))
    people = [person_from_row(row) for row in rows]
    return people if catalog is None else [p for p in people if p.unit in catalog.units]


def require_people(path: str | Path, people: list[Person]) -> list[Person]:
    """The people of a contacts file for a sync; a file with none is refused (it would archive the directory)."""
    if not people:
        raise CatalogError([Problem(Where(str(path), 1, 1), "no people in this contacts file; a sync with it would "
                                    "archive the whole directory (sync without --contacts keeps the store's)")])
    return people


def read_contacts(path: str | Path, catalog: Catalog) -> list[Person]:
    """Read a contacts file for a sync (refused when it has no people)."""
    return require_people(path, load_people(path, catalog))


def limits_from(settings: Settings, allow: bool = False) -> ArchiveLimits:
    """The archive limits a deployment set."""
    return ArchiveLimits(settings.archive_max_people_pct, settings.archive_max_reported_pct, allow)


def _share(part: int, whole: int) -> str:
    return f"{part * 100 // whole}%" if whole else "0%"


def _too_much(part: int, whole: int, pct: int) -> bool:
    return part > 0 and part * 100 > pct * whole


def _refusal(connection: Connection, plan_id: str, people: _Diff, occurrences: _Diff,
             reported: dict[str, tuple[str, bool]], limits: ArchiveLimits) -> str | None:
    """Why this sync archives too much, in one line, or None when it may go ahead."""
    if limits.allow:
        return None
    reasons = []
    if _too_much(len(people.gone), people.live, limits.people_pct):
        table = PersonRow.__table__
        first = sorted(people.gone)[:5]
        names = dict(connection.execute(select(table.c.id, table.c.name).where(
            table.c.plan_id == plan_id, table.c.id.in_(first))).all())
        shown = ", ".join(f"{names.get(i, '')} ({i})" for i in first)
        reasons.append(f"{len(people.gone)} of {people.live} people ({_share(len(people.gone), people.live)}, "
                       f"limit {limits.people_pct}%: {shown}{', ...' if len(people.gone) > 5 else ''})")
    live_reported = sum(not archived for _, archived in reported.values())
    gone_reported = sorted(i for i in occurrences.gone if i in reported)
    if _too_much(len(gone_reported), live_reported, limits.reported_pct):
        shown = ", ".join(gone_reported[:5])
        reasons.append(f"{len(gone_reported)} of {live_reported} reported items "
                       f"({_share(len(gone_reported), live_reported)}, limit {limits.reported_pct}%: "
                       f"{shown}{', ...' if len(gone_reported) > 5 else ''})")
    if not reasons:
        return None
    return (f"sync refused, nothing changed: it would archive {' and '.join(reasons)}. If that is meant, run "
            "`duban sync` with --allow-archive (or raise DUBAN_ARCHIVE_MAX_PEOPLE_PCT, "
            "DUBAN_ARCHIVE_MAX_REPORTED_PCT); archived rows come back with their reports when they return "
            "to the catalog or directory")


STEPS = ("核对单位、人员和任务", "展开事项", "核对事项", "写入")


def _sha(catalog_text: str, people: Sequence[Person]) -> str:
    return hashlib.sha256((catalog_text + repr(sorted(people, key=lambda p: p.id))).encode()).hexdigest()


def sync(*, engine: Engine, catalog: Catalog, catalog_text: str, people: Sequence[Person] | None, now: datetime,
         limits: ArchiveLimits = ArchiveLimits(), on_step: Callable[[str], None] | None = None) -> SyncReport:
    """Make the store carry this catalog and directory (None: keep the store's); a second run changes nothing.

    Refused (SyncRefused, nothing changed) when it would archive more people or reported items than `limits` allow.
    `on_step` hears each of the STEPS phases begin (a progress bar)."""
    step = on_step or (lambda label: None)
    plan = catalog.plan
    report = SyncReport(plan.id)
    stamp = utc(now)
    with engine.begin() as connection:
        if people is None:
            people = stored_people(connection, plan.id, catalog)
            report.people_kept = len(people)
        sha = _sha(catalog_text, people)
        plan_table = PlanRow.__table__
        current = connection.execute(select(plan_table.c.catalog_sha).where(plan_table.c.id == plan.id)).scalar()
        if current == sha:
            return report
        reconcile = _Reconciler(connection, plan.id)
        step(STEPS[0])
        diffs = {
            "units": reconcile.diff(UnitRow.__table__, {
                u.id: {"name": u.name, "short": u.short, "kind": u.kind, "archived": False}
                for u in catalog.units.values()}),
            "groups": reconcile.diff(GroupRow.__table__, {
                g.id: {"name": g.name, "members": ";".join(g.members), "archived": False}
                for g in catalog.groups.values()}),
            "people": reconcile.diff(PersonRow.__table__, {
                p.id: {"name": p.name, "unit_id": p.unit, "roles": ";".join(p.roles), "email": p.email,
                       "mobile": p.mobile, "archived": False}
                for p in people}),
            "tasks": reconcile.diff(TaskRow.__table__, {t.id: _task_values(t, i) for i, t in enumerate(catalog.tasks)},
                                    scope=TaskRow.__table__.c.origin == "catalog"),
        }
        step(STEPS[1])
        desired = desired_occurrences(catalog, people)
        step(STEPS[2])
        reported = _reported_occurrences(connection, plan.id)
        settled = [i for i, (state, _) in reported.items() if state not in PENDING]
        diffs["occurrences"] = reconcile.diff(OccurrenceRow.__table__, desired, protect=settled,
                                              scope=_of_catalog(plan.id))
        refusal = _refusal(connection, plan.id, diffs["people"], diffs["occurrences"], reported, limits)
        if refusal:
            raise SyncRefused(refusal)
        step(STEPS[3])
        _write_plan(connection, catalog, catalog_text, sha, stamp, exists=current is not None)
        report.kinds = {kind: reconcile.apply(diff) for kind, diff in diffs.items()}
        report.done_at_load = record_done_at_load(connection, catalog, now)  # catalog: already done
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


def _write_plan(connection: Connection, catalog: Catalog, catalog_text: str, sha: str, stamp: datetime,
                exists: bool) -> None:
    plan, table = catalog.plan, PlanRow.__table__
    values = {"title": plan.title, "timezone": plan.timezone, "start": plan.start, "end": plan.end,
              "office": plan.office, "catalog_sha": sha, "catalog_text": catalog_text, "synced_at": stamp}
    if exists:
        connection.execute(update(table).where(table.c.id == plan.id).values(**values))
    else:
        connection.execute(insert(table).values(id=plan.id, **values))
