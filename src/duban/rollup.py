"""Roll-ups: what a person hears of items that are not their own, one line per task, told again per line.

Anyone hearing of others' items (an `in_charge` or `head` over person-owned work, the office, leaders, co-owner
units) hears them grouped, as Alertmanager groups alerts: per task (within their own unit when all of it is
there), the counts (`duban.counts`), the top level, the worst few by name and one link. A line is told when it is
new to the person, when its level rises above what they were told within the line's interval, or when the
interval (the task's `repeat_every` workdays, else GROUP_INTERVAL) has passed and something is still due; when
one line is told, every current line of that person goes along, so their lines repeat together.
A told line leaves a delivery row (`@task`, `group-LL-YYYY-MM-DD`, person, channel): the same claim as
an item's stage, so two runs at once, or one run repeated, tell it once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from duban.counts import Counts, count, in_set, total
from duban.manyof import many_of
from duban.models import DeliveryRow, OccurrenceRow

if TYPE_CHECKING:
    from duban.notices import Item

GROUP_INTERVAL = 5  # workdays between tellings of a line whose task never repeats (repeat_every: 0)
LOOKBACK = timedelta(days=60)  # how far back earlier tellings are looked for
WORST_SHOWN = 3
KEY_PREFIX = "@"


@dataclass
class Line:
    """One task's items that one person hears of without owning them."""

    task_id: str
    why: str  # "superior" (an escalation level) or "co_owner" (a reminder to a unit that shares the task)
    members: list[Item] = field(default_factory=list)
    scope: str | None = None  # the person's own unit when every member is in it, else None (every unit)
    level: int = 0  # the highest escalation level among the members (0: reminders only)
    counts: Counts = field(default_factory=Counts)

    @property
    def key(self) -> str:
        """The delivery key: @task (whatever the scope, so a line keeps its rhythm as its members change)."""
        return f"{KEY_PREFIX}{self.task_id}"

    def stage(self, day: date) -> str:
        """The delivery stage of a telling on `day`: group-03-2020-10-28 (level first, so the highest sorts last)."""
        return f"group-{self.level:02d}-{day.isoformat()}"


def level_of(stage: str) -> int:
    """The level a delivery stage of a line told."""
    return int(stage.split("-")[1])


def gather(entries: Iterable[tuple[str, str, str, Item]]) -> dict[tuple[str, str], list[Line]]:
    """(person, channel, person's unit, item) -> each person's lines per channel, one per task."""
    found: dict[tuple[str, str], dict[str, Line]] = defaultdict(dict)
    scopes: dict[tuple[str, str, str], set[str | None]] = defaultdict(set)
    for person_id, channel, unit_id, item in entries:
        line = found[(person_id, channel)].setdefault(item.task_id, Line(item.task_id, item.why))
        line.members.append(item)
        line.level = max(line.level, item.stage.level)
        if item.why == "superior":
            line.why = "superior"
        scopes[(person_id, channel, item.task_id)].add(item.unit_id if item.unit_id == unit_id else None)
    for (person_id, channel), lines in found.items():
        for line in lines.values():
            scope = scopes[(person_id, channel, line.task_id)]
            line.scope = next(iter(scope)) if len(scope) == 1 else None
    return {key: list(lines.values()) for key, lines in found.items()}


def told(connection: Connection, plan_id: str, lines: dict[tuple[str, str], list[Line]],
         as_of: datetime) -> dict[tuple[str, str, str], list[tuple[datetime, int]]]:
    """Earlier tellings of these lines within LOOKBACK: (key, person, channel) -> [(at, level)]."""
    table = DeliveryRow.__table__
    keys = sorted({line.key for person_lines in lines.values() for line in person_lines})
    people = sorted({person_id for person_id, _ in lines})
    found: dict[tuple[str, str, str], list[tuple[datetime, int]]] = defaultdict(list)
    if not keys:
        return found
    for among in many_of(connection, table.c.person_id, people):
        query = select(table.c.occurrence_id, table.c.person_id, table.c.channel, table.c.at, table.c.stage).where(
            table.c.plan_id == plan_id, table.c.occurrence_id.in_(keys), among, table.c.at >= as_of - LOOKBACK)
        for key, person_id, channel, at, stage in connection.execute(query):
            found[(key, person_id, channel)].append((at, level_of(stage)))
    return found


def due_to_tell(line: Line, earlier: Sequence[tuple[datetime, int]], *, today: date, interval: int,
                repeats: bool, workdays_between: Any, tz: Any) -> bool:
    """Whether a line must be told now: new, risen above its level within the interval, or the interval is over
    (and its task repeats, or a member's stage fell after the last telling)."""
    if not earlier:
        return True
    last = max(at for at, _ in earlier)
    since = workdays_between(last.astimezone(tz).date(), today)
    recent = [level for at, level in earlier if workdays_between(at.astimezone(tz).date(), today) < interval]
    if recent and line.level > max(recent):
        return True
    if since < interval:
        return False
    return repeats or any(member.stage.moment > last for member in line.members)


def counts_by_task(connection: Connection, plan_id: str, as_of: datetime, tasks: Sequence[str] | None = None,
                   ) -> dict[str, list[tuple[str, Counts]]]:
    """The counts roll-up lines show, per task (of `tasks`, or every task) and unit, from one query."""
    by_task: dict[str, list[tuple[str, Counts]]] = defaultdict(list)
    if tasks is not None and not tasks:
        return by_task
    for (task_id, unit_id), counts in count(connection, plan_id=plan_id, as_of=as_of, by=("task_id", "unit_id"),
                                            tasks=tasks).items():
        by_task[task_id].append((unit_id, counts))
    return by_task


def attach_counts(lines: Iterable[Line], by_task: dict[str, list[tuple[str, Counts]]]) -> None:
    """Give every line the counts of its task in its scope (summed once per task and scope: a task's line to every
    leader has the same)."""
    summed: dict[tuple[str, str | None], Counts] = {}
    for line in lines:
        key = (line.task_id, line.scope)
        if key not in summed:
            summed[key] = total(c for unit_id, c in by_task.get(line.task_id, ()) if line.scope in (None, unit_id))
        line.counts = summed[key]


def missed_by_owner(connection: Connection, plan_id: str, as_of: datetime) -> dict[tuple[str, str], int]:
    """How many occurrences each owner (kind, id) has missed (未按期) at `as_of`."""
    occ = OccurrenceRow.__table__
    query = select(occ.c.owner_kind, occ.c.owner_id, func.count()).where(
        occ.c.plan_id == plan_id, occ.c.archived.is_(False), in_set("missed", as_of),
    ).group_by(occ.c.owner_kind, occ.c.owner_id)  # the missed alone: grouping every state cost 10x the rows
    return {(kind, owner): n for kind, owner, n in connection.execute(query)}


def order(lines: Iterable[Line], positions: dict[str, int]) -> list[Line]:
    """Most pressing first: higher level, more owners overdue, the oldest overdue, then plan order."""
    def rank(line: Line) -> tuple:
        oldest = line.counts.oldest_overdue
        return (-line.level, -line.counts.overdue_owners, oldest.timestamp() if oldest else float("inf"),
                positions.get(line.task_id, 0), line.key)
    return sorted(lines, key=rank)


def worst(line: Line, shown: int = WORST_SHOWN) -> list[Item]:
    """The members overdue longest (one per owner), for naming."""
    seen: dict[str, Item] = {}
    for member in sorted(line.members, key=lambda m: (m.due, m.occurrence_id)):
        if member.stage.kind == "escalate":
            seen.setdefault(member.owner_id, member)
    return list(seen.values())[:shown]
