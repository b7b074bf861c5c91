"""The status sheet: occurrences due so far or soon, by plan section and by unit, with tallies and pictures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from duban.sheets.charts import (
    SMALL,
    CalendarStrip,
    ProgressChart,
    count_deadline,
    progress_of_days,
    strip_of_days,
)
from duban.sheets.data import LIGHTS, URGENCY, Item, PlanInfo, Snapshot, TaskInfo, UnitInfo
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
        tally = cls(dict.fromkeys(URGENCY, 0))
        for item in items:
            tally.add(item)
        return tally

    def add(self, item: Item) -> None:
        """Count one more item."""
        self.counts[item.status] += 1
        self.verified += item.verification == "已销号"

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
    """The items of one plan section (二（三）), most pressing first: a list (`build_sheet`), or their rows written
    ahead (`duban.sheets.rows.SpooledRows`, as `write_status_sheet` renders the detail page)."""

    name: str
    items: Iterable[Item]
    tally: Tally
    chart: ProgressChart
    problems_only: bool = False  # every item shown is a problem to rectify (问题整改)


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
    has_problems: bool = False  # the plan has problems to rectify (shown or not)
    # the groups of `pressing`, read from the store in order (`duban.sheets.ordered`) instead of from the sections
    pressing_groups: Callable[[str], list[ItemGroup | GroupTally]] | None = None

    @property
    def title(self) -> str:
        """The sheet's heading."""
        return "督办事项进展情况表"

    @property
    def lights(self) -> list[Light]:
        """The legend with overall counts."""
        return self.tally.lights

    def pressing(self, status: str) -> list[ItemGroup | GroupTally]:
        """Items in one state (overdue, due_soon), one group per task across units, most pressing first."""
        if self.pressing_groups is not None:
            return self.pressing_groups(status)
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
        return _listed(self.owners, "人")

    @property
    def units_text(self) -> str:
        """县民政局, or 县民政局、县商务委等15个单位 for a group across units."""
        return _listed(list(dict.fromkeys(i.unit.label for i in self.items)), "个单位")

    @property
    def due_span(self) -> str:
        """9月30日, or 9月13日—10月25日 for several deadlines."""
        return _day_span(min(i.due_day for i in self.items), max(i.due_day for i in self.items))


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


class GroupTally:
    """An `ItemGroup` counted as its items come (most pressing first) instead of held: its first item, how many,
    and, when `detailed`, what the group's line says of them (units, owners, deadlines, whether days differ);
    asking a group that is not detailed for those is an error, never a wrong line."""

    def __init__(self, first: Item, detailed: bool) -> None:
        self.first, self.count, self.detailed = first, 0, detailed
        self.days, self._spread = first.days, False
        self.first_day = self.last_day = first.due_day
        self._units: dict[str, None] = {}
        self._owners: dict[str, None] = {}
        self.add(first)

    def add(self, item: Item) -> None:
        """Count one more item of the group (after the ones before it in order)."""
        self.count += 1
        if not self.detailed:
            return
        self._spread = self._spread or item.days != self.days
        self.first_day, self.last_day = min(self.first_day, item.due_day), max(self.last_day, item.due_day)
        self._units.setdefault(item.unit.label)
        if item.owner_name != item.unit.label:
            self._owners.setdefault(item.owner_name)

    def _detail(self) -> None:
        if not self.detailed:
            raise LookupError(f"the group of {self.first.task.id} was only counted: the chat lines keep detail for "
                              "their first duban.sheets.CHAT_LINES groups (a template listing more needs it raised)")

    @property
    def spread(self) -> bool:
        """Whether the items differ in days (so the first one's count is the longest, 最长)."""
        self._detail()
        return self._spread

    @property
    def owners(self) -> list[str]:
        """Officials named as owners (role-owned items), each once."""
        self._detail()
        return list(self._owners)

    @property
    def owners_text(self) -> str:
        """牟超、刘桂涛等12人, or ''."""
        return _listed(self.owners, "人")

    @property
    def units_text(self) -> str:
        """县民政局, or 县民政局、县商务委等15个单位 for a group across units."""
        self._detail()
        return _listed(list(self._units), "个单位")

    @property
    def due_span(self) -> str:
        """9月30日, or 9月13日—10月25日 for several deadlines."""
        self._detail()
        return _day_span(self.first_day, self.last_day)


def _listed(names: list[str], measure: str) -> str:
    """A、B、C, or A、B等12<measure> for more than three."""
    if len(names) <= 3:
        return "、".join(names)
    return f"{'、'.join(names[:2])}等{len(names)}{measure}"


def _day_span(first: date, last: date) -> str:
    """9月30日, or 9月13日—10月25日."""
    text = f"{first.month}月{first.day}日"
    return text if first == last else f"{text}—{last.month}月{last.day}日"


def tally_groups(items: Iterable[Item], detailed: int) -> list[GroupTally]:
    """Items of one state in order, most pressing first, grouped by task across units as `group_items(...,
    by_unit=False)`; only the first `detailed` groups keep what their line says (the others are counted)."""
    groups: dict[str, GroupTally] = {}
    for item in items:
        group = groups.get(item.task.id)
        if group is None:
            groups[item.task.id] = GroupTally(item, len(groups) < detailed)
        else:
            group.add(item)
    return list(groups.values())


def section_order(tasks: dict[str, TaskInfo]) -> list[str]:
    """The plan's sections in the order of their first task."""
    return list(dict.fromkeys(t.section for t in sorted(tasks.values(), key=lambda t: t.position)))


def shown(items: Sequence[Item], as_of: datetime, horizon_days: int) -> list[Item]:
    """Items due so far, due soon, or due within the horizon."""
    last_day = as_of.date() + timedelta(days=horizon_days)
    return [i for i in items if i.due_day <= last_day or i.status == "due_soon"]


class SheetGathering:
    """What the status sheet shows, counted one item at a time, in any order, so a whole plan's items need not be
    held: tallies, pictures and each unit's standing. With `keep`, also each
    section's items (for `build_sheet`). Items are counted by a few keys as they come (one dict step each) and
    the tallies and pictures made from those counts at the end."""

    def __init__(self, plan: PlanInfo, units: dict[str, UnitInfo], tasks: dict[str, TaskInfo], as_of: datetime,
                 horizon_days: int = DEFAULT_HORIZON, keep: bool = False) -> None:
        self.plan, self.units, self.as_of, self.horizon_days = plan, units, as_of, horizon_days
        self.today = as_of.date()
        self.last_day = self.today + timedelta(days=horizon_days)
        self.kept: dict[str, list[Item]] | None = {} if keep else None
        self.section_order = section_order(tasks)
        # (section, unit, status, 已销号, a problem) -> items shown
        self.shown: dict[tuple[str, str, str, bool, bool], int] = {}
        self.due_on: dict[tuple[str, str, date], int] = {}  # (section, unit, deadline day) -> items, waived aside
        self.done_on: dict[tuple[str, str, date], int] = {}  # (section, unit, day reported) -> items
        self.strip_counts: Counter[date] = Counter()
        self.strip_worst: dict[date, int] = {}
        self.unit_worst: dict[str, int] = {}
        # (level, deadline, id, its words) of the most escalated item, the earliest deadline (then id) of equals
        self.unit_top: dict[str, tuple[int, float, str, str]] = {}
        self.has_problems = False
        self._made: tuple | None = None

    def add(self, item: Item) -> bool:
        """Count one item: the pictures count every item (as `count_days`), the lists and tallies those shown.
        Whether the item is shown. Any order of items gives the same counts."""
        status, day, task, unit_id = item.status, item.due_day, item.task, item.unit.id
        section, problem = task.section, task.origin == "problem"
        count_deadline(item, self.strip_counts, self.strip_worst)
        if problem:
            self.has_problems = True
        if status != "waived":
            key = (section, unit_id, day)
            self.due_on[key] = self.due_on.get(key, 0) + 1
            if item.reported_at is not None:
                key = (section, unit_id, max(item.reported_at.date(), self.plan.start))
                self.done_on[key] = self.done_on.get(key, 0) + 1
        if day <= self.last_day or status == "due_soon":
            key = (section, unit_id, status, item.verification == "已销号", problem)
            self.shown[key] = self.shown.get(key, 0) + 1
            if status == "overdue" or status == "missed":
                if item.days > self.unit_worst.get(unit_id, 0):
                    self.unit_worst[unit_id] = item.days
                top = self.unit_top.get(unit_id)
                if top is None or item.level > top[0] or (item.level == top[0] and (item.due_ts, item.id) < top[1:3]):
                    self.unit_top[unit_id] = (item.level, item.due_ts, item.id, item.level_text)
            if self.kept is not None:
                self.kept.setdefault(section, []).append(item)
            return True
        return False

    def _make(self) -> tuple:
        """Tallies and pictures from the counts, once: (sections as (name, tally, chart, problems only), units,
        the tally, the overall picture, the strip)."""
        if self._made is not None:
            return self._made
        plan, today = self.plan, self.today
        tally = Tally.of(())
        sections: dict[str, Tally] = {}
        others: dict[str, int] = {}
        units: dict[str, Tally] = {}
        for (section, unit_id, status, verified, problem), n in self.shown.items():
            for group in (tally, sections.get(section) or sections.setdefault(section, Tally.of(())),
                          units.get(unit_id) or units.setdefault(unit_id, Tally.of(()))):
                group.counts[status] += n
                if verified:
                    group.verified += n
            others[section] = others.get(section, 0) + (0 if problem else n)
        everything: tuple[Counter, Counter] = (Counter(), Counter())
        by_section: dict[str, tuple[Counter, Counter]] = {}
        by_unit: dict[str, tuple[Counter, Counter]] = {}
        for side, counts in ((0, self.due_on), (1, self.done_on)):
            whole: dict[date, int] = {}
            sections_: dict[str, dict[date, int]] = {}
            units_: dict[str, dict[date, int]] = {}
            for (section, unit_id, day), n in counts.items():
                whole[day] = whole.get(day, 0) + n
                days = sections_.get(section) or sections_.setdefault(section, {})
                days[day] = days.get(day, 0) + n
                days = units_.get(unit_id) or units_.setdefault(unit_id, {})
                days[day] = days.get(day, 0) + n
            everything[side].update(whole)
            for name, days in sections_.items():
                (by_section.get(name) or by_section.setdefault(name, (Counter(), Counter())))[side].update(days)
            for unit_id, days in units_.items():
                (by_unit.get(unit_id) or by_unit.setdefault(unit_id, (Counter(), Counter())))[side].update(days)
        empty: tuple[Counter, Counter] = (Counter(), Counter())
        section_blocks = [(name, sections[name],
                           progress_of_days(*by_section.get(name, empty), plan.start, plan.end, today, SMALL),
                           not others.get(name))
                          for name in self.section_order if name in sections]
        unit_blocks = [UnitBlock(self.units[unit_id], unit_tally,
                                 progress_of_days(*by_unit.get(unit_id, empty), plan.start, plan.end, today, SMALL),
                                 self.unit_worst.get(unit_id, 0), self.unit_top.get(unit_id, (0, 0.0, "", ""))[3])
                       for unit_id, unit_tally in units.items()]
        order = {unit_id: index for index, unit_id in enumerate(self.units)}
        unit_blocks.sort(key=lambda b: (-b.tally.counts["overdue"] - b.tally.counts["missed"], -b.worst_days,
                                        -b.tally.counts["due_soon"], order[b.unit.id]))
        self._made = (section_blocks, unit_blocks, tally, progress_of_days(*everything, plan.start, plan.end, today),
                      strip_of_days(self.strip_counts, self.strip_worst, plan.start, plan.end, today, plan.calendar))
        return self._made

    def sheet(self, items_of: Callable[[str], Iterable[Item]] | None = None) -> StatusSheet:
        """The sheet of the items counted; each section's items from `items_of(section name)` (most pressing
        first), or the ones kept, sorted."""
        if items_of is None:
            kept = self.kept or {}

            def items_of(name: str) -> list[Item]:
                return sorted(kept.get(name, []), key=urgency_key)

        sections, units, tally, chart, strip = self._make()
        return StatusSheet(self.plan, self.as_of, self.horizon_days, tally, chart, strip,
                           [SectionBlock(name, items_of(name), section_tally, section_chart, problems_only)
                            for name, section_tally, section_chart, problems_only in sections],
                           units, self.has_problems)


def build_sheet(snapshot: Snapshot, horizon_days: int = DEFAULT_HORIZON) -> StatusSheet:
    """The status sheet of a snapshot."""
    gathering = SheetGathering(snapshot.plan, snapshot.units, snapshot.tasks, snapshot.as_of, horizon_days, keep=True)
    for item in snapshot.items:
        gathering.add(item)
    return gathering.sheet()
