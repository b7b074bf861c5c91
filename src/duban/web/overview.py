"""The leaders' overview (总览): per unit, what fell due and how it went, with totals that add up; where the office
and leaders land. Every number comes from `duban.counts` (as the sheet's and the bulletin's do) and links to the
list of exactly its set, judged by the same expressions (`counts.in_set`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import ColumnElement, Connection, and_, select

from duban.bulletin import RANKED_KINDS, UnitMonth, next_month, parse_month, rank, rank_label
from duban.casework.counts import problem_counts
from duban.counts import SETS, Counts, count, in_set, total
from duban.links import item_path
from duban.models import OccurrenceRow, PlanRow, UnitRow
from duban.sheets.data import KIND_LABELS
from duban.timeutil import MomentError
from duban.web import queries, queue

KIND_ORDER = ("town", "department", "leadership")  # towns first: they carry most of the work
LIST_LIMIT = 300
COLUMNS = ("due", "on_time", "late", "overdue", "missed", "waiting", "verified")  # after the rate: a phone shows it


@dataclass(slots=True)
class UnitLine:
    """One unit's row: its counts and its competition rank among units of its kind (as the bulletin ranks)."""

    unit_id: str
    name: str
    kind: str
    counts: Counts
    rank: int | None = None
    tied: bool = False

    @property
    def rank_text(self) -> str:
        """3, 并列第3, or nothing when nothing fell due."""
        return rank_label(self.rank, self.tied)


@dataclass(slots=True)
class KindBlock:
    """The units of one kind: ranked ones worst rate first, then those with nothing due."""

    kind: str
    lines: list[UnitLine] = field(default_factory=list)

    @property
    def label(self) -> str:
        """乡镇（街道）."""
        return KIND_LABELS.get(self.kind, self.kind or "其他单位")


@dataclass(slots=True)
class Overview:
    """Everything the overview shows."""

    as_of: datetime
    month: date | None  # only items due in this month (as the bulletin counts), or everything judged by as_of
    months: list[date]  # the plan's months, for the month links
    blocks: list[KindBlock]
    total: Counts

    @property
    def lines(self) -> list[UnitLine]:
        """Every unit's row, in the order shown."""
        return [line for block in self.blocks for line in block.lines]

    @property
    def month_param(self) -> str:
        """2020-10, or empty for the whole plan so far."""
        return "" if self.month is None else f"{self.month:%Y-%m}"


def month_window(month: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants a month spans in the plan's zone (as the bulletin's months)."""
    return datetime.combine(month, time(), tzinfo=tz), datetime.combine(next_month(month), time(), tzinfo=tz)


def plan_months(connection: Connection, plan_id: str) -> list[date]:
    """The first days of the months the plan's window touches."""
    row = connection.execute(select(PlanRow.start, PlanRow.end).where(PlanRow.id == plan_id)).one()
    months, month = [], date(row.start.year, row.start.month, 1)
    while month <= row.end:
        months.append(month)
        month = next_month(month)
    return months


def _worst_first(line: UnitLine) -> tuple:
    rate = line.counts.rate_percent
    return (rate is None, rate or 0, -line.counts.open, -line.counts.due, line.name, line.unit_id)


def build(connection: Connection, *, plan_id: str, as_of: datetime, tz: ZoneInfo,
          month: date | None = None) -> Overview:
    """The overview at `as_of`: one `duban.counts.count` per unit, ranks within each kind of unit."""
    window = month_window(month, tz) if month is not None else (None, None)
    counted = count(connection, plan_id=plan_id, as_of=as_of, by=("unit_id",), due_from=window[0],
                    due_before=window[1], owners=False)
    units = connection.execute(select(UnitRow.id, UnitRow.name, UnitRow.short, UnitRow.kind).where(
        UnitRow.plan_id == plan_id, UnitRow.archived.is_(False))).all()
    known = {u.id for u in units}
    lines = [UnitLine(u.id, u.short or u.name, u.kind, counted.get((u.id,), Counts())) for u in units]
    lines += [UnitLine(key[0], key[0], "", c) for key, c in counted.items() if key[0] not in known]
    blocks: dict[str, KindBlock] = {}
    for line in lines:
        blocks.setdefault(line.kind, KindBlock(line.kind)).lines.append(line)
    for block in blocks.values():
        if block.kind in RANKED_KINDS:  # towns among towns, departments among departments; leaders unranked
            months = [(line, UnitMonth(None, line.counts)) for line in block.lines]
            rank([m for _, m in months])  # the bulletin's ranking: competition ranks on the printed rate, 并列
            for line, ranked_month in months:
                line.rank, line.tied = ranked_month.rank, ranked_month.tied
        block.lines.sort(key=_worst_first)
    order = {kind: index for index, kind in enumerate(KIND_ORDER)}
    shown = sorted(blocks.values(), key=lambda b: (order.get(b.kind, len(order)), b.kind))
    return Overview(as_of.astimezone(tz), month, plan_months(connection, plan_id), shown,
                    total(line.counts for line in lines))


def set_clause(plan_id: str, name: str, as_of: datetime, unit: str, window: tuple[datetime | None, datetime | None]
               ) -> ColumnElement[bool]:
    """The occurrences behind one number: a set of `duban.counts`, in one unit (or all), due in the window."""
    occ = OccurrenceRow.__table__
    conditions = [occ.c.plan_id == plan_id, in_set(name, as_of)]
    if unit:
        conditions.append(occ.c.unit_id == unit)
    if window[0] is not None:
        conditions += [occ.c.due >= window[0], occ.c.due < window[1]]
    return and_(*conditions)


def list_url(month: str, unit: str, chosen: str) -> str:
    """The overview with the list of one number's set below it: /overview?month=2020-10&unit=x&set=overdue#list."""
    query = urlencode([(key, value) for key, value in (("month", month), ("unit", unit), ("set", chosen)) if value])
    return f"/overview?{query}#list"


class BadFilter(ValueError):
    """A filter in the overview's address that names nothing: one line saying which."""


def read_filters(month: str, unit: str, chosen: str, units: dict[str, str]) -> date | None:
    """The month asked for (None: the whole plan); BadFilter for a month, unit or set that does not exist."""
    if chosen and chosen not in SETS:
        raise BadFilter(f"地址中的 set=“{chosen}”不是可选的统计项（可选：{'、'.join(SETS.values())}）。")
    if unit and unit not in units:
        raise BadFilter(f"地址中的 unit=“{unit}”不是本方案的单位。")
    if not month:
        return None
    try:
        return parse_month(month)
    except MomentError:
        raise BadFilter(f"地址中的 month=“{month}”不是月份（写作 2020-10）。") from None


def install(app: FastAPI, pages: Any) -> Callable[..., HTMLResponse]:
    """Add GET /overview; return the page function, for "/" to show the office and leaders."""

    def show(visit: Any, month: str = "", unit: str = "", chosen: str = "") -> HTMLResponse:
        if not (visit.actor.office or visit.actor.leader):
            return pages.refuse(403, "无权查看", "总览只对督办室和领导开放。", visit)
        moment = pages.clock()
        with pages.db.connect() as connection:
            names = queries.unit_names(connection, visit.plan.id)
            try:
                first = read_filters(month, unit, chosen, names)
            except BadFilter as error:
                return pages.refuse(400, "筛选条件有误", str(error), visit)
            overview = build(connection, plan_id=visit.plan.id, as_of=moment, tz=visit.plan.tz, month=first)
            rows: list[dict[str, Any]] = []
            if chosen:
                window = month_window(first, visit.plan.tz) if first else (None, None)
                rows = queries.item_rows(connection, plan_id=visit.plan.id, as_of=moment, limit=LIST_LIMIT,
                                         clause=set_clause(visit.plan.id, chosen, moment, unit, window))
                queue.mark_returned(connection, visit.plan.id, rows)  # 已退回 with its reason, as in every list
            problems = problem_counts(connection, plan_id=visit.plan.id, as_of=moment)  # 问题整改 (issue 15)
        group = next((line.counts for line in overview.lines if line.unit_id == unit), None) if unit else None
        listed = getattr(group or overview.total, chosen) if chosen else 0
        return pages.render("overview.html", visit=visit, o=overview, sets=SETS, columns=COLUMNS, unit=unit,
                            chosen=chosen, unit_name=names.get(unit, ""), rows=rows, listed=listed,
                            item_path=item_path, list_url=list_url, problems=problems, title="总览")

    @app.get("/overview", response_class=HTMLResponse)
    def overview_page(request: Request, month: str = "", unit: str = "", set: str = "") -> HTMLResponse:
        return show(pages.visit_of(request), month, unit, set)

    return show
