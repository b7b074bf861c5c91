"""Where every occurrence of a plan stands at a moment, read from the store with a few set-based queries."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select

from duban.catalog import Catalog, EscalationLevel, Target, parse_catalog
from duban.models import EvidenceRow, OccurrenceRow, PersonRow, PlanRow, TaskRow, UnitRow
from duban.policy import EscalationClock, escalation_stage, policy_from_json
from duban.readpath.connect import Reader
from duban.schedule import calendar_for
from duban.sheets.escalation import level_label
from duban.status import STATE_LABELS, status_at
from duban.store import StoreError, utc
from duban.workdays import WorkdayCalendar

# Traffic lights: the colour each state shows in every sheet (HTML classes, XLSX fills).
LIGHTS = {"done": "green", "done_late": "blue", "due_soon": "yellow", "overdue": "red", "upcoming": "grey",
          "waived": "white", "missed": "purple"}
# (text colour, fill) per light, shared by the CSS and the XLSX ledger.
PALETTE = {"green": ("1B5E20", "C8E6C9"), "blue": ("0D47A1", "BBDEFB"), "yellow": ("7A5A00", "FFF176"),
           "red": ("B71C1C", "FFCDD2"), "grey": ("424242", "E0E0E0"), "white": ("757575", "F5F5F5"),
           "purple": ("4A148C", "E1BEE7")}
# Most pressing first: the order rows and lights are listed in.
URGENCY = ("overdue", "missed", "due_soon", "upcoming", "done_late", "done", "waived")
STATUSES = {status: status for status in URGENCY}
KIND_LABELS = {"town": "乡镇（街道）", "department": "县级部门", "leadership": "县领导"}
OP_TEXT = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "="}


@dataclass(frozen=True, slots=True)
class PlanInfo:
    """The plan as the sheets need it: names, zone, window, workday calendar."""

    id: str
    title: str
    tz: ZoneInfo
    start: date
    end: date
    office_name: str
    catalog: Catalog
    calendar: WorkdayCalendar
    remind_at: time


@dataclass(slots=True)
class UnitInfo:
    """A unit with the officials answerable for its work."""

    id: str
    name: str
    label: str
    kind: str
    heads: list[str] = field(default_factory=list)
    in_charge: list[str] = field(default_factory=list)

    @property
    def officials(self) -> str:
        """分管：孙副主任；主要：钱书记."""
        parts = []
        if self.in_charge:
            parts.append("分管：" + "、".join(self.in_charge))
        if self.heads:
            parts.append("主要：" + "、".join(self.heads))
        return "；".join(parts)

    @property
    def kind_label(self) -> str:
        """乡镇（街道）, 县级部门, 县领导."""
        return KIND_LABELS.get(self.kind, self.kind or "其他")


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """A task as the sheets need it."""

    id: str
    position: int
    ref: str
    section: str
    title: str
    co_owners: str
    evidence: str
    target: Target | None
    levels: tuple[EscalationLevel, ...]
    origin: str = "catalog"  # catalog | assigned (交办) | problem (问题清单, issue 15)
    source: str = ""  # a problem's 来源

    @property
    def is_problem(self) -> bool:
        """Whether the task is a problem to rectify (问题整改)."""
        return self.origin == "problem"


@dataclass(slots=True)
class Item:
    """One occurrence and where it stands at the snapshot's moment."""

    id: str
    task: TaskInfo
    unit: UnitInfo
    owner_name: str
    period_start: date
    due: datetime  # plan-local
    due_day: date  # the deadline's calendar day (plan-local)
    status: str
    days: int  # days left (upcoming, due soon), overdue (overdue), late (done late); 0 otherwise
    level: int
    level_text: str
    verification: str
    value: float | None
    evidence_count: int
    reported_at: datetime | None  # plan-local, when reported by the snapshot's moment
    original_due: datetime | None = None  # plan-local: the deadline before a granted extension (延期, issue 15)
    due_ts: float = 0.0  # the deadline as a POSIX timestamp (sorting)

    @property
    def light(self) -> str:
        """green, blue, yellow, red, grey or white."""
        return LIGHTS[self.status]

    @property
    def status_text(self) -> str:
        """按时办结, 逾期办结, 临近, 逾期, 未到期, 免办."""
        return STATE_LABELS[self.status]

    @property
    def days_text(self) -> str:
        """剩余3天, 今日到期, 逾期5天, 超期2天办结, or ''."""
        if self.status in ("overdue", "missed"):
            return f"逾期{self.days}天"
        if self.status == "done_late":
            return f"超期{self.days}天办结"
        if self.status in ("upcoming", "due_soon"):
            return "今日到期" if self.days == 0 else f"剩余{self.days}天"
        return ""

    @property
    def target_text(self) -> str:
        """开工率 ≥ 100%, or ''."""
        t = self.task.target
        return "" if t is None else f"{t.metric} {OP_TEXT[t.op]} {_number(t.value)}{t.unit}"

    @property
    def value_text(self) -> str:
        """The reported figure with its unit, or ''."""
        if self.value is None:
            return ""
        return _number(self.value) + (self.task.target.unit if self.task.target else "")

    @property
    def target_met(self) -> bool | None:
        """Whether the reported figure meets the target (None without both)."""
        if self.value is None or self.task.target is None:
            return None
        return self.task.target.met_by(self.value)


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass(slots=True)
class Snapshot:
    """Every live occurrence of a plan and where it stands at `as_of`."""

    plan: PlanInfo
    as_of: datetime  # plan-local
    units: dict[str, UnitInfo]
    tasks: dict[str, TaskInfo]
    items: list[Item]


def load_plan(connection: Connection, plan_id: str) -> PlanInfo:
    """The plan row, with its catalog parsed for the calendar and the names."""
    table = PlanRow.__table__
    row = connection.execute(select(table).where(table.c.id == plan_id)).first()
    if row is None:
        raise StoreError(f"no plan '{plan_id}' in the store")
    catalog = _parsed(row.catalog_text, plan_id)
    office = catalog.units.get(row.office or "")
    return PlanInfo(id=row.id, title=row.title, tz=ZoneInfo(row.timezone), start=row.start, end=row.end,
                    office_name=office.name if office else "", catalog=catalog, calendar=calendar_for(catalog),
                    remind_at=catalog.plan.remind_at)


_CATALOGS: dict[tuple[str, str], Catalog] = {}


def _parsed(text: str, plan_id: str) -> Catalog:
    """The stored catalog parsed, once per text (a bulletin or a sheet reads the plan more than once)."""
    key = (plan_id, text)
    if key not in _CATALOGS:
        _CATALOGS.clear()  # the latest only: a process serves one plan at a time
        _CATALOGS[key] = parse_catalog(text, f"<catalog of {plan_id}>")
    return _CATALOGS[key]


def load_units(connection: Connection, plan: PlanInfo) -> tuple[dict[str, UnitInfo], dict[str, str]]:
    """Units in catalog order (archived ones after), each with its heads and officials in charge; and every
    person's name by id (owners of role-owned occurrences, archived people included)."""
    rows = connection.execute(select(UnitRow.id, UnitRow.name, UnitRow.short, UnitRow.kind)
                              .where(UnitRow.plan_id == plan.id)).all()
    order = {unit_id: index for index, unit_id in enumerate(plan.catalog.units)}
    rows.sort(key=lambda r: (order.get(r.id, len(order)), r.id))
    units = {r.id: UnitInfo(r.id, r.name, r.short or r.name, r.kind) for r in rows}
    names = {}
    people = connection.execute(select(PersonRow.id, PersonRow.unit_id, PersonRow.name, PersonRow.roles,
                                       PersonRow.archived).where(PersonRow.plan_id == plan.id).order_by(PersonRow.id))
    for person in people:
        names[person.id] = person.name
        unit = units.get(person.unit_id)
        if unit is None or person.archived:
            continue
        roles = person.roles.split(";")
        if "head" in roles:
            unit.heads.append(person.name)
        if "in_charge" in roles:
            unit.in_charge.append(person.name)
    return units, names


def load_tasks(connection: Connection, plan: PlanInfo, units: dict[str, UnitInfo]) -> dict[str, TaskInfo]:
    """Tasks with their targets and escalation levels, from the store's JSON columns."""
    tasks = {}
    table = TaskRow.__table__
    for task in connection.execute(select(table).where(table.c.plan_id == plan.id).order_by(table.c.position)):
        target = Target(**json.loads(task.target)) if task.target else None
        co_owners = "、".join(units[u].label if u in units else plan.catalog.owner_label(u)
                              for u in task.co_owners.split(";") if u)
        tasks[task.id] = TaskInfo(task.id, task.position, task.ref, task.section or task.ref, task.title, co_owners,
                                  task.evidence, target, policy_from_json(task.policy).escalate,
                                  task.origin or "catalog", task.source or "")
    return tasks


def _days_between(first: date, second: date) -> int:
    return (second - first).days


def _verification(status: str, state: str, report_count: int, acked: bool, verified: bool) -> str:
    if status == "waived":
        return "免办"
    if verified:
        return "已销号"
    if status in ("done", "done_late"):
        return "待销号"
    if report_count and state in ("open", "acked"):
        return "已退回"
    return "已签收" if acked else "未签收"


@dataclass(frozen=True, slots=True)
class Source:
    """What every item of a plan is read against at one moment: the plan, its units and tasks, people's names."""

    engine: Engine
    plan: PlanInfo
    as_of: datetime  # plan-local
    as_of_utc: datetime
    units: dict[str, UnitInfo]
    tasks: dict[str, TaskInfo]
    names: dict[str, str]
    worked_out: dict[str, dict] = field(default_factory=dict, repr=False)  # deadlines, levels: once per source

    def items(self, rows: Iterable[Row]) -> Iterator[Item]:
        """The items of occurrence rows (as `_fast_rows` gives them), one at a time."""
        return _items(rows, self.plan, self.units, self.tasks, self.names, self.as_of_utc, self.worked_out)


def open_source(engine: Engine, plan_id: str, as_of: datetime) -> Source:
    """The plan, units, tasks and names a snapshot at `as_of` (an aware moment) is read against."""
    # a plain datetime: pendulum's DateTime (from parse_moment) loses a ZoneInfo zone in arithmetic
    as_of = datetime.combine(as_of.date(), as_of.timetz())
    with engine.connect() as connection:
        plan = load_plan(connection, plan_id)
        units, names = load_units(connection, plan)
        tasks = load_tasks(connection, plan, units)
    return Source(engine, plan, as_of.astimezone(plan.tz), utc(as_of), units, tasks, names)


def source_items(source: Source, due_within: tuple[datetime, datetime] | None = None) -> Iterator[Item]:
    """Every live occurrence's item (or those due in [start, end) of `due_within`), by deadline, one at a time:
    read with the database's own driver where it can (`duban.readpath`), else through SQLAlchemy."""
    window = (utc(due_within[0]), utc(due_within[1])) if due_within else None
    rows = _fast_rows(source.engine, source.plan.id, source.as_of_utc, window)
    if rows is None:
        with source.engine.connect() as connection:
            rows = _orm_rows(connection, source.plan.id, source.as_of_utc, window)
    return source.items(rows)


def load_snapshot(engine: Engine, plan_id: str, as_of: datetime,
                  due_within: tuple[datetime, datetime] | None = None) -> Snapshot:
    """Every live occurrence of the plan (or those due in [start, end) of `due_within`) with its state at `as_of`
    (an aware moment): a few queries, the occurrences read with the database's own driver where it can
    (`duban.readpath`), judged by one rule."""
    source = open_source(engine, plan_id, as_of)
    return Snapshot(source.plan, source.as_of, source.units, source.tasks, list(source_items(source, due_within)))


# (id, task_id, owner_id, owner_kind, unit_id, period_start, due, status, acked, reported_at, report_count, value,
#  verified, original_due, state, evidence): instants as aware datetimes or the SQLite text of one
Row = tuple


def _items(rows: Iterable[Row], plan: PlanInfo, units: dict[str, UnitInfo], tasks: dict[str, TaskInfo],
           names: dict[str, str], as_of_utc: datetime, worked_out: dict[str, dict] | None = None) -> Iterator[Item]:
    tz = plan.tz
    local_as_of = as_of_utc.astimezone(tz)
    today = local_as_of.date()
    clock = EscalationClock(plan.calendar, plan.remind_at, tz)
    unit_labels = {u.id: u.label for u in units.values()}
    roles = plan.catalog.roles
    # Many occurrences share a deadline, a task's levels and a start day: each is worked out once.
    worked_out = {} if worked_out is None else worked_out
    dues: dict[object, tuple[datetime, datetime, date, float]] = worked_out.setdefault("dues", {})
    starts: dict[object, date] = worked_out.setdefault("starts", {})
    levels: dict[tuple[str, object, bool], int] = worked_out.setdefault("levels", {})
    labels: dict[tuple[str, int], str] = worked_out.setdefault("labels", {})
    for (occ_id, task_id, owner_id, owner_kind, unit_id, period_start, raw_due, status, acked, raw_reported,
         report_count, value, verified, raw_original, state, evidence) in rows:
        task, unit = tasks.get(task_id), units.get(unit_id)
        if task is None or unit is None:
            continue
        status = STATUSES[status]  # the one shared string, not a copy per row from the driver
        known = dues.get(raw_due)
        if known is None:
            due_utc = _instant(raw_due)
            due_local = due_utc.astimezone(tz)
            known = dues[raw_due] = (due_utc, due_local, due_local.date(), due_utc.timestamp())
        due_utc, due, due_day, due_ts = known
        start = starts.get(period_start)
        if start is None:
            start = starts[period_start] = (date.fromisoformat(period_start) if isinstance(period_start, str)
                                            else period_start)
        reported = _instant(raw_reported).astimezone(tz) if status in ("done", "done_late") else None
        level = 0
        if status in ("missed", "overdue"):
            days = (today - due_day).days
            if status == "overdue":
                key = (task_id, raw_due, bool(acked))
                level = levels.get(key, -1)
                if level < 0:
                    stage = escalation_stage(due=due_utc, levels=task.levels, repeat_every=0, acked=bool(acked),
                                             clock=clock, as_of=as_of_utc)
                    level = levels[key] = stage.level if stage else 0
        elif status == "done_late":
            days = (reported.date() - due_day).days
        elif status in ("upcoming", "due_soon"):
            days = (due_day - today).days
        else:
            days = 0
        label = labels.get((task_id, level))
        if label is None:
            label = labels[(task_id, level)] = level_label(level, task.levels, roles, unit_labels)
        yield Item(
            occ_id, task, unit, names.get(owner_id, owner_id) if owner_kind == "person" else unit.label, start, due,
            due_day, status, days, level, label, _verification(status, state, report_count, acked, verified),
            value if reported else None, evidence, reported,
            _instant(raw_original).astimezone(tz) if raw_original else None, due_ts,
        )


def _instant(value: object) -> datetime:
    """A stored instant (SQLite text in UTC, or a datetime) as an aware datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return utc(value)  # type: ignore[arg-type]


def _fast_rows(engine: Engine, plan_id: str, as_of_utc: datetime,
               window: tuple[datetime, datetime] | None = None) -> Iterator[Row] | None:
    """The occurrence rows through sqlite3 or psycopg, judged in SQL by the read path's rule; None when the store
    is not one they open (the ORM path reads it then)."""
    from duban.readpath.connect import open_reader

    reader = open_reader(engine.url.render_as_string(hide_password=False))
    if reader is None:
        return None
    p = reader.param
    sql = occurrence_sql(reader)
    params = {"plan": plan_id, "moment": reader.instant(as_of_utc)}
    if window is not None:
        sql += f" AND o.due >= {p('start')} AND o.due < {p('end')}"
        params |= {"start": reader.instant(window[0]), "end": reader.instant(window[1])}
    return streamed(reader, sql + " ORDER BY o.due, o.id", params)


# a `Row`, as `occurrence_sql` names its columns
ROW_COLUMNS = ("id, task_id, owner_id, owner_kind, unit_id, period_start, due, status, acked, reported_at,"
               " report_count, value, verified, original_due, state, evidence")


def occurrence_sql(reader: Reader, ordering: bool = False) -> str:
    """SELECT every live occurrence of the plan `plan` judged at `moment` (parameters), as a `Row`; with `ordering`,
    also each one's task position, its section's first task position (`section_first`) and task origin, to sort and
    pick by in an outer query. No ORDER BY: the caller adds conditions (AND ...) and the order."""
    from duban.readpath.rule import state_sql

    p, m = reader.param, reader.param("moment")
    section = "COALESCE(NULLIF({0}.section, ''), {0}.ref)"
    extra = joins = where = head = ""
    if ordering:
        # each task with its section's first position, made once and looked up per occurrence (CROSS JOIN: SQLite
        # reads the occurrences once, outermost, instead of once per section)
        head = (f"WITH t AS MATERIALIZED (SELECT k.id AS id, k.position AS position, k.origin AS origin,"
                f" s.first AS section_first FROM task k JOIN (SELECT {section.format('task')} AS name,"
                f" MIN(position) AS first FROM task WHERE plan_id = {p('plan')} GROUP BY {section.format('task')}) s"
                f" ON s.name = {section.format('k')} WHERE k.plan_id = {p('plan')}) ")
        extra = ", t.position AS position, t.section_first AS section_first, t.origin AS origin"
        joins = " CROSS JOIN t"
        where = " AND t.id = o.task_id"
    return (
        f"{head}SELECT o.id AS id, o.task_id AS task_id, o.owner_id AS owner_id, o.owner_kind AS owner_kind,"
        f" o.unit_id AS unit_id, o.period_start AS period_start, o.due AS due, {state_sql(m)} AS status,"
        f" CASE WHEN o.acked_at IS NOT NULL AND o.acked_at <= {m} THEN 1 ELSE 0 END AS acked,"
        f" o.reported_at AS reported_at, o.report_count AS report_count, o.value AS value,"
        f" CASE WHEN o.verified_at IS NOT NULL AND o.verified_at <= {m} THEN 1 ELSE 0 END AS verified,"
        f" o.original_due AS original_due, o.state AS state, COALESCE(e.n, 0) AS evidence{extra}"
        f" FROM occurrence o{joins} LEFT JOIN (SELECT occurrence_id, COUNT(*) AS n"
        f" FROM evidence WHERE plan_id = {p('plan')} AND at <= {m} GROUP BY occurrence_id) e"
        f" ON e.occurrence_id = o.id WHERE o.plan_id = {p('plan')} AND NOT o.archived{where}"
    )


def streamed(reader: Reader, sql: str, params: dict) -> Iterator[Row]:
    """The rows batch by batch (a server-side cursor on PostgreSQL), so only the items are held, not the rows too."""
    try:
        for batch in reader.batches(sql, params, 5000):
            yield from batch
    finally:
        reader.close()


def _orm_rows(connection: Connection, plan_id: str, as_of_utc: datetime,
              window: tuple[datetime, datetime] | None = None) -> list[Row]:
    """The same rows through SQLAlchemy, judged by `status_at`."""
    rows = []
    query = _occurrence_query(plan_id, as_of_utc)
    if window is not None:
        due = OccurrenceRow.__table__.c.due
        query = query.where(due >= window[0], due < window[1])
    for r in connection.execute(query):
        status = status_at(state=r.state, due=r.due, first_reminder_at=r.first_reminder_at,
                           reported_at=r.reported_at, waived_at=r.waived_at, as_of=as_of_utc,
                           superseded_at=r.superseded_at)
        acked = r.acked_at is not None and r.acked_at <= as_of_utc
        verified = r.verified_at is not None and r.verified_at <= as_of_utc
        rows.append((r.id, r.task_id, r.owner_id, r.owner_kind, r.unit_id, r.period_start, r.due, status, acked,
                     r.reported_at, r.report_count, r.value, verified, r.original_due, r.state, r.evidence))
    return rows


def _occurrence_query(plan_id: str, as_of_utc: datetime):  # noqa: ANN202 - a SQLAlchemy Select
    occ, ev = OccurrenceRow.__table__, EvidenceRow.__table__
    evidence = (select(ev.c.occurrence_id, func.count().label("n"))
                .where(ev.c.plan_id == plan_id, ev.c.at <= as_of_utc).group_by(ev.c.occurrence_id).subquery())
    return (
        select(occ.c.id, occ.c.task_id, occ.c.owner_id, occ.c.owner_kind, occ.c.unit_id, occ.c.period_start,
               occ.c.due, occ.c.first_reminder_at, occ.c.state, occ.c.acked_at, occ.c.reported_at,
               occ.c.report_count, occ.c.value, occ.c.verified_at, occ.c.waived_at, occ.c.superseded_at,
               occ.c.original_due, func.coalesce(evidence.c.n, 0).label("evidence"))
        .outerjoin(evidence, evidence.c.occurrence_id == occ.c.id)
        .where(occ.c.plan_id == plan_id, occ.c.archived.is_(False))
        .order_by(occ.c.due, occ.c.id)
    )
