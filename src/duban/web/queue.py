"""The office's verification queue (待审核): paged, filtered by unit, task and state, sorted; batch 销号 of the
checked items in one transaction; the next waiting item after a decision; 已退回 and its reason for any list.
Wired into the app by `install`; every decision goes through duban.actions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection, and_, exists, func, select
from sqlalchemy.sql import ColumnElement

from duban import actions
from duban.links import item_path
from duban.models import EventRow, GroupRow, OccurrenceRow, TaskRow, UnitRow
from duban.status import STATE_LABELS, status_at
from duban.store import utc
from duban.web import queries
from duban.web.casework import Pages, _mark_replayed

SIZE = 50
BATCH_MAX = 200
STATES = {"waiting": "待审核", "late": "逾期报告", "returned": "已退回"}
SORTS = {"reported": "先报先审", "due": "按截止时间", "unit": "按单位"}
BATCH_STATUS = {"forbidden": 403, "not_found": 400, "conflict": 409}  # an unknown id is a bad form, not a page
DECIDED = {"verify": "上一项已审核销号。", "reject": "上一项已退回，并已通知报告人。"}
OCC, TASK, UNIT, EVENT = OccurrenceRow.__table__, TaskRow.__table__, UnitRow.__table__, EventRow.__table__


class FilterError(ValueError):
    """A queue address with a filter that names nothing (the message names the field)."""


@dataclass(frozen=True)
class Filters:
    """What the office narrowed the queue to; carried in the URL through paging and decisions."""

    unit: str = ""  # a unit id, or group:<id> for every member of a group
    task: str = ""
    state: str = "waiting"
    sort: str = "reported"
    page: int = 1

    def query(self, **changes: Any) -> str:
        """The URL query for these filters (with `changes`); state and sort always, so it is never empty."""
        chosen = replace(self, **changes)
        pairs = [(f.name, getattr(chosen, f.name)) for f in fields(chosen)]
        return urlencode([(k, v) for k, v in pairs if v and not (k == "page" and v == 1)])


def parse(params: Mapping[str, str]) -> Filters:
    """Filters from a query string's fields; FilterError names a bad one."""
    state, sort = params.get("state") or "waiting", params.get("sort") or "reported"
    if state not in STATES:
        raise FilterError(f"筛选条件“状态”无效：{state}（可选：{'、'.join(STATES.values())}）")
    if sort not in SORTS:
        raise FilterError(f"排序方式无效：{sort}")
    raw_page = params.get("page") or "1"
    if not raw_page.isdigit() or int(raw_page) < 1:
        raise FilterError(f"页码无效：{raw_page}")
    return Filters(unit=params.get("unit", "").strip(), task=params.get("task", "").strip(), state=state, sort=sort,
                   page=int(raw_page))


def parse_query(text: str) -> Filters:
    """Filters from a stored query string (the `q` field the item page carries)."""
    return parse(dict(parse_qsl(text, keep_blank_values=True)))


# --- returned items: the newest 退回 not followed by a new report --------------------------------------------


def _returned_ids(plan_id: str) -> Any:
    later = EVENT.alias("later")
    return select(EVENT.c.occurrence_id).where(
        EVENT.c.plan_id == plan_id, EVENT.c.kind == "reject",
        ~exists().where(later.c.plan_id == EVENT.c.plan_id, later.c.occurrence_id == EVENT.c.occurrence_id,
                        later.c.kind == "report", later.c.id > EVENT.c.id))


def returns(connection: Connection, plan_id: str, ids: Iterable[str]) -> dict[str, str]:
    """For the given occurrences still to do: those sent back and not yet reported again -> the reason."""
    wanted = sorted(set(ids))
    found: dict[str, tuple[int, str, str]] = {}
    for start in range(0, len(wanted), 500):
        for row in connection.execute(select(EVENT.c.occurrence_id, EVENT.c.id, EVENT.c.kind, EVENT.c.note).where(
                EVENT.c.plan_id == plan_id, EVENT.c.occurrence_id.in_(wanted[start:start + 500]),
                EVENT.c.kind.in_(("report", "reject")))):
            if row.occurrence_id not in found or found[row.occurrence_id][0] < row.id:
                found[row.occurrence_id] = (row.id, row.kind, row.note)
    return {i: note for i, (_, kind, note) in found.items() if kind == "reject"}


def mark_returned(connection: Connection, plan_id: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Set `returned` (the reason, or "") on list rows: 已退回 shows wherever an item is listed."""
    reasons = returns(connection, plan_id, (r["id"] for r in rows if r["state"] in actions.PENDING))
    for row in rows:
        row["returned"] = reasons.get(row["id"], "") if row["state"] in actions.PENDING else ""
    return rows


# --- the queue ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue, with how many match and the counts per state under the same unit and task."""

    filters: Filters
    rows: list[dict[str, Any]]
    total: int
    pages: int
    counts: dict[str, int]


def _members(connection: Connection, plan_id: str, unit: str) -> list[str]:
    """The unit ids a filter names: a unit, or every member of a group (groups of groups included)."""
    if not unit.startswith("group:"):
        return [unit]
    groups = dict(connection.execute(select(GroupRow.id, GroupRow.members).where(GroupRow.plan_id == plan_id)).all())
    found: list[str] = []
    seen: set[str] = set()
    todo = [unit[6:]]
    while todo:
        group = todo.pop()
        if group in seen:
            continue
        seen.add(group)
        for member in (m for m in (groups.get(group) or "").split(";") if m):
            if member.startswith("group:"):
                todo.append(member[6:])
            elif member not in found:
                found.append(member)
    return found


def _state_clause(plan_id: str, state: str) -> ColumnElement[bool]:
    if state == "returned":
        return and_(OCC.c.state.in_(actions.PENDING), OCC.c.id.in_(_returned_ids(plan_id)))
    if state == "late":
        return and_(OCC.c.state == "reported", OCC.c.reported_at > OCC.c.due)
    return OCC.c.state == "reported"


def _where(connection: Connection, plan_id: str, filters: Filters, state: str) -> list[ColumnElement[bool]]:
    clauses = [OCC.c.plan_id == plan_id, OCC.c.archived.is_(False), _state_clause(plan_id, state)]
    if filters.unit:
        clauses.append(OCC.c.unit_id.in_(_members(connection, plan_id, filters.unit)))
    if filters.task:
        clauses.append(OCC.c.task_id == filters.task)
    return clauses


def _order(sort: str, state: str) -> list[Any]:
    reported = OCC.c.due if state == "returned" else OCC.c.reported_at  # a return clears the report's time
    unit_name = func.coalesce(func.nullif(UNIT.c.short, ""), UNIT.c.name)
    return {"reported": [reported, OCC.c.id], "due": [OCC.c.due, OCC.c.id],
            "unit": [unit_name, reported, OCC.c.id]}[sort]


def _select(*columns: Any) -> Any:
    return select(*columns).select_from(OCC.join(TASK, and_(TASK.c.plan_id == OCC.c.plan_id,
                                                             TASK.c.id == OCC.c.task_id))
                                        .join(UNIT, and_(UNIT.c.plan_id == OCC.c.plan_id, UNIT.c.id == OCC.c.unit_id)))


def check(connection: Connection, plan_id: str, filters: Filters) -> None:
    """FilterError when the unit, group or task named is not in the plan."""
    if filters.unit:
        if filters.unit.startswith("group:"):
            known = connection.execute(select(GroupRow.id).where(GroupRow.plan_id == plan_id,
                                                                 GroupRow.id == filters.unit[6:])).first()
        else:
            known = connection.execute(select(UNIT.c.id).where(UNIT.c.plan_id == plan_id,
                                                               UNIT.c.id == filters.unit)).first()
        if known is None:
            raise FilterError(f"筛选条件“单位”无效：方案中没有“{filters.unit}”")
    if filters.task and connection.execute(select(TASK.c.id).where(
            TASK.c.plan_id == plan_id, TASK.c.id == filters.task)).first() is None:
        raise FilterError(f"筛选条件“任务”无效：方案中没有“{filters.task}”")


def _ordered(connection: Connection, plan_id: str, filters: Filters, state: str) -> list[tuple[str, bool]]:
    """(id, reported late) of every item in `state` under the unit and task filters, in the chosen order: only
    ids and one flag, so a single pass over the store gives the page, the counts and the next item. (Waiting
    and late share one pass: late is waiting, reported after the deadline.)"""
    base = "returned" if state == "returned" else "waiting"
    columns = (OCC.c.id, OCC.c.reported_at > OCC.c.due)
    query = select(*columns)
    if filters.sort == "unit":  # the unit's name, only to sort by
        query = query.select_from(OCC.join(UNIT, and_(UNIT.c.plan_id == OCC.c.plan_id, UNIT.c.id == OCC.c.unit_id)))
    found = connection.execute(query.where(*_where(connection, plan_id, filters, base))
                               .order_by(*_order(filters.sort, base))).all()
    return [(i, bool(late)) for i, late in found if state != "late" or late]


def page(connection: Connection, *, plan_id: str, filters: Filters, as_of: datetime, size: int = SIZE) -> QueuePage:
    """The page of the queue these filters ask for, with names, reporters and reasons, and the counts per state."""
    waiting = _ordered(connection, plan_id, filters, "waiting")
    returned = _ordered(connection, plan_id, filters, "returned") if filters.state == "returned" else None
    counts = {"waiting": len(waiting), "late": sum(late for _, late in waiting),
              "returned": len(returned) if returned is not None else connection.execute(
                  select(func.count()).select_from(OCC).where(*_where(connection, plan_id, filters, "returned"))
              ).scalar() or 0}
    chosen = returned if returned is not None else [r for r in waiting if filters.state != "late" or r[1]]
    pages = max(1, -(-len(chosen) // size))
    filters = replace(filters, page=min(filters.page, pages))
    ids = [i for i, _ in chosen[(filters.page - 1) * size:filters.page * size]]
    found = {r.id: r for r in connection.execute(_select(
        OCC.c.id, OCC.c.task_id, OCC.c.owner_kind, OCC.c.owner_id, OCC.c.unit_id, OCC.c.due, OCC.c.state,
        OCC.c.reported_at, OCC.c.first_reminder_at, OCC.c.waived_at, OCC.c.superseded_at, OCC.c.value,
        OCC.c.report_count, OCC.c.times, TASK.c.title, TASK.c.ref, TASK.c.target, UNIT.c.name.label("unit_full"),
        UNIT.c.short).where(OCC.c.plan_id == plan_id, OCC.c.id.in_(ids))).all()} if ids else {}
    rows = [found[i] for i in ids if i in found]
    return QueuePage(filters, _rows(connection, plan_id, rows, as_of), len(chosen), pages, counts)


def _rows(connection: Connection, plan_id: str, found: list[Any], as_of: datetime) -> list[dict[str, Any]]:
    ids = [r.id for r in found]
    reporters = _reporters(connection, plan_id, ids)
    people = queries.person_names(connection, plan_id, [*reporters.values(),
                                                        *(r.owner_id for r in found if r.owner_kind == "person")])
    unknown = set(reporters.values()) - people.keys()
    if unknown:  # a unit that reported as a whole (a ledger import, the demo): its name, never its id
        people.update(queries.unit_names(connection, plan_id, unknown))
    reasons = returns(connection, plan_id, [r.id for r in found if r.state in actions.PENDING])
    stamp = utc(as_of)
    rows = []
    for r in found:
        unit_name = r.short or r.unit_full
        status = status_at(state=r.state, due=r.due, first_reminder_at=r.first_reminder_at,
                           reported_at=r.reported_at, waived_at=r.waived_at, as_of=stamp,
                           superseded_at=r.superseded_at)
        owner = f"{people.get(r.owner_id, r.owner_id)}（{unit_name}）" if r.owner_kind == "person" else unit_name
        reporter = reporters.get(r.id)
        rows.append({
            "id": r.id, "task_id": r.task_id, "title": r.title, "ref": r.ref, "unit_id": r.unit_id,
            "unit_name": unit_name, "owner_name": owner,
            "reporter": "" if reporter == r.owner_id else people.get(reporter, reporter or ""),  # the owner: named once
            "due": r.due, "reported_at": r.reported_at, "state": r.state, "status": status,
            "status_name": STATE_LABELS.get(status, status), "late": bool(r.reported_at and r.reported_at > r.due),
            "figure": queries.figure_text(r.value, r.target), "target": queries.target_text(r.target),
            "times": r.times, "report_count": r.report_count, "returned": reasons.get(r.id, ""),
        })
    return rows


def _reporters(connection: Connection, plan_id: str, ids: list[str]) -> dict[str, str]:
    """Occurrence -> the person who made its newest report (one query for the page)."""
    newest: dict[str, tuple[int, str]] = {}
    if ids:
        for row in connection.execute(select(EVENT.c.occurrence_id, EVENT.c.id, EVENT.c.actor).where(
                EVENT.c.plan_id == plan_id, EVENT.c.occurrence_id.in_(ids), EVENT.c.kind == "report")):
            if row.occurrence_id not in newest or newest[row.occurrence_id][0] < row.id:
                newest[row.occurrence_id] = (row.id, row.actor)
    return {i: actor for i, (_, actor) in newest.items()}


def choices(connection: Connection, plan_id: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The unit filter's options (groups first, as 'group:<id>') and the task filter's (clause and title)."""
    groups = [(f"group:{r.id}", f"{r.name}（全部）") for r in connection.execute(
        select(GroupRow.id, GroupRow.name).where(GroupRow.plan_id == plan_id, GroupRow.archived.is_(False))
        .order_by(GroupRow.id))]
    units = sorted(queries.unit_names(connection, plan_id).items(), key=lambda kv: kv[1])
    tasks = [(r.id, f"{r.ref} {r.title}".strip()) for r in connection.execute(
        select(TASK.c.id, TASK.c.ref, TASK.c.title).where(TASK.c.plan_id == plan_id).order_by(TASK.c.position))]
    return groups + units, tasks


def next_waiting(connection: Connection, *, plan_id: str, filters: Filters, after: str) -> str | None:
    """The waiting item that follows `after` in the filtered queue's order (from the top when it was last or
    not in it); None when nothing else waits. Asked before the decision, while `after` still has its place."""
    state = filters.state if filters.state != "returned" else "waiting"
    ids = [i for i, _ in _ordered(connection, plan_id, filters, state)]
    if after in ids:
        at = ids.index(after)
        ids = ids[at + 1:] + ids[:at]
    return ids[0] if ids else None


def landing(following: str | None, filters: Filters, action: str) -> str:
    """Where a decision taken from the queue goes: the next waiting item, or the queue when none is left."""
    if following is None:
        query = filters.query(page=1)
        return f"/queue?{query}&ok={action}" if query != Filters().query() else f"/queue?ok={action}"
    return f"{item_path(following)}?{urlencode({'q': filters.query(page=1), 'done': action})}"


# --- routes -------------------------------------------------------------------------------------------------


def install(app: FastAPI, pages: Pages) -> None:
    """Add GET /queue and POST /queue/verify to the app."""
    db, render, refuse = pages.db, pages.render, pages.refuse

    def office_visit(request: Request) -> tuple[Any, HTMLResponse | None]:
        visit = pages.visit_of(request)
        if visit.actor.office:
            return visit, None
        return visit, refuse(403, "无权查看", "待审核队列只对督办室开放。", visit)

    def show(visit: Any, filters: Filters, *, notice: str = "", error: str = "", status: int = 200,
             checked: Iterable[str] = ()) -> HTMLResponse:
        with db.connect() as connection:
            shown = page(connection, plan_id=visit.plan.id, filters=filters, as_of=pages.clock())
            units, tasks = choices(connection, visit.plan.id)
        return render("queue.html", status, visit, queue=shown, f=shown.filters, units=units, tasks=tasks,
                      states=STATES, sorts=SORTS, item_path=item_path, notice=notice, error=error,
                      checked=set(checked), quote=quote, title="待审核")

    @app.get("/queue", response_class=HTMLResponse)
    def queue(request: Request, ok: str = "", done: int = 0) -> HTMLResponse:
        visit, refused = office_visit(request)
        if refused:
            return refused
        try:
            filters = parse(request.query_params)
            with db.connect() as connection:
                check(connection, visit.plan.id, filters)
        except FilterError as error:
            return refuse(400, "筛选条件有误", str(error), visit)
        notice = f"已审核销号 {done} 项。" if ok == "batch" and done else {
            "verify": "已审核销号。", "reject": "已退回，并通知报告人。"}.get(ok, "")
        return show(visit, filters, notice=notice)

    @app.get("/queue/next")
    def skip(request: Request, after: str = "", q: str = "") -> Response:
        """The item after `after` in the filtered queue, leaving `after` undecided (the item page's 跳过)."""
        visit, refused = office_visit(request)
        if refused:
            return refused
        try:
            filters = parse_query(q)
        except FilterError as error:
            return refuse(400, "筛选条件有误", str(error), visit)
        with db.connect() as connection:
            following = next_waiting(connection, plan_id=visit.plan.id, filters=filters, after=after)
        if following is None:
            return RedirectResponse(f"/queue?{filters.query(page=1)}", status_code=303)
        return RedirectResponse(f"{item_path(following)}?{urlencode({'q': filters.query(page=1)})}", status_code=303)

    @app.post("/queue/verify")
    async def batch_verify(request: Request) -> Response:
        visit, refused = office_visit(request)
        form = await request.form()
        pages.check_csrf(visit, str(form.get("csrf") or ""))
        if refused:
            return refused
        try:
            filters = parse_query(str(form.get("q") or ""))
        except FilterError as error:
            return refuse(400, "筛选条件有误", str(error), visit)
        ids = list(dict.fromkeys(str(v) for k, v in form.multi_items() if k == "id" and isinstance(v, str)))
        problem, status = _batch(visit, ids)
        if problem:
            return show(visit, filters, error=problem, status=status, checked=ids)
        return RedirectResponse(f"/queue?{filters.query()}&ok=batch&done={len(ids)}", status_code=303)

    def _batch(visit: Any, ids: list[str]) -> tuple[str, int]:
        """Verify every id in one transaction; the first refusal undoes them all and is returned (the message,
        naming its item, and the HTTP status)."""
        if not ids:
            return "请先勾选要审核销号的事项。什么也没有改变。", 400
        if len(ids) > BATCH_MAX:
            return f"一次最多审核销号 {BATCH_MAX} 项（勾选了 {len(ids)} 项）。什么也没有改变。", 400
        try:
            with db.begin() as connection:
                events = []
                for occurrence_id in ids:
                    try:
                        outcome = actions.verify(connection=connection, actor=visit.actor,
                                                 occurrence_id=occurrence_id, now=pages.clock(), source="web")
                    except actions.ActionRefused as refused:
                        raise BatchRefused(occurrence_id, str(refused), refused.code) from None
                    events.append(outcome.event_id)
                if pages.replay:
                    _mark_replayed(connection, events)
        except BatchRefused as refused:
            with db.connect() as connection:
                title = connection.execute(_select(TASK.c.title).where(
                    OCC.c.plan_id == visit.plan.id, OCC.c.id == refused.occurrence_id)).scalar()
            named = f"“{title}”（编号 {refused.occurrence_id}）" if title else f"编号“{refused.occurrence_id}”"
            return (f"事项{named}不能销号：{refused.reason}。"
                    f"本次勾选的 {len(ids)} 项均未销号，请处理后重新提交。"), BATCH_STATUS.get(refused.code, 400)
        return "", 200


class BatchRefused(Exception):
    """One item of a batch may not be verified; the whole batch is rolled back."""

    def __init__(self, occurrence_id: str, reason: str, code: str) -> None:
        super().__init__(reason)
        self.occurrence_id, self.reason, self.code = occurrence_id, reason, code
