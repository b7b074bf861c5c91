"""What the read path asks the store: the plan, the names it shows, and the occurrences in order."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from duban.readpath.connect import Reader
from duban.readpath.rule import narrowing_sql, state_sql

COLUMNS = "id, task_id, owner_id, owner_kind, unit_id, period_start, due, reminders"


class Names:
    """What rows show beside ids: each task's clause and title, each unit's name, and the people's names: the whole
    directory at once, or (`few_people`, for one owner's items) only the people the rows name, batch by batch."""

    def __init__(self, reader: Reader, plan_id: str, few_people: bool = False) -> None:
        self.reader, self.plan_id = reader, plan_id
        p = {"plan": plan_id}
        self.where = f"WHERE plan_id = {reader.param('plan')}"
        tasks = reader.all(f"SELECT id, ref, title FROM task {self.where}", p)
        units = reader.all(f"SELECT id, short, name FROM unit {self.where}", p)
        self.tasks: dict[str, tuple[str, str]] = {i: (ref, title) for i, ref, title in tasks}
        self.units: dict[str, str] = {i: short or name for i, short, name in units}
        self.people: dict[str, str] = {}
        self._asked: set[str] = set()
        self.few_people = few_people
        if not few_people:
            self.people.update(reader.all(f"SELECT id, name FROM person {self.where}", p))  # type: ignore[arg-type]

    def learn_people(self, ids: set[str]) -> None:
        """Look up the names of these people (archived ones too, as the ORM path) unless already asked."""
        missing = sorted(ids - self._asked)
        self._asked.update(missing)
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            params: dict[str, Any] = {"plan": self.plan_id} | {f"p{n}": i for n, i in enumerate(chunk)}
            marks = ", ".join(self.reader.param(f"p{n}") for n in range(len(chunk)))
            self.people.update(self.reader.all(f"SELECT id, name FROM person {self.where} AND id IN ({marks})", params))

    def prefetching(self, batches: Iterable[list[tuple]]) -> Iterator[list[tuple]]:
        """The batches of occurrence rows, each once the names of the people owning its rows are known."""
        for batch in batches:
            if self.few_people:
                self.learn_people({row[2] for row in batch if row[3] == "person"})
            yield batch


def only_plan(reader: Reader, plan_id: str | None) -> tuple[str, ZoneInfo] | None:
    """The plan to read (the one named, or the store's only one) and its zone; None when that is not one plan."""
    plans = reader.all("SELECT id, timezone FROM plan", {})
    if plan_id:
        plans = [plan for plan in plans if plan[0] == plan_id]
    if len(plans) != 1:
        return None
    return plans[0][0], ZoneInfo(plans[0][1])


def owner_known(reader: Reader, plan_id: str, owner: str) -> bool:
    """Whether `owner` is the id of a unit or person of the plan, or owns items of it."""
    p, params = reader.param, {"plan": plan_id, "owner": owner}
    where = f"WHERE plan_id = {p('plan')} AND"
    row = reader.all(f"SELECT EXISTS (SELECT 1 FROM unit {where} id = {p('owner')}) "
                     f"OR EXISTS (SELECT 1 FROM person {where} id = {p('owner')}) "
                     f"OR EXISTS (SELECT 1 FROM occurrence {where} owner_id = {p('owner')})", params)
    return bool(row[0][0])


def occurrences_sql(
    reader: Reader,
    plan_id: str,
    tz: ZoneInfo,
    *,
    start: date | None = None,
    end: date | None = None,
    owner: str | None = None,
    as_of: datetime | None = None,
    state: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """The query for a plan's live occurrences (with their state at `as_of`), by deadline then id."""
    p = reader.param
    params: dict[str, Any] = {"plan": plan_id}
    columns = COLUMNS
    where = [f"plan_id = {p('plan')}", "NOT archived"]
    if as_of is not None:
        params["moment"] = reader.instant(as_of)
        # Asked for one state, every row is in it: the CASE in the WHERE decides, the row carries the name.
        columns += ", " + (f"CAST({p('state')} AS TEXT)" if state is not None else state_sql(p("moment")))
    if start is not None:
        params["start"] = reader.instant(datetime.combine(start, time(), tzinfo=tz))
        where.append(f"due >= {p('start')}")
    if end is not None:
        params["end"] = reader.instant(datetime.combine(end + timedelta(days=1), time(), tzinfo=tz))
        where.append(f"due < {p('end')}")
    if owner:
        params["owner"] = owner
        where[0:1] = _owner_sql(reader)
    if state is not None and as_of is not None:
        params["state"] = state
        where.append(narrowing_sql(state, p("moment")))
        where.append(f"{state_sql(p('moment'))} = {p('state')}")
    return f"SELECT {columns} FROM occurrence WHERE {' AND '.join(where)} ORDER BY due, id", params


def _owner_sql(reader: Reader) -> list[str]:
    """The plan's rows that an owner holds or their unit holds."""
    p = reader.param
    if reader.dialect != "sqlite":
        return [f"plan_id = {p('plan')}", f"(owner_id = {p('owner')} OR unit_id = {p('owner')})"]
    # Without statistics SQLite walks the due index for the ORDER BY and reads every row of the plan; fetched by
    # rowid from the owner and unit indexes, it reads only the owner's ("+" keeps it off the plan_id indexes).
    return [
        f"+plan_id = {p('plan')}",
        f"rowid IN (SELECT rowid FROM occurrence WHERE plan_id = {p('plan')} AND owner_id = {p('owner')}"
        f" UNION ALL SELECT rowid FROM occurrence WHERE plan_id = {p('plan')} AND unit_id = {p('owner')})",
    ]
