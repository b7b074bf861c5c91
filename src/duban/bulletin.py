"""The monthly bulletin (月通报): per unit, what fell due in a month and how it went; units ranked among their peers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select

from duban.counts import NOT_YET_DUE, Counts
from duban.models import EventRow, NotificationRow
from duban.sheets.data import KIND_LABELS, Item, PlanInfo, Snapshot, UnitInfo, load_snapshot
from duban.sheets.sheet import ItemGroup, group_items
from duban.timeutil import MomentError

FORMATS = ("html", "xlsx")
RANKED_KINDS = ("town", "department")  # towns among towns, departments among departments; leaders are not ranked
PLAN_SUFFIXES = ("实施方案", "工作方案", "行动方案", "方案")


@dataclass(slots=True)
class UnitMonth:
    """One unit's month (the counts of `duban.counts`) and its competition rank among peers."""

    unit: UnitInfo | None  # None for the whole plan's totals
    counts: Counts = field(default_factory=Counts)
    rank: int | None = None
    tied: bool = False  # shares its rank with another unit

    def add(self, item: Item) -> None:
        """Count one item due in the month."""
        self.counts.add_status(item.status, item.verification == "已销号")

    @property
    def due(self) -> int:
        """Items that fell due in the month (waived ones apart)."""
        return self.counts.due

    @property
    def on_time(self) -> int:
        """按时办结."""
        return self.counts.on_time

    @property
    def late(self) -> int:
        """逾期办结."""
        return self.counts.late

    @property
    def overdue(self) -> int:
        """逾期未办结, still in its period."""
        return self.counts.overdue

    @property
    def missed(self) -> int:
        """未按期: still not done after a later period came due."""
        return self.counts.missed

    @property
    def open(self) -> int:
        """尚未办结: overdue and missed."""
        return self.counts.open

    @property
    def waived(self) -> int:
        """免办."""
        return self.counts.waived

    @property
    def rate(self) -> float | None:
        """按时办结率 as a fraction (None when nothing fell due)."""
        return self.counts.rate

    @property
    def rate_text(self) -> str:
        """67%, or — when nothing fell due."""
        return self.counts.rate_text

    @property
    def rank_text(self) -> str:
        """3, or 并列第3 when shared."""
        return rank_label(self.rank, self.tied)


def rank_label(rank: int | None, tied: bool) -> str:
    """A competition rank as the bulletin prints it: 3, 并列第3 when shared, nothing when unranked."""
    return "" if rank is None else f"并列第{rank}" if tied else str(rank)


@dataclass(slots=True)
class Ranking:
    """Units of one kind with something due, best first, with competition ranks (1, 2, 2, 4) by on-time rate."""

    kind: str
    units: list[UnitMonth]
    idle: list[UnitInfo] = field(default_factory=list)  # units of this kind with nothing due: listed apart

    @property
    def label(self) -> str:
        """乡镇（街道）, 县级部门."""
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def all_equal(self) -> bool:
        """Whether every ranked unit has the same rate (nobody is named first or last)."""
        return len({u.counts.rate_percent for u in self.units}) <= 1

    @property
    def first(self) -> list[UnitMonth]:
        """The units named first: the best rate, when some unit's rate is lower."""
        return [] if self.all_equal else [u for u in self.units if u.rank == 1]

    @property
    def last(self) -> list[UnitMonth]:
        """The units named last: the worst rate, when some unit's rate is higher."""
        return [] if self.all_equal else [u for u in self.units if u.rank == self.units[-1].rank]


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
    unranked: list[Ranking] = field(default_factory=list)  # kinds of unit none of which had anything due
    closes: datetime | None = None  # plan-local: when the month is over
    data_end: datetime | None = None  # plan-local: the store's last record, when it ends before the month does

    @property
    def judged_early(self) -> bool:
        """Whether states are judged before the month is over (the month is not over, or the data ends)."""
        return self.closes is not None and self.as_of < self.closes

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

    @property
    def idle(self) -> list[UnitInfo]:
        """Units of the ranked kinds with nothing due in the month."""
        return [unit for ranking in [*self.rankings, *self.unranked] for unit in ranking.idle]


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


def outside_plan(plan: PlanInfo, first: date) -> str | None:
    """Why a month gets no bulletin: it ends before the plan starts or starts after it ends (one line, for the
    run's output); None for a month the plan covers, even in part."""
    if next_month(first) <= plan.start:
        return f"{first.year}年{first.month}月：方案{_day(plan.start)}才开始，不出通报"
    if first > plan.end:
        return f"{first.year}年{first.month}月：方案已于{_day(plan.end)}结束，不出通报"
    return None


def _day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def rank(units: Sequence[UnitMonth]) -> list[UnitMonth]:
    """Units with something due, best first, ranked by on-time rate as printed (whole percent), competition style:
    1, 2, 2, 4; equal rates share a rank (并列) whatever else differs."""
    ordered = sorted((u for u in units if u.due), key=lambda u: -(u.counts.rate_percent or 0))
    for index, unit in enumerate(ordered):
        same = index and ordered[index - 1].counts.rate_percent == unit.counts.rate_percent
        unit.rank = ordered[index - 1].rank if same else index + 1
    shared = Counter(u.rank for u in ordered)
    for unit in ordered:
        unit.tied = shared[unit.rank] > 1
    return ordered


def build_bulletin(snapshot: Snapshot, month: date, issue_day: date | None = None,
                   data_end: datetime | None = None) -> Bulletin:
    """The bulletin of a month, with states as the snapshot sees them."""
    plan = snapshot.plan
    months: dict[str, UnitMonth] = {unit_id: UnitMonth(unit) for unit_id, unit in snapshot.units.items()}
    total, overdue = UnitMonth(None), []
    for item in snapshot.items:
        if (item.due.year, item.due.month) != (month.year, month.month) or item.status in NOT_YET_DUE:
            continue
        months[item.unit.id].add(item)
        total.add(item)
        if item.status in ("overdue", "missed", "done_late"):
            overdue.append(item)
    listed = [m for m in months.values() if m.due or m.waived]
    rankings, unranked = [], []
    for kind in RANKED_KINDS:
        peers = [m for m in months.values() if m.unit and m.unit.kind == kind]
        ranked = rank(peers)
        if peers:
            (rankings if ranked else unranked).append(Ranking(kind, ranked, [m.unit for m in peers if not m.due]))
    overdue.sort(key=lambda i: (i.status == "done_late", -i.days, i.due, i.task.position, i.id))
    closes = month_close(month, plan).astimezone(plan.tz)
    return Bulletin(plan, month, snapshot.as_of, issue_day or snapshot.as_of.date(), listed, rankings, overdue,
                    total, unranked, closes, data_end)


def data_end(connection: Connection, plan_id: str) -> datetime | None:
    """The store's last record of what happened in the plan: the latest action (a sync's bookkeeping aside) or
    message moment (None for an idle store)."""
    events, notices = EventRow.__table__, NotificationRow.__table__
    moments = [connection.execute(select(func.max(events.c.at)).where(
                   events.c.plan_id == plan_id, events.c.source != "sync")).scalar(),
               connection.execute(select(func.max(notices.c.as_of)).where(notices.c.plan_id == plan_id)).scalar()]
    found = [moment for moment in moments if moment is not None]
    return max(found) if found else None


def judging_moment(plan: PlanInfo, wanted: datetime, end: datetime | None) -> datetime:
    """When to judge: `wanted`, unless the store's records stop before it with a workday still to come (a replay,
    a copy, a store that stopped): then when they stop (states after it would be guesses)."""
    if end is None or end >= wanted:
        return wanted
    first = end.astimezone(plan.tz).date() + timedelta(days=1)
    last = (wanted - timedelta(microseconds=1)).astimezone(plan.tz).date()
    return end if plan.calendar.workdays_in(first, last) else wanted


def load_bulletin(engine: Engine, plan_id: str, month: date, as_of: datetime | None = None,
                  now: datetime | None = None) -> Bulletin:
    """A month's bulletin from the store, states judged at `as_of`; by default when the month closed (or `now`,
    while it is not over), or when the store's records end, if that is earlier (the bulletin says so)."""
    from duban.sheets.data import load_plan

    with engine.connect() as connection:
        plan = load_plan(connection, plan_id)
        end = data_end(connection, plan_id) if as_of is None else None
    close = month_close(month, plan)
    moment = as_of or judging_moment(plan, min(close, now or close), end)
    early = end.astimezone(plan.tz) if end is not None and moment == end else None
    start = datetime.combine(month, time(), plan.tz)
    following = datetime.combine((month.replace(day=28) + timedelta(days=4)).replace(day=1), time(), plan.tz)
    # only the month's items count (build_bulletin picks them by their local deadline): read only those
    return build_bulletin(load_snapshot(engine, plan_id, moment, due_within=(start, following)), month,
                          data_end=early)


def bulletin_name(plan_id: str, month: date, extension: str) -> str:
    """bulletin-<plan>-<YYYY-MM>.<ext>."""
    return f"bulletin-{plan_id}-{month:%Y-%m}.{extension}"


def write_bulletin(
    *, engine: Engine, plan_id: str, month: date, out_dir: str | Path, formats: Sequence[str] = FORMATS,
    as_of: datetime | None = None, templates_dir: str | Path | None = None, now: datetime | None = None,
) -> list[Path]:
    """Render a month's bulletin into `out_dir`, one file per format; return the paths."""
    from duban.casework.counts import counts_at
    from duban.sheets.render import render, templates, write_text
    from duban.sheets.xlsx import write_bulletin_workbook

    bulletin = load_bulletin(engine, plan_id, month, as_of, now)
    problems = counts_at(engine, plan_id, bulletin.as_of)  # 问题整改 (issue 15), judged at the bulletin's moment
    folder, paths = Path(out_dir), []
    for fmt in formats:
        path = folder / bulletin_name(plan_id, month, fmt)
        if fmt == "xlsx":
            paths.append(write_bulletin_workbook(bulletin, path))
        else:
            paths.append(write_text(path, render(templates(templates_dir), "sheets/bulletin.html", b=bulletin,
                                                 problems=problems)))
    return paths
