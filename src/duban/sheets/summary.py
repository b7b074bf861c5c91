"""The status sheet's summary: headline figures, units, the twenty worst items and the change since the previous sheet.

Counts are `duban.counts.Counts` (the same rule as the roll-ups, the bulletin and the overview): the current ones
tallied over the snapshot's items, the previous ones counted by the store at the previous sheet's moment, so the
change never depends on an old file.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import Engine

from duban.counts import Counts, count
from duban.sheets.data import Item, PlanInfo, Snapshot, UnitInfo

SHEET_RUN_AT = time(7, 30)  # the daily `sheets` flow's time (prefect.yaml): the previous sheet was made then
WORST = 20  # items listed by name in the summary
WORST_HELD = 2000  # overdue items held at most while the worst are picked (cut down to WORST each time)
UNIT_ROWS = 24  # units listed by name; the rest share one row so the summary stays on two A4 pages
OPEN = ("overdue", "missed")


@dataclass(frozen=True, slots=True)
class Figure:
    """One headline figure with its change since the previous sheet."""

    key: str
    label: str
    value: int
    before: int
    light: str = ""

    @property
    def change(self) -> str:
        """+3, −2, or '' when unchanged."""
        diff = self.value - self.before
        return "" if diff == 0 else f"+{diff}" if diff > 0 else f"−{-diff}"


@dataclass(slots=True)
class UnitLine:
    """One row of the summary's unit table: a unit, the rest of the units together, or the total."""

    label: str
    kind: str
    counts: Counts
    before: Counts
    worst_days: int = 0
    unit: UnitInfo | None = None
    members: int = 1  # units counted in the row

    @property
    def open_change(self) -> int:
        """Change in overdue and missed items since the previous sheet."""
        return self.counts.open - self.before.open

    @property
    def open_change_text(self) -> str:
        """+3, −2 or ''."""
        diff = self.open_change
        return "" if diff == 0 else f"+{diff}" if diff > 0 else f"−{-diff}"

    @property
    def newly_reported(self) -> int:
        """Reports (on time or late) added since the previous sheet."""
        return self.counts.reported - self.before.reported


@dataclass(slots=True)
class Summary:
    """What the first one or two pages of the status sheet say."""

    plan: PlanInfo
    as_of: datetime
    since: datetime
    counts: Counts
    before: Counts
    units: list[UnitLine]
    rest: UnitLine | None
    total: UnitLine
    worst: list[Item]
    open_total: int  # overdue and missed items in all (the worst list names the first WORST)

    @property
    def shown(self) -> list[UnitLine]:
        """The units listed by name (the first UNIT_ROWS, worst first); `rest` counts the others."""
        return self.units

    @property
    def figures(self) -> list[Figure]:
        """The headline: due, on time, late, waiting for 销号, 销号, overdue, missed, due soon."""
        now, then = self.counts, self.before
        return [
            Figure("due", "到期事项", now.due, then.due),
            Figure("done", "按时办结", now.done, then.done, "green"),
            Figure("done_late", "逾期办结", now.done_late, then.done_late, "blue"),
            Figure("waiting", "已报告未销号", now.waiting, then.waiting),
            Figure("verified", "已销号", now.verified, then.verified),
            Figure("overdue", "逾期未办", now.overdue, then.overdue, "red"),
            Figure("missed", "未按期", now.missed, then.missed, "purple"),
            Figure("due_soon", "临近截止", now.due_soon, then.due_soon, "yellow"),
        ]

    @property
    def rate_change(self) -> str:
        """The on-time rate's change in points, or ''."""
        if self.counts.rate_percent is None or self.before.rate_percent is None:
            return ""
        diff = self.counts.rate_percent - self.before.rate_percent
        return "" if diff == 0 else f"+{diff}" if diff > 0 else f"−{-diff}"


def worst_key(item: Item) -> tuple:
    """Highest escalation level first, then longest overdue, then the earliest deadline."""
    return (-item.level, -item.days, item.due, item.task.position, item.id)


class SummaryGathering:
    """What the summary says, counted one item at a time, so a whole plan's items need not be held: each unit's
    counts and oldest overdue, the overdue and missed items in all and the WORST of them (a bounded list)."""

    def __init__(self, units: dict[str, UnitInfo]) -> None:
        self.units = units
        self.counted: dict[tuple[str, str, bool], int] = {}  # (unit, status, 已销号) -> items
        self.worst_days: dict[str, int] = dict.fromkeys(units, 0)
        self.open_total = 0
        self.worst: list[Item] = []  # the WORST first once cut down; cut down when it reaches WORST_HELD

    def add(self, item: Item) -> None:
        """Count one item."""
        key = (item.unit.id, item.status, item.verification == "已销号")
        self.counted[key] = self.counted.get(key, 0) + 1
        if item.status in OPEN:
            self.open_total += 1
            self.worst.append(item)
            if len(self.worst) >= WORST_HELD:
                self.worst = heapq.nsmallest(WORST, self.worst, key=worst_key)
            if item.days > self.worst_days[item.unit.id]:
                self.worst_days[item.unit.id] = item.days

    def summary(self, plan: PlanInfo, as_of: datetime, since: datetime, before: dict[str, Counts]) -> Summary:
        """The summary of the items counted; `before` holds each unit's counts at `since` (`counts_then`)."""
        per_unit: dict[str, Counts] = {unit_id: Counts() for unit_id in self.units}  # as `counts.tally`
        for (unit_id, status, verified), n in self.counted.items():
            per_unit[unit_id].add_status(status, verified, n)
        seen = {unit_id for unit_id, _, _ in self.counted}
        lines = [UnitLine(unit.label, unit.kind_label, per_unit[unit.id], before.get(unit.id) or Counts(),
                          self.worst_days[unit.id], unit)
                 for unit in self.units.values() if unit.id in seen or unit.id in before]
        order = {unit_id: index for index, unit_id in enumerate(self.units)}
        lines.sort(key=lambda line: (-line.counts.open, -line.worst_days, -line.counts.waiting,
                                     order[line.unit.id] if line.unit else 0))
        shown, rest = lines[:UNIT_ROWS], lines[UNIT_ROWS:]
        rest_line = _together(f"其余{len(rest)}个单位", rest) if rest else None
        total = _together("合计", lines)
        worst = sorted(self.worst, key=worst_key)[:WORST]
        return Summary(plan, as_of, since, total.counts, total.before, shown, rest_line, total, worst,
                       self.open_total)


def build_summary(snapshot: Snapshot, since: datetime, before: dict[str, Counts]) -> Summary:
    """The summary of a snapshot; `before` holds each unit's counts at `since` (from `duban.counts.count`)."""
    gathering = SummaryGathering(snapshot.units)
    for item in snapshot.items:
        gathering.add(item)
    return gathering.summary(snapshot.plan, snapshot.as_of, since, before)


def _together(label: str, lines: list[UnitLine]) -> UnitLine:
    now, then = Counts(), Counts()
    for line in lines:
        now.add(line.counts)
        then.add(line.before)
    return UnitLine(label, "", now, then, max((line.worst_days for line in lines), default=0), None, len(lines))


def previous_sheet_moment(plan: PlanInfo, as_of: datetime) -> datetime:
    """When the previous sheet was made: the morning run of the workday before `as_of`'s day (plan-local)."""
    day = plan.calendar.workday_before(as_of.astimezone(plan.tz).date(), 1)
    return datetime.combine(day, SHEET_RUN_AT, plan.tz)


def counts_then(engine: Engine, plan_id: str, moment: datetime) -> dict[str, Counts]:
    """Each unit's counts at an earlier moment, judged by the store: one GROUP BY through sqlite3 or psycopg with
    the read path's rule, or `duban.counts.count` where they do not open the store."""
    from duban.readpath.connect import open_reader
    from duban.readpath.rule import state_sql

    reader = open_reader(engine.url.render_as_string(hide_password=False))
    if reader is None:
        with engine.connect() as connection:
            return {key[0]: counts for key, counts in count(connection, plan_id=plan_id, as_of=moment).items()}
    p, m = reader.param, reader.param("moment")
    sql = (f"SELECT unit_id, {state_sql(m)} AS status, CASE WHEN verified_at IS NOT NULL AND verified_at <= {m}"
           f" THEN 1 ELSE 0 END AS verified, COUNT(*) FROM occurrence WHERE plan_id = {p('plan')} AND NOT archived"
           " GROUP BY unit_id, status, verified")
    try:
        rows = reader.all(sql, {"plan": plan_id, "moment": reader.instant(moment)})
    finally:
        reader.close()
    result: dict[str, Counts] = {}
    for unit_id, status, verified, n in rows:
        result.setdefault(unit_id, Counts()).add_status(status, bool(verified), n)
    return result
