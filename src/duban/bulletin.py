"""The monthly bulletin (月通报): per unit, what fell due in a month and how it went; units ranked among their peers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from sqlalchemy import Engine

from duban.sheets.data import KIND_LABELS, Item, PlanInfo, Snapshot, UnitInfo, load_snapshot
from duban.sheets.sheet import ItemGroup, group_items
from duban.timeutil import MomentError

FORMATS = ("html", "xlsx")
RANKED_KINDS = ("town", "department")  # towns among towns, departments among departments; leaders are not ranked
NOT_YET_DUE = ("upcoming", "due_soon")  # a month judged before its end leaves out what has not fallen due yet
PLAN_SUFFIXES = ("实施方案", "工作方案", "行动方案", "方案")


@dataclass(slots=True)
class UnitMonth:
    """One unit's month: items due, done on time, done late, still open, waived, and its rank among peers."""

    unit: UnitInfo | None  # None for the whole plan's totals
    due: int = 0
    on_time: int = 0
    late: int = 0
    open: int = 0
    waived: int = 0
    rank: int | None = None

    def add(self, item: Item) -> None:
        """Count one item due in the month."""
        if item.status == "waived":
            self.waived += 1
            return
        self.due += 1
        if item.status == "done":
            self.on_time += 1
        elif item.status == "done_late":
            self.late += 1
        else:
            self.open += 1

    @property
    def rate(self) -> float | None:
        """按时办结率 as a fraction (None when nothing fell due)."""
        return self.on_time / self.due if self.due else None

    @property
    def rate_text(self) -> str:
        """67%, or — when nothing fell due."""
        return "—" if self.rate is None else f"{round(100 * self.rate)}%"

    @property
    def standing(self) -> tuple[float, int, int]:
        """What ranks a unit: higher on-time rate, then fewer still open, then fewer late."""
        return (-(self.rate or 0.0), self.open, self.late)


@dataclass(slots=True)
class Ranking:
    """Units of one kind, best first, with shared ranks for equal standing."""

    kind: str
    units: list[UnitMonth]

    @property
    def label(self) -> str:
        """乡镇（街道）, 县级部门."""
        return KIND_LABELS.get(self.kind, self.kind)


@dataclass(slots=True)
class Bulletin:
    """Everything a month's bulletin shows."""

    plan: PlanInfo
    month: date  # its first day
    as_of: datetime  # plan-local: states are judged then
    issue_day: date
    units: list[UnitMonth]
    rankings: list[Ranking]
    overdue: list[Item]
    total: UnitMonth = field(default_factory=lambda: UnitMonth(None))

    @property
    def title(self) -> str:
        """云阳县脱贫攻坚“收官大决战”工作进展通报（2020年10月）."""
        return f"{bulletin_subject(self.plan.title)}工作进展通报（{self.month.year}年{self.month.month}月）"

    @property
    def number(self) -> int:
        """The issue number: 1 for the plan's first month."""
        return (self.month.year - self.plan.start.year) * 12 + self.month.month - self.plan.start.month + 1

    @property
    def overdue_lines(self) -> list[ItemGroup]:
        """The overdue list with one line per task, unit and state (weekly work, work of many officials)."""
        return group_items(self.overdue)

    @property
    def month_text(self) -> str:
        """2020年10月."""
        return f"{self.month.year}年{self.month.month}月"


def bulletin_subject(plan_title: str) -> str:
    """The plan's title without its document kind: 云阳县脱贫攻坚“收官大决战”实施方案 -> 云阳县脱贫攻坚“收官大决战”."""
    for suffix in PLAN_SUFFIXES:
        if plan_title.endswith(suffix) and len(plan_title) > len(suffix):
            return plan_title[: -len(suffix)]
    return plan_title


def parse_month(text: str) -> date:
    """The first day of a month written YYYY-MM."""
    try:
        year, month = (int(part) for part in text.strip().split("-"))
        return date(year, month, 1)
    except ValueError:
        raise MomentError(f"cannot read '{text}' as a month (write YYYY-MM, e.g. 2020-10)") from None


def next_month(first: date) -> date:
    """The first day of the following month."""
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def previous_month(day: date) -> date:
    """The first day of the month before the one `day` falls in."""
    return date(day.year - (day.month == 1), (day.month - 2) % 12 + 1, 1)


def month_close(first: date, plan: PlanInfo) -> datetime:
    """The moment a month is over: the start of the next month, plan time."""
    return datetime.combine(next_month(first), time(), tzinfo=plan.tz)


def rank(units: Sequence[UnitMonth]) -> list[UnitMonth]:
    """Units with something due, best first, numbered 1, 2, 2, 4 for equal standing."""
    ordered = sorted((u for u in units if u.due), key=lambda u: u.standing)
    for index, unit in enumerate(ordered):
        same = index and ordered[index - 1].standing == unit.standing
        unit.rank = ordered[index - 1].rank if same else index + 1
    return ordered


def build_bulletin(snapshot: Snapshot, month: date, issue_day: date | None = None) -> Bulletin:
    """The bulletin of a month, with states as the snapshot sees them."""
    plan = snapshot.plan
    months: dict[str, UnitMonth] = {unit_id: UnitMonth(unit) for unit_id, unit in snapshot.units.items()}
    total, overdue = UnitMonth(None), []
    for item in snapshot.items:
        if (item.due.year, item.due.month) != (month.year, month.month) or item.status in NOT_YET_DUE:
            continue
        months[item.unit.id].add(item)
        total.add(item)
        if item.status in ("overdue", "done_late"):
            overdue.append(item)
    listed = [m for m in months.values() if m.due or m.waived]
    rankings = [Ranking(kind, rank([m for m in listed if m.unit and m.unit.kind == kind])) for kind in RANKED_KINDS]
    overdue.sort(key=lambda i: (i.status != "overdue", -i.days, i.due, i.task.position, i.id))
    return Bulletin(plan, month, snapshot.as_of, issue_day or snapshot.as_of.date(), listed,
                    [r for r in rankings if r.units], overdue, total)


def load_bulletin(engine: Engine, plan_id: str, month: date, as_of: datetime | None = None) -> Bulletin:
    """A month's bulletin from the store; states judged at `as_of` (default: the moment the month closed)."""
    from duban.sheets.data import load_plan

    if as_of is None:
        with engine.connect() as connection:
            as_of = month_close(month, load_plan(connection, plan_id))
    return build_bulletin(load_snapshot(engine, plan_id, as_of), month)


def bulletin_name(plan_id: str, month: date, extension: str) -> str:
    """bulletin-<plan>-<YYYY-MM>.<ext>."""
    return f"bulletin-{plan_id}-{month:%Y-%m}.{extension}"


def write_bulletin(
    *, engine: Engine, plan_id: str, month: date, out_dir: str | Path, formats: Sequence[str] = FORMATS,
    as_of: datetime | None = None, templates_dir: str | Path | None = None,
) -> list[Path]:
    """Render a month's bulletin into `out_dir`, one file per format; return the paths."""
    from duban.sheets.render import render, templates, write_text
    from duban.sheets.xlsx import write_bulletin_workbook

    bulletin = load_bulletin(engine, plan_id, month, as_of)
    folder, paths = Path(out_dir), []
    for fmt in formats:
        path = folder / bulletin_name(plan_id, month, fmt)
        if fmt == "xlsx":
            paths.append(write_bulletin_workbook(bulletin, path))
        else:
            paths.append(write_text(path, render(templates(templates_dir), "sheets/bulletin.html", b=bulletin)))
    return paths
