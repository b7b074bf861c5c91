"""Web pages for casework: the office hands out an item (交办), an owner asks for an extension (延期申请), the
office grants or refuses it, and the office's list of requests waiting. Wired into the app by `install`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine, and_, select, update

from duban import actions
from duban.casework.assign import Assignment, hand_out
from duban.casework.extension import KINDS, decide_extension, pending_request, request_extension
from duban.casework.plan import load_setup, local_day
from duban.links import item_path
from duban.models import EventRow, OccurrenceRow, TaskRow

FIELDS = ("title", "owner", "due", "ref", "evidence", "note")


@dataclass(frozen=True)
class Pages:
    """What the app lends these pages: the store, its renderers, who is visiting, the CSRF check, the clock."""

    db: Engine
    render: Callable[..., HTMLResponse]
    refuse: Callable[..., HTMLResponse]
    visit_of: Callable[..., Any]
    check_csrf: Callable[[Any, str], None]
    clock: Callable[[], datetime]
    replay: bool = False  # the clock is a replayed moment: events made here are marked 回放, as the loop's are


def _mark_replayed(connection: Any, event_ids: list[int]) -> None:
    """Events made on replayed pages say so in their data (their time is the replayed one)."""
    table = EventRow.__table__
    for event_id, data in connection.execute(select(table.c.id, table.c.data).where(table.c.id.in_(event_ids))):
        marked = {**json.loads(data or "{}"), "replay": True}
        connection.execute(update(table).where(table.c.id == event_id).values(
            data=json.dumps(marked, ensure_ascii=False, sort_keys=True)))


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise actions.ActionRefused(f"{field}：请填写日期（例如 2020-10-20）", "invalid") from None


def _owners(setup: Any) -> list[tuple[str, str]]:
    catalog = setup.catalog
    return ([(f"group:{g.id}", f"{g.name}（{len(g.members)} 个单位）") for g in catalog.groups.values()]
            + [(u.id, u.name) for u in catalog.units.values()])


async def _fields(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name) or "") for name in (*names, "csrf", "decision")}


def install(app: FastAPI, pages: Pages) -> None:
    """Add the casework routes to the app."""
    db, render, refuse = pages.db, pages.render, pages.refuse

    def office_visit(request: Request) -> Any:
        visit = pages.visit_of(request)
        if visit.actor.office:
            return visit, None
        return visit, refuse(403, "无权办理", "交办事项和延期审批只对督办室开放。", visit)

    def assign_page(visit: Any, form: dict[str, str], error: str = "", done: list[str] | None = None,
                    status: int = 200) -> HTMLResponse:
        with db.connect() as connection:
            setup = load_setup(connection, visit.plan.id)
        return render("assign.html", status, visit, owners=_owners(setup), form=form, error=error, done=done or [],
                      item_path=item_path, title="交办事项")

    @app.get("/assign", response_class=HTMLResponse)
    def assign_form(request: Request) -> HTMLResponse:
        visit, refused = office_visit(request)
        return refused or assign_page(visit, {})

    @app.post("/assign")
    async def assign(request: Request) -> Response:
        visit, refused = office_visit(request)
        form = await _fields(request, FIELDS)
        pages.check_csrf(visit, form["csrf"])
        if refused:
            return refused
        try:
            wanted = Assignment(form["title"], form["owner"], _day(form["due"], "due"), form["ref"],
                                form["evidence"], form["note"])
            with db.begin() as connection:
                ids = hand_out(connection, setup=load_setup(connection, visit.plan.id), actor=visit.actor,
                               assignment=wanted, now=pages.clock(), source="web")
                if pages.replay:
                    _mark_replayed(connection, list(connection.execute(select(EventRow.id).where(
                        EventRow.plan_id == visit.plan.id, EventRow.occurrence_id.in_(ids),
                        EventRow.kind == "assign")).scalars()))
        except actions.ActionRefused as error:
            return assign_page(visit, form, error=str(error), status=400)
        return assign_page(visit, {}, done=ids)

    def extend_page(visit: Any, occurrence_id: str, error: str = "", notice: str = "", status: int = 200,
                    form: dict[str, str] | None = None) -> HTMLResponse:
        with db.connect() as connection:
            try:
                item = actions.load_item(connection, plan_id=visit.plan.id, occurrence_id=occurrence_id)
            except actions.ActionRefused as refused:
                return refuse(404, "找不到事项", str(refused), visit)
            if not actions.may_see(visit.actor, item):
                return refuse(403, "无权查看", "这不是您单位的事项，您无权查看或办理。", visit)
            setup = load_setup(connection, visit.plan.id)
            asked = pending_request(connection, plan_id=item.plan_id, occurrence_id=item.id)
            title = connection.execute(select(TaskRow.title).where(
                TaskRow.plan_id == item.plan_id, TaskRow.id == item.task_id)).scalar() or item.task_id
            original = connection.execute(select(OccurrenceRow.original_due).where(
                OccurrenceRow.plan_id == item.plan_id, OccurrenceRow.id == item.id)).scalar()
            events = [e for e in actions.history(connection, plan_id=item.plan_id, occurrence_id=item.id)
                      if e["kind"] in KINDS]
        may_ask = actions.owns(visit.actor, item) and item.state in actions.PENDING and not item.archived
        return render("extend.html", status, visit, item=item, title=title, asked=asked, events=events,
                      original=original, may_ask=may_ask and asked is None, may_decide=visit.actor.office,
                      due_day=local_day(setup, item.due), error=error, notice=notice, form=form or {},
                      path=item_path(item.id))

    @app.get("/extend/{occurrence_id:path}", response_class=HTMLResponse)
    def extend_form(request: Request, occurrence_id: str, ok: str = "") -> HTMLResponse:
        notice = {"asked": "延期申请已提交，等待督办室审批。", "grant": "已同意延期，截止时间已调整。",
                  "refuse": "已不同意延期，并记录理由。"}.get(ok, "")
        return extend_page(pages.visit_of(request), occurrence_id, notice=notice)

    @app.post("/extend/{occurrence_id:path}")
    async def extend(request: Request, occurrence_id: str) -> Response:
        visit = pages.visit_of(request)
        form = await _fields(request, ("until", "reason", "note"))
        pages.check_csrf(visit, form["csrf"])
        try:
            with db.begin() as connection:
                setup = load_setup(connection, visit.plan.id)
                if form["decision"] in ("grant", "refuse"):
                    event = decide_extension(connection, setup=setup, actor=visit.actor,
                                             occurrence_id=occurrence_id, grant=form["decision"] == "grant",
                                             note=form["note"], now=pages.clock(), source="web")
                else:
                    event = request_extension(connection, setup=setup, actor=visit.actor,
                                              occurrence_id=occurrence_id, until=_day(form["until"], "until"),
                                              reason=form["reason"], now=pages.clock(), source="web")
                if pages.replay:
                    _mark_replayed(connection, [event])
        except actions.ActionRefused as error:
            code = {"forbidden": 403, "not_found": 404, "conflict": 409}.get(error.code, 400)
            return extend_page(visit, occurrence_id, error=str(error), status=code, form=form)
        done = form["decision"] if form["decision"] in ("grant", "refuse") else "asked"
        return RedirectResponse(f"/extend{item_path(occurrence_id)[5:]}?ok={done}", status_code=303)

    @app.get("/extensions", response_class=HTMLResponse)
    def extensions(request: Request) -> HTMLResponse:
        visit, refused = office_visit(request)
        if refused:
            return refused
        event, task, occ = EventRow.__table__, TaskRow.__table__, OccurrenceRow.__table__
        with db.connect() as connection:
            ids = connection.execute(select(event.c.occurrence_id).where(
                event.c.plan_id == visit.plan.id, event.c.kind == "extend_request").distinct()).scalars().all()
            waiting = [(i, pending_request(connection, plan_id=visit.plan.id, occurrence_id=i)) for i in ids]
            waiting = [(i, asked) for i, asked in waiting if asked]
            titles = dict(connection.execute(select(occ.c.id, task.c.title).join(
                task, and_(task.c.plan_id == occ.c.plan_id, task.c.id == occ.c.task_id)).where(
                occ.c.plan_id == visit.plan.id, occ.c.id.in_([i for i, _ in waiting]))).all()) if waiting else {}
        return render("extensions.html", visit=visit, waiting=waiting, titles=titles, item_path=item_path,
                      title="延期审批")
