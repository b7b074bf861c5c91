"""The status sheet: occurrences due so far or soon, by plan section and by unit, with tallies and pictures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from duban.sheets.charts import SMALL, CalendarStrip, ProgressChart, calendar_strip, progress_of_days
from duban.sheets.data import LIGHTS, URGENCY, Item, PlanInfo, Snapshot, UnitInfo
from duban.status import STATE_LABELS

DEFAULT_HORIZON = 7  # days ahead an upcoming deadline is shown


@dataclass(frozen=True, slots=True)
class Light:
    """One traffic light with its count, for legends and summaries."""

    status: str
    light: str
    label: str
    count: int


@dataclass(slots=True)
class Tally:
    """How many items stand in each state."""

    counts: dict[str, int] = field(default_factory=dict)
    verified: int = 0  # of the reported (done, done late), accepted by the office: 已销号

    @classmethod
    def of(cls, items: Iterable[Item]) -> Tally:
        """Count items per state, and the reported ones verified."""
        counts = dict.fromkeys(URGENCY, 0)
        verified = 0
        for item in items:
            counts[item.status] += 1
            verified += item.verification == "已销号"
        return cls(counts, verified)

    @property
    def waiting(self) -> int:
        """Reported, not yet verified: 已报告未销号."""
        return self.counts["done"] + self.counts["done_late"] - self.verified

    @property
    def total(self) -> int:
        """All items counted."""
        return sum(self.counts.values())

    @property
    def due(self) -> int:
        """Items past their deadline or done: the ones a rate is judged on."""
        return self.counts["done"] + self.counts["done_late"] + self.counts["overdue"] + self.counts["missed"]

    @property
    def on_time_rate(self) -> int | None:
        """按时办结率: done on time among items due, in whole percent (None when nothing is due)."""
        return None if not self.due else round(100 * self.counts["done"] / self.due)

    @property
    def lights(self) -> list[Light]:
        """Every state with its light and count, most pressing first."""
        return [Light(s, LIGHTS[s], STATE_LABELS[s], self.counts[s]) for s in URGENCY]


@dataclass(slots=True)
class SectionBlock:
    """The items of one plan section (二（三）), most pressing first."""

    name: str
    items: list[Item]
    tally: Tally
    chart: ProgressChart


@dataclass(slots=True)
class UnitBlock:
    """One unit's standing: tally, oldest overdue, highest escalation, progress picture."""

    unit: UnitInfo
    tally: Tally
    chart: ProgressChart
    worst_days: int
    top_level: str


@dataclass(slots=True)
class StatusSheet:
    """Everything a status sheet shows, ready for the templates."""

    plan: PlanInfo
    as_of: datetime
    horizon_days: int
    tally: Tally
    chart: ProgressChart
    strip: CalendarStrip
    sections: list[SectionBlock]
    units: list[UnitBlock]

    @property
    def title(self) -> str:
        """The sheet's heading."""
        return "督办事项进展情况表"

    @property
    def lights(self) -> list[Light]:
        """The legend with overall counts."""
        return self.tally.lights

    def pressing(self, status: str) -> list[ItemGroup]:
        """Items in one state (overdue, due_soon), one group per task across units, most pressing first."""
        items = [i for section in self.sections for i in section.items if i.status == status]
        return group_items(sorted(items, key=urgency_key), by_unit=False)


def urgency_key(item: Item) -> tuple:
    """Most pressing first: longest overdue, then nearest deadline, then latest done."""
    rank = URGENCY.index(item.status)
    if item.status in ("overdue", "missed"):
        return (rank, -item.days, item.due, item.task.position, item.id)
    if item.status in ("due_soon", "upcoming"):
        return (rank, item.days, item.due, item.task.position, item.id)
    return (rank, -item.due_ts, item.task.position, item.id)


@dataclass(slots=True)
class ItemGroup:
    """Items of one task, one unit and one state, in the order given (most pressing first): one line in a digest
    or a chat message instead of one per week or per official."""

    items: list[Item]

    @property
    def first(self) -> Item:
        """The most pressing item (the oldest, when overdue)."""
        return self.items[0]

    @property
    def count(self) -> int:
        """How many items."""
        return len(self.items)

    @property
    def spread(self) -> bool:
        """Whether the items differ in days (so the first one's count is the longest, 最长)."""
        return len({i.days for i in self.items}) > 1

    @property
    def owners(self) -> list[str]:
        """Officials named as owners (role-owned items), each once."""
        return list(dict.fromkeys(i.owner_name for i in self.items if i.owner_name != i.unit.label))

    @property
    def owners_text(self) -> str:
        """牟超、刘桂涛等12人, or ''."""
        owners = self.owners
        if len(owners) <= 3:
            return "、".join(owners)
        return f"{'、'.join(owners[:2])}等{len(owners)}人"

    @property
    def units_text(self) -> str:
        """县民政局, or 县民政局、县商务委等15个单位 for a group across units."""
        units = list(dict.fromkeys(i.unit.label for i in self.items))
        if len(units) <= 3:
            return "、".join(units)
        return f"{'、'.join(units[:2])}等{len(units)}个单位"

    @property
    def due_span(self) -> str:
        """9月30日, or 9月13日—10月25日 for several deadlines."""
        days = sorted(i.due_day for i in self.items)
        first, last = days[0], days[-1]
        text = f"{first.month}月{first.day}日"
        return text if first == last else f"{text}—{last.month}月{last.day}日"


def group_items(items: Sequence[Item], by_unit: bool = True) -> list[ItemGroup]:
    """Items grouped by task, unit (unless `by_unit` is false) and state, groups in the order of their first item."""
    groups: dict[tuple[str, str, str], ItemGroup] = {}
    for item in items:
        key = (item.task.id, item.unit.id if by_unit else "", item.status)
        if key in groups:
            groups[key].items.append(item)
        else:
            groups[key] = ItemGroup([item])
    return list(groups.values())


def shown(items: Sequence[Item], as_of: datetime, horizon_days: int) -> list[Item]:
    """Items due so far, due soon, or due within the horizon."""
    last_day = as_of.date() + timedelta(days=horizon_days)
    return [i for i in items if i.due_day <= last_day or i.status == "due_soon"]


def build_sheet(snapshot: Snapshot, horizon_days: int = DEFAULT_HORIZON) -> StatusSheet:
    """The status sheet of a snapshot."""
    plan, today = snapshot.plan, snapshot.as_of.date()
    last_day = snapshot.as_of.date() + timedelta(days=horizon_days)
    by_section: dict[str, list[Item]] = {}
    by_unit: dict[str, list[Item]] = {}
    section_days: dict[str, tuple[Counter, Counter]] = {}
    unit_days: dict[str, tuple[Counter, Counter]] = {}
    for task in sorted(snapshot.tasks.values(), key=lambda t: t.position):
        by_section.setdefault(task.section, [])
        section_days.setdefault(task.section, (Counter(), Counter()))
    everything: tuple[Counter, Counter] = (Counter(), Counter())
    for item in snapshot.items:  # one pass: the pictures count every item (as `count_days`), the lists those shown
        status, day = item.status, item.due_day
        if status != "waived":
            done_day = max(item.reported_at.date(), plan.start) if item.reported_at is not None else None
            for due_on, done_on in (everything, section_days[item.task.section],
                                    unit_days.get(item.unit.id) or unit_days.setdefault(item.unit.id,
                                                                                        (Counter(), Counter()))):
                due_on[day] += 1
                if done_day is not None:
                    done_on[done_day] += 1
        if day <= last_day or status == "due_soon":
            by_section[item.task.section].append(item)
            by_unit.setdefault(item.unit.id, []).append(item)
    items = [i for rows in by_section.values() for i in rows]
    sections = [
        SectionBlock(name, sorted(rows, key=urgency_key), Tally.of(rows),
                     progress_of_days(*section_days[name], plan.start, plan.end, today, SMALL))
        for name, rows in by_section.items() if rows
    ]
    units = [_unit_block(snapshot.units[unit_id], rows, unit_days[unit_id], plan, today)
             for unit_id, rows in by_unit.items()]
    order = {unit_id: index for index, unit_id in enumerate(snapshot.units)}
    units.sort(key=lambda b: (-b.tally.counts["overdue"] - b.tally.counts["missed"], -b.worst_days,
                              -b.tally.counts["due_soon"], order[b.unit.id]))
    return StatusSheet(plan, snapshot.as_of, horizon_days, Tally.of(items),
                       progress_of_days(*everything, plan.start, plan.end, today),
                       calendar_strip(snapshot.items, plan.start, plan.end, today, plan.calendar), sections, units)


def _unit_block(unit: UnitInfo, rows: list[Item], days: tuple[Counter, Counter], plan: PlanInfo,
                today: date) -> UnitBlock:
    overdue = [i for i in rows if i.status in ("overdue", "missed")]
    worst = max((i.days for i in overdue), default=0)
    top = max(overdue, key=lambda i: i.level, default=None)
    return UnitBlock(unit, Tally.of(rows), progress_of_days(*days, plan.start, plan.end, today, SMALL),
                     worst, top.level_text if top else "")
