"""The web pages: my items, an item, the office's queue, the overview; sign-in by personal link; ICS; health.

Plain server-rendered HTML (templates/web/), no JavaScript, made for phones. Every page and form goes through
duban.actions for who may see and do what; this module only translates HTTP to those calls and back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import Engine, select, text, update
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import FileResponse

from duban import actions, evidence, shortlinks
from duban.casework.counts import problem_counts
from duban.config import Settings
from duban.links import ICS_VALID_FOR, LinkError, item_path, read_token, secret_for
from duban.models import EventRow, EvidenceRow, OccurrenceRow
from duban.output import as_ics
from duban.status import STATE_LABELS, STATES
from duban.store import make_engine
from duban.templating import environment
from duban.web import accesslog, queries, queue, sessions, uploads
from duban.web.frontdoor import FrontDoor

STATUS_OF = {"forbidden": 403, "not_found": 404, "conflict": 409, "invalid": 400}
DONE_TEXT = {"ack": "已签收。", "report": "已报告办结，等待督办室审核销号。", "undo": "已撤回报告。",
             "verify": "已审核销号。", "reject": "已退回，并通知报告人。", "waive": "已免办。"}
SIGN_IN_HINT = "请点击督办提醒（邮件或短信）中的个人链接登录。链接只属于您本人，请勿转发。"
CSRF_HINT = "表单缺少安全校验码或已过期，请返回上一页刷新后重新提交。什么也没有改变。"
MINE_LIMIT = 30
SHOWS = {"ack": ("acked",), "report": ("reported", "acked"), "undo": ("open", "acked"), "verify": ("verified",),
         "reject": ("open",), "waive": ("waived",)}
ALL_LIMIT = 300
FORM_LIMIT = 1024 * 1024  # a form without files: notes and reasons are at most 2,000 characters
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
}
FRAMING = {400: ("请求格式有误", "请求同时声明了两种长度，无法处理。什么也没有保存。"),
           411: ("无法提交", "请求缺少长度信息，请用浏览器重新提交。")}


class PageError(Exception):
    """Stop and show a plain Chinese page with this status."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


@dataclass(frozen=True)
class Visit:
    """Who is asking: their session, the rules' view of them, and their plan."""

    session: sessions.Session
    actor: actions.Actor
    plan: queries.PlanInfo


def _multipart(headers: Headers) -> bool:
    return headers.get("content-type", "").lower().startswith("multipart/form-data")


def _safe_next(target: str | None) -> str:
    """Only paths on this site: never //host or a scheme, so a link cannot send people elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def create_app(settings: Settings, now: Callable[[], datetime] | None = None, engine: Engine | None = None,
               replay: bool = False) -> FastAPI:
    """The web app; `now` is the clock (tests pass a fixed one), `engine` an already open store; `replay`: the
    clock is a replayed moment (`duban web --as-of`), said on every page and marked on every action's record."""
    clock = now or (lambda: datetime.now(UTC))
    guard = shortlinks.Guard()
    db = engine or make_engine(settings.database_url)
    secret = secret_for(settings)
    env = environment(settings.templates_dir or None)
    files = evidence.store_for(settings)
    max_bytes = settings.upload_max_mb * 1024 * 1024
    body_limit = evidence.MAX_FILES * max_bytes + 1024 * 1024
    secure_cookie = settings.base_url.startswith("https://")
    css = env.loader.get_source(env, "web/duban.css")[0]  # type: ignore[union-attr]
    app = FastAPI(title="督办", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = db

    def render(name: str, code: int = 200, visit: Visit | None = None, **context: Any) -> HTMLResponse:
        context.setdefault("title", "督办")
        context["replay_at"] = clock() if replay else None
        if visit is not None:
            context.update(me=visit.actor, plan=visit.plan, csrf=visit.session.csrf, tz=visit.plan.tz)
        else:
            context.setdefault("me", None)
            context.setdefault("plan", None)
            context.setdefault("tz", None)  # signed out (an expired link in a replay): no plan, no replay banner
        html = env.get_template(f"web/{name}").render(labels=actions.KIND_LABELS, **context)
        return HTMLResponse(html, status_code=code, headers={"Cache-Control": "no-store"})

    def refuse(status: int, title: str, message: str, visit: Visit | None = None) -> HTMLResponse:
        return render("message.html", status, visit, heading=title, message=message)

    @app.exception_handler(PageError)
    async def page_error(_request: Request, error: PageError) -> HTMLResponse:
        return refuse(error.status, error.title, error.message)

    def too_large() -> HTMLResponse:
        return refuse(413, "文件太大", f"一次提交的文件太大：单个文件不超过 {settings.upload_max_mb} MB，"
                                       f"一次最多 {evidence.MAX_FILES} 个。什么也没有保存。")

    def door_refusal(status: int) -> HTMLResponse:
        return too_large() if status == 413 else refuse(status, *FRAMING[status])

    def body_limit_for(headers: Headers) -> int:
        return body_limit if _multipart(headers) else FORM_LIMIT

    def admit(connection: HTTPConnection) -> Response | None:
        """Every POST needs a session, and a multipart one its CSRF token in the URL: judged before the body."""
        session = sessions.lookup(db, connection.cookies.get(sessions.COOKIE), clock())
        if session is None:
            return refuse(401, "请先登录", SIGN_IN_HINT)
        if _multipart(connection.headers) and not session.csrf_ok(connection.query_params.get("csrf")):
            return refuse(403, "表单已失效", CSRF_HINT)
        connection.scope.setdefault("state", {})["session"] = session
        return None

    app.add_middleware(FrontDoor, limit=body_limit_for, admit=admit, refuse=door_refusal, headers=HEADERS)
    accesslog.install()

    def visit_of(request: Request, required: bool = True) -> Visit | None:
        session = request.scope.get("state", {}).get("session") or sessions.lookup(
            db, request.cookies.get(sessions.COOKIE), clock())
        if session is not None:
            with db.connect() as connection:
                plan = queries.plan_info(connection, session.plan_id)
                try:
                    actor = actions.actor_for(connection, plan_id=session.plan_id, person_id=session.person_id)
                except actions.ActionRefused:
                    plan = None
            if plan is not None:
                return Visit(session, actor, plan)
        if required:
            raise PageError(401, "请先登录", SIGN_IN_HINT)
        return None

    def check_csrf(visit: Visit, offered: str) -> None:
        if not visit.session.csrf_ok(offered):
            raise PageError(403, "表单已失效", CSRF_HINT)

    # --- sign in and out -----------------------------------------------------------------------------------

    @app.get("/login/{token}")
    def login(request: Request, token: str, next: str = "/") -> Response:
        current = visit_of(request, required=False)
        try:
            cookie, _ = sessions.sign_in(db, secret=secret, token=token, now=clock(),
                                         current=current.session if current else None)
        except sessions.LoginRefused as error:
            return refuse(error.status, "链接无法使用", str(error), current)
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(sessions.COOKIE, cookie, max_age=int(sessions.LIFETIME.total_seconds()), path="/",
                            httponly=True, samesite="lax", secure=secure_cookie)
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        visit = visit_of(request)
        check_csrf(visit, csrf)
        sessions.sign_out(db, visit.session, clock())
        response = refuse(200, "已退出登录", "您已退出。此次使用的链接已失效；下次请使用新的提醒链接登录。")
        response.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookie)
        return response

    @app.get("/s/{code}")
    def short_link(request: Request, code: str, next: str = "") -> Response:
        """A short link from an SMS or email: signs its person in and lands on its page (or on `next`, a path on
        this site: an email's item buttons share one code); guessers are refused a while."""
        client = request.client.host if request.client else "?"
        moment = clock()
        if guard.blocked(client, moment):
            return refuse(429, "尝试次数过多", "短时间内打开了太多无效链接，请稍后再试，或使用邮件中的链接。")
        current = visit_of(request, required=False)
        try:
            cookie, _, target = sessions.sign_in_short(db, code=code, now=moment,
                                                       current=current.session if current else None)
        except sessions.LoginRefused as error:
            if error.status == 404:
                guard.missed(client, moment)
            return refuse(error.status, "链接无法使用", str(error), current)
        response = RedirectResponse(_safe_next(next or target), status_code=303)
        response.set_cookie(sessions.COOKIE, cookie, max_age=int(sessions.LIFETIME.total_seconds()), path="/",
                            httponly=True, samesite="lax", secure=secure_cookie)
        return response

    # --- pages ---------------------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request, more: str = "") -> HTMLResponse:
        """The office and leaders land on the overview (总览); everyone else on their own items."""
        visit = visit_of(request, required=False)
        if visit is None:
            return render("home.html", 200)
        if visit.actor.office or visit.actor.leader:
            return overview_page(visit)
        return _mine(visit, more)

    @app.get("/mine", response_class=HTMLResponse)
    def mine(request: Request, more: str = "") -> HTMLResponse:
        return _mine(visit_of(request), more)

    def _mine(visit: Visit, more: str) -> HTMLResponse:
        moment = clock()
        with db.connect() as connection:
            clause = actions.owned_branches(connection, visit.actor)
            rows = queries.item_rows(connection, plan_id=visit.plan.id, clause=clause, as_of=moment,
                                     states=("open", "acked", "reported"))
            waiting = queries.count_reported(connection, visit.plan.id) if visit.actor.office else 0
            queue.mark_returned(connection, visit.plan.id, rows)
        groups = queries.group_mine(rows)
        hidden = {key: 0 if more else max(0, len(rows) - MINE_LIMIT) for key, rows in groups.items()}
        counts = {key: len(rows) for key, rows in groups.items()}
        groups = {key: rows if more else rows[:MINE_LIMIT] for key, rows in groups.items()}
        with db.begin() as connection:
            code = shortlinks.live_feed(connection, plan_id=visit.plan.id, person_id=visit.actor.id, now=moment)
        feed = f"{settings.base_url.rstrip('/')}/ics/{code}.ics"
        return render("mine.html", visit=visit, groups=groups, group_names=dict(queries.GROUPS), hidden=hidden,
                      counts=counts,
                      waiting=waiting, feed=feed, item_path=item_path, title="我的事项")

    @app.get("/item/{occurrence_id:path}", response_class=HTMLResponse)
    def item_page(request: Request, occurrence_id: str, ok: str = "", q: str = "", done: str = "") -> HTMLResponse:
        visit = visit_of(request)
        return _item(visit, occurrence_id, done=ok, q=q, decided=queue.DECIDED.get(done, ""))

    def _item(visit: Visit, occurrence_id: str, done: str = "", error: str = "", status: int = 200,
              form: dict[str, str] | None = None, q: str = "", decided: str = "") -> HTMLResponse:
        moment = clock()
        with db.connect() as connection:
            try:
                item = actions.load_item(connection, plan_id=visit.plan.id, occurrence_id=occurrence_id)
            except actions.ActionRefused as refused:
                return refuse(404, "找不到事项", str(refused), visit)
            if not actions.may_see(visit.actor, item):
                return refuse(403, "无权查看", "这不是您单位的事项，您无权查看或办理。", visit)
            facts = queries.detail(connection, item)
            events = actions.history(connection, plan_id=item.plan_id, occurrence_id=item.id)
            row = queries.item_rows(connection, plan_id=item.plan_id, clause=_only(item.id), as_of=moment)[0]
        can = actions.allowed(visit.actor, item)
        notice = DONE_TEXT[done] if item.state in SHOWS.get(done, ()) else ""  # not once the item moved on
        return render("item.html", status, visit, item=item, row=row, facts=facts, events=events, can=can,
                      notice=notice, error=error, form=form or {}, accept=evidence.ACCEPT,
                      allowed_text=evidence.ALLOWED_TEXT, pictures=evidence.INLINE_TYPES[:-1],
                      max_mb=settings.upload_max_mb, path=item_path(item.id), q=q, decided=decided,
                      state_names=actions.STATE_NAMES, source_names=actions.SOURCE_NAMES, title=facts["title"])

    def _only(occurrence_id: str) -> Any:
        return OccurrenceRow.__table__.c.id == occurrence_id

    @app.post("/do/{action}/{occurrence_id:path}")
    async def act(request: Request, action: str, occurrence_id: str) -> Response:
        """An action; a report's files are streamed to the evidence folder, once the person may make it."""
        visit = await run_in_threadpool(visit_of, request)
        if _multipart(request.headers):
            check_csrf(visit, request.query_params.get("csrf", ""))  # the front door checked it too
            refused = await run_in_threadpool(_refused_now, visit, action, occurrence_id)
            if refused is not None:
                return refused  # before reading the files: they could not be kept anyway
            try:
                received = await uploads.receive(request, store=files, max_bytes=max_bytes,
                                                 take_files=action == "report")
            except uploads.FormError as error:
                return refuse(400, "无法提交", str(error), visit)
        else:
            form = await request.form()
            received = uploads.Received(fields={k: v for k, v in reversed(form.multi_items()) if isinstance(v, str)})
            check_csrf(visit, received.fields.get("csrf", ""))
            if action not in actions.ACTIONS:
                return refuse(404, "没有这个操作", f"没有“{action}”这个操作。", visit)
        try:
            return await run_in_threadpool(_act, visit, action, occurrence_id, received)
        finally:
            received.discard()

    def _refused_now(visit: Visit, action: str, occurrence_id: str) -> Response | None:
        if action not in actions.ACTIONS:
            return refuse(404, "没有这个操作", f"没有“{action}”这个操作。", visit)
        with db.connect() as connection:
            try:
                item = actions.load_item(connection, plan_id=visit.plan.id, occurrence_id=occurrence_id)
            except actions.ActionRefused as refused:
                return _refusal_page(visit, occurrence_id, refused, {})
        problem = actions.refusal(visit.actor, item, action)
        return None if problem is None else _refusal_page(visit, occurrence_id, problem, {})

    def _refusal_page(visit: Visit, occurrence_id: str, refused: Exception, form: dict[str, str]) -> HTMLResponse:
        code = getattr(refused, "code", "invalid")
        if code in ("not_found", "forbidden"):
            return refuse(STATUS_OF[code], "不能办理", str(refused), visit)
        return _item(visit, occurrence_id, error=str(refused), status=STATUS_OF[code], form=form,
                     q=form.get("q", ""))

    def _act(visit: Visit, action: str, occurrence_id: str, received: uploads.Received) -> Response:
        fields = received.fields
        form = {key: fields.get(key, "") for key in ("note", "value", "reason", "q")}
        following = _following(visit, occurrence_id, fields) if fields.get("back") == "queue" else None
        try:
            if received.problem:
                raise evidence.EvidenceError(received.problem)
            kwargs = _arguments(action, form, received.files)
            with db.begin() as connection:
                outcome = actions.ACTIONS[action](connection=connection, actor=visit.actor,
                                                  occurrence_id=occurrence_id, now=clock(), source="web", **kwargs)
                if replay:
                    _mark_replayed(connection, outcome.event_id)
        except (actions.ActionRefused, evidence.EvidenceError) as refused:
            return _refusal_page(visit, occurrence_id, refused, form)
        if fields.get("back") == "queue":  # decided from the queue: on to the next waiting item of the same filters
            return RedirectResponse(queue.landing(following, _filters(fields), action), status_code=303)
        return RedirectResponse(f"{item_path(occurrence_id)}?ok={action}", status_code=303)

    def _filters(fields: dict[str, str]) -> queue.Filters:
        try:
            return queue.parse_query(fields.get("q", ""))
        except queue.FilterError:
            return queue.Filters()  # a mangled filter only loses the filter: the decision itself stands

    def _following(visit: Visit, occurrence_id: str, fields: dict[str, str]) -> str | None:
        with db.connect() as connection:
            return queue.next_waiting(connection, plan_id=visit.plan.id, filters=_filters(fields), after=occurrence_id)

    def _mark_replayed(connection: Any, event_id: int) -> None:
        """A report made on replayed pages says so in its history (its time is the replayed one)."""
        table = EventRow.__table__
        data = connection.execute(select(table.c.data).where(table.c.id == event_id)).scalar_one()
        marked = {**json.loads(data or "{}"), "replay": True}
        connection.execute(update(table).where(table.c.id == event_id).values(
            data=json.dumps(marked, ensure_ascii=False, sort_keys=True)))

    def _arguments(action: str, form: dict[str, str], uploaded: list[evidence.Upload]) -> dict[str, Any]:
        if action == "reject":
            return {"reason": form["reason"], "base_url": settings.base_url, "quiet_hours": settings.quiet_hours}
        if action == "waive":
            return {"reason": form["reason"]}
        kwargs: dict[str, Any] = {"note": form["note"]}
        if action == "report":
            kwargs.update(value=form["value"], files=uploaded, store=files)
        return kwargs

    @app.get("/all", response_class=HTMLResponse)
    def overview(request: Request, unit: str = "", status: str = "", task: str = "") -> HTMLResponse:
        """What the person may see (everything, for the office and leaders; their unit's, for its head and
        in_charge; else their own), filtered by unit, task and status: where roll-up messages link to."""
        visit = visit_of(request)
        sees_all = visit.actor.office or visit.actor.leader
        with db.connect() as connection:
            rows = queries.item_rows(connection, plan_id=visit.plan.id, as_of=clock(),
                                     clause=actions.visible_branches(connection, visit.actor))
            units = queries.unit_names(connection, visit.plan.id)
            problems = problem_counts(connection, plan_id=visit.plan.id, as_of=clock()) if sees_all else None
        chosen = [r for r in rows if (not unit or r["unit_id"] == unit) and (not task or r["task_id"] == task)
                  and (not status or r["status"] == status or (status == "waiting" and r["state"] == "reported"))]
        with db.connect() as connection:
            queue.mark_returned(connection, visit.plan.id, chosen[:ALL_LIMIT])
        statuses = [(s, STATE_LABELS[s]) for s in STATES] + [("waiting", "待销号")]
        return render("all.html", visit=visit, rows=chosen[:ALL_LIMIT], more=max(0, len(chosen) - ALL_LIMIT),
                      total=len(chosen), sees_all=sees_all, units=units, unit=unit, status=status, statuses=statuses,
                      item_path=item_path, problems=problems,
                      title="全部事项" if sees_all else "本单位事项")

    # --- files, feeds, health --------------------------------------------------------------------------------

    @app.get("/evidence/{evidence_id}")
    def evidence_file(request: Request, evidence_id: int) -> Response:
        visit = visit_of(request)
        table = EvidenceRow.__table__
        with db.connect() as connection:
            row = connection.execute(select(table).where(table.c.id == evidence_id,
                                                         table.c.plan_id == visit.plan.id)).first()
            item = None if row is None else actions.load_item(connection, plan_id=row.plan_id,
                                                              occurrence_id=row.occurrence_id)
        if row is None or item is None:
            return refuse(404, "找不到文件", "没有这个佐证材料。", visit)
        if not actions.may_see(visit.actor, item):
            return refuse(403, "无权查看", "这份材料属于其他单位的事项，您无权查看。", visit)
        path = files.path(row.sha256)
        if not path.is_file():
            return refuse(404, "找不到文件", "材料文件不在服务器上，请联系督办室。", visit)
        return FileResponse(path, media_type=row.content_type, headers={
            "Content-Disposition": evidence.content_disposition(row.name, row.content_type),
            "Content-Security-Policy": "default-src 'none'; sandbox", "Cache-Control": "private, no-store"})

    @app.get("/ics/{token}.ics")
    def calendar_feed(token: str) -> Response:
        """A person's calendar: a feed code (`/ics/<code>.ics`) or an older signed feed link, until revoked."""
        moment = clock()
        with db.begin() as connection:
            try:
                plan_id, person_id = _feed_owner(connection, token, moment)
            except (LinkError, shortlinks.ShortLinkError) as error:
                return Response(f"{error}\n", status_code=403, media_type="text/plain; charset=utf-8")
            plan = queries.plan_info(connection, plan_id)
            try:
                actor = actions.actor_for(connection, plan_id=plan_id, person_id=person_id)
            except actions.ActionRefused as refused:
                return Response(f"{refused}\n", status_code=403, media_type="text/plain; charset=utf-8")
            rows = queries.item_rows(connection, plan_id=plan_id, as_of=moment,
                                     clause=actions.owned_branches(connection, actor))
        body = as_ics(queries.ics_rows(rows, plan.tz), plan_id, moment,  # type: ignore[union-attr]
                      name=f"督办：{actor.name}的事项")
        return Response(body, media_type="text/calendar; charset=utf-8",
                        headers={"Content-Disposition": 'inline; filename="duban.ics"'})

    def _feed_owner(connection: Any, token: str, moment: datetime) -> tuple[str, str]:
        if "." not in token:
            link = shortlinks.resolve(connection, token, now=moment, purpose="ics")
            return link.plan_id, link.person_id
        claims = read_token(secret=secret, token=token, now=moment, purpose="ics")
        revoked = shortlinks.revoked_since(connection, plan_id=claims.plan_id, person_id=claims.person_id,
                                           purpose="ics")
        if revoked is not None and claims.expires - ICS_VALID_FOR <= revoked:
            raise LinkError("日历订阅已由本人停用，请在“我的事项”页面重新订阅")
        return claims.plan_id, claims.person_id

    @app.post("/ics/revoke")
    def revoke_feed(request: Request, csrf: str = Form("")) -> Response:
        """Stop the person's calendar feeds (every address given out so far); the next visit shows a new one."""
        visit = visit_of(request)
        check_csrf(visit, csrf)
        moment = clock()
        with db.begin() as connection:
            shortlinks.revoke_feeds(connection, plan_id=visit.plan.id, person_id=visit.actor.id, now=moment)
        return refuse(200, "日历订阅已停用", "您此前订阅的日历地址已全部停用。"
                      "如需重新订阅，请回到“我的事项”页面复制新的地址。", visit)

    @app.get("/health")
    def health() -> JSONResponse:
        try:
            with db.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:  # health reports any failure instead of raising
            return JSONResponse({"status": "error", "database": type(error).__name__}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @app.get("/static/duban.css")
    def stylesheet() -> Response:
        return Response(css, media_type="text/css; charset=utf-8", headers={"Cache-Control": "public, max-age=3600"})

    from duban.web import casework  # 交办 and 延期 pages (issue 15)

    pages = casework.Pages(db, render, refuse, visit_of, check_csrf, clock, replay)
    casework.install(app, pages)
    from duban.web import overview as leaders  # the leaders' overview, where the office and leaders land (issue 10)

    overview_page = leaders.install(app, pages)
    queue.install(app, pages)  # the office's 待审核 queue (issue 10)
    return app
