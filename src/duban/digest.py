"""The weekly overdue digest: one email per leader, overdue items by unit, oldest first, through the outbox.

Like every roll-up, it fits a phone screen or two whatever the plan's size: the UNITS_SHOWN units with the oldest
overdue work are listed, each with its LINES_SHOWN worst lines (one per task), and counts and a link carry the rest.
Items past their period (missed, 未按期) are counted with their unit's, not itemised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from duban import shortlinks
from duban.catalog import Catalog
from duban.directory import person_from_row
from duban.models import PersonRow
from duban.policy import Directory
from duban.sheets.data import Item, PlanInfo, Snapshot, UnitInfo, load_snapshot
from duban.sheets.sheet import ItemGroup, group_items

WEEK = timedelta(days=7)
UNITS_SHOWN = 5
LINES_SHOWN = 2
UNIT_HEAD_ROLES = ("head", "leader")  # who reads the digest for `unit:<id>` in the catalog's digest.to


@dataclass(slots=True)
class DigestUnit:
    """One unit's overdue items, oldest first, and how many of its items are missed (past their period)."""

    unit: UnitInfo
    items: list[Item]
    new: int
    missed: int = 0

    @property
    def oldest(self) -> int:
        """Days the oldest item is overdue (0 when only missed ones are left)."""
        return self.items[0].days if self.items else 0

    @property
    def lines(self) -> list[ItemGroup]:
        """The items as lines: one per task (weekly work or work owned by many officials in one line), oldest first."""
        return group_items(self.items)

    @property
    def shown_lines(self) -> list[ItemGroup]:
        """The lines the email lists."""
        return self.lines[:LINES_SHOWN]


@dataclass(slots=True)
class Digest:
    """What one week's digest says, the same for every reader."""

    plan: PlanInfo
    as_of: datetime  # plan-local
    since: datetime  # plan-local: the week covered is (since, as_of]
    units: list[DigestUnit]
    closed: list[Item] = field(default_factory=list)

    @property
    def week(self) -> str:
        """The ISO week of `as_of`, e.g. 2020-W44: one digest per reader per week."""
        year, week, _ = self.as_of.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def overdue(self) -> int:
        """Overdue items in all."""
        return sum(len(u.items) for u in self.units)

    @property
    def missed(self) -> int:
        """Items past their period, still not done (未按期)."""
        return sum(u.missed for u in self.units)

    @property
    def shown_units(self) -> list[DigestUnit]:
        """The units the email lists: those with the oldest overdue work."""
        return self.units[:UNITS_SHOWN]

    @property
    def new(self) -> int:
        """Items that became overdue this week (新增)."""
        return sum(u.new for u in self.units)

    @property
    def closed_late(self) -> int:
        """Items closed this week after their deadline."""
        return sum(1 for i in self.closed if i.status == "done_late")

    @property
    def closed_by_unit(self) -> list[tuple[UnitInfo, int]]:
        """How many items each unit closed this week, most first."""
        counts: dict[str, int] = {}
        units = {}
        for item in self.closed:
            counts[item.unit.id] = counts.get(item.unit.id, 0) + 1
            units[item.unit.id] = item.unit
        return [(units[u], n) for u, n in sorted(counts.items(), key=lambda kv: -kv[1])]

    def is_new(self, item: Item) -> bool:
        """Whether an overdue item's deadline passed this week."""
        return item.due > self.since

    def new_in(self, line: ItemGroup) -> int:
        """How many of a line's items became overdue this week."""
        return sum(1 for item in line.items if self.is_new(item))


@dataclass(frozen=True, slots=True)
class Reader:
    """A leader who gets the digest."""

    id: str
    name: str
    unit_id: str
    email: str


@dataclass(slots=True)
class DigestRun:
    """What a digest run did: notifications built, how many were new in the outbox, who could not get one."""

    digest: Digest
    notifications: list[dict[str, Any]]
    queued: int = 0
    dry_run: bool = False
    unreachable: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people."""
        verb = "would queue" if self.dry_run else f"queued {self.queued} new of"
        line = (f"digest {self.digest.plan.id} {self.digest.week}: {verb} {len(self.notifications)} email(s); "
                f"{self.digest.overdue} overdue ({self.digest.new} new), {self.digest.missed} missed, "
                f"{len(self.digest.closed)} closed this week")
        if self.unreachable:
            line += f"; no email for {', '.join(self.unreachable)}"
        return line


def build_digest(snapshot: Snapshot) -> Digest:
    """The week's digest: overdue items by unit (units with the oldest first), items closed in the last 7 days."""
    since = snapshot.as_of - WEEK
    overdue: dict[str, list[Item]] = {}
    missed: dict[str, int] = {}
    closed = []
    for item in snapshot.items:
        if item.status == "overdue":
            overdue.setdefault(item.unit.id, []).append(item)
        elif item.status == "missed":
            missed[item.unit.id] = missed.get(item.unit.id, 0) + 1
            overdue.setdefault(item.unit.id, [])
        elif item.status in ("done", "done_late") and item.reported_at and item.reported_at > since:
            closed.append(item)
    units = []
    for unit_id, items in overdue.items():
        items.sort(key=lambda i: (i.due, i.task.position, i.id))
        units.append(DigestUnit(snapshot.units[unit_id], items, sum(1 for i in items if i.due > since),
                                missed.get(unit_id, 0)))
    order = {unit_id: index for index, unit_id in enumerate(snapshot.units)}
    units.sort(key=lambda u: (-u.oldest, -len(u.items), -u.missed, order[u.unit.id]))
    closed.sort(key=lambda i: (i.reported_at, i.id))
    return Digest(snapshot.plan, snapshot.as_of, since, units, closed)


def readers(connection: Connection, plan_id: str, catalog: Catalog) -> list[Reader]:
    """Everyone holding the role `leader`, plus the catalog's `digest.to`: `unit:<id>` (its head and leaders),
    `role:<role>` or a bare role (everyone holding it); each person once, in directory order."""
    table = PersonRow.__table__
    rows = connection.execute(select(table.c.id, table.c.name, table.c.unit_id, table.c.roles, table.c.email)
                              .where(table.c.plan_id == plan_id, table.c.archived.is_(False))
                              .order_by(table.c.id)).all()
    directory = Directory.of(person_from_row(r) for r in rows)
    chosen = list(directory.by_role.get("leader", []))
    for target in catalog.digest_to:
        if target.startswith("unit:"):
            chosen += directory.in_unit(target[5:], UNIT_HEAD_ROLES)
        else:
            chosen += directory.by_role.get(target.removeprefix("role:"), [])
    people = directory.people
    return [Reader(p, people[p].name, people[p].unit, people[p].email) for p in dict.fromkeys(chosen)]


def render_notifications(
    digest: Digest, people: Sequence[Reader], env: Any, now: datetime, link: Callable[[Reader], str] | None = None,
    problems: Any = None,
) -> list[dict[str, Any]]:
    """One email notification per reader with an address, keyed digest/<plan>/<person>/<ISO week>; `problems`:
    the 问题整改 counts (duban.casework.counts), shown when the plan has problems."""
    plan = digest.plan
    result = []
    for reader in people:
        if not reader.email:
            continue
        values = {"d": digest, "reader": reader, "link": link(reader) if link else "", "problems": problems}
        subject = " ".join(env.get_template("email/digest.subject.txt").render(values).split())
        result.append({
            "plan_id": plan.id, "key": f"digest/{plan.id}/{reader.id}/{digest.week}", "person_id": reader.id,
            "channel": "email", "address": reader.email, "subject": subject,
            "body_text": env.get_template("email/digest.txt").render(values),
            "body_html": env.get_template("email/digest.html").render(values),
            "data": {"kind": "digest", "name": reader.name, "week": digest.week, "overdue": digest.overdue,
                     "missed": digest.missed,
                     "from_name": f"{plan.office_name}督办" if plan.office_name else "督办"},
            "as_of": digest.as_of, "created_at": now, "not_before": digest.as_of,
        })
    return result


def queue_digest(
    *, engine: Engine, plan_id: str, as_of: datetime, now: datetime, templates_dir: str | Path | None = None,
    dry_run: bool = False, link: Callable[[Reader], str] | None = None, base_url: str = "",
) -> DigestRun:
    """Build the week's digest at `as_of` and put one email per reader in the outbox (once per reader and week).
    With `base_url` (and no `link`), each reader's link is a short link of their own, stored with the email."""
    from duban.casework.counts import counts_at
    from duban.outbox import enqueue_ids
    from duban.sheets.render import templates

    snapshot = load_snapshot(engine, plan_id, as_of)
    digest = build_digest(snapshot)
    with engine.connect() as connection:
        people = readers(connection, plan_id, snapshot.plan.catalog)
    problems = counts_at(engine, plan_id, digest.as_of)  # 问题整改 (issue 15)
    codes: dict[str, str] = {}
    if base_url and link is None:  # a short link, not a login token, in an email that may be forwarded
        codes = {reader.id: shortlinks.new_code() for reader in people if reader.email}
        link = lambda reader: shortlinks.url(base_url, codes[reader.id])  # noqa: E731
    notifications = render_notifications(digest, people, templates(templates_dir), now, link, problems)
    run = DigestRun(digest, notifications, dry_run=dry_run, unreachable=[r.name for r in people if not r.email])
    if not dry_run and notifications:
        with engine.begin() as connection:
            queued = enqueue_ids(connection=connection, notifications=notifications)
            fresh = [(codes[n["person_id"]], n["person_id"]) for n in notifications
                     if n["key"] in queued and n["person_id"] in codes]  # a rerun's emails were not queued again
            shortlinks.bind(connection, shortlinks.rows_for(plan_id=plan_id, person_ids=fresh, now=as_of))
            run.queued = len(queued)
    return run
