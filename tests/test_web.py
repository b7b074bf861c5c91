"""The web app over HTTP: every route, every permission rule; each refusal changes nothing."""

import asyncio
import io
import re
import warnings
import zipfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import Clock, at
from sqlalchemy import create_engine, select

from duban.links import item_path, make_token
from duban.models import EventRow, EvidenceRow, LinkUseRow, OccurrenceRow, WebSessionRow
from duban.web import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PLAN = "mini-2020"
STARTED = "projects-started/shuangjiang/2020-09-01"
VISIT = "visits/sj-cadre-1/2020-09-01"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64




class Web:
    """The app on the test store, with a hand-moved clock and helpers to sign people in."""

    def __init__(self, settings, engine, snapshot):
        self.settings, self.engine, self.snapshot = settings, engine, snapshot
        self.clock = Clock(at("2020-09-14 10:00"))
        self.app = create_app(settings, now=self.clock, engine=engine)

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="http://testserver")

    def token(self, person, **kwargs):
        kwargs.setdefault("now", self.clock.now)
        return make_token(secret=self.settings.secret, person_id=person, plan_id=PLAN, **kwargs)

    def login(self, person) -> TestClient:
        client = self.client()
        response = client.get(f"/login/{self.token(person)}", follow_redirects=False)
        assert response.status_code == 303, response.text
        return client

    def state(self, occurrence_id=STARTED):
        with self.engine.connect() as connection:
            return connection.execute(select(OccurrenceRow.state).where(OccurrenceRow.id == occurrence_id)).scalar()


def csrf(client, path="/"):
    page = client.get(path)
    return BeautifulSoup(page.text, "html.parser").find("input", {"name": "csrf"})["value"]


def post(client, action, occurrence_id=STARTED, token=None, files=None, **fields):
    """A form as the pages send it: a multipart one (with files) carries its CSRF token in the URL."""
    token = token if token is not None else csrf(client, item_path(occurrence_id))
    if files:  # the form field is ignored (it comes with the body); kept so old code can be tried too
        return client.post(f"/do/{action}/{occurrence_id}", params={"csrf": token}, data={"csrf": token, **fields},
                           files=files, follow_redirects=False)
    return client.post(f"/do/{action}/{occurrence_id}", data={"csrf": token, **fields}, follow_redirects=False)


def text_of(response):
    return " ".join(BeautifulSoup(response.text, "html.parser").get_text(" ").split())


@pytest.fixture
def store_url(tmp_path):
    """HTTP tests run on SQLite; the rules' SQL runs on both stores in test_actions.py, and the loop over HTTP
    on PostgreSQL in test_the_loop_over_http_on_postgres below."""
    return f"sqlite:///{tmp_path / 'duban.sqlite'}"


@pytest.fixture
def web(mini_store, loop_settings, snapshot):
    return Web(loop_settings, mini_store, lambda: snapshot(mini_store))


def unchanged(web, response, status, words=""):
    """Assert a refusal: the status, a Chinese message, and (checked by the caller's snapshot) no change."""
    assert response.status_code == status, response.text[:500]
    if words:
        assert words in text_of(response)


# --- signing in ------------------------------------------------------------------------------------------------

def test_home_asks_for_the_personal_link(web):
    page = web.client().get("/")
    assert page.status_code == 200 and "个人链接" in text_of(page)
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["referrer-policy"] == "no-referrer"


def test_login_sets_a_safe_cookie_and_a_server_side_session(web):
    client = web.client()
    response = client.get(f"/login/{web.token('sj-head')}?next={item_path(STARTED)}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == item_path(STARTED)
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    with web.engine.connect() as connection:
        sessions = connection.execute(select(WebSessionRow.__table__)).all()
    assert [(s.person_id, s.ended_at) for s in sessions] == [("sj-head", None)]
    assert client.cookies["duban_session"] not in {s.id for s in sessions}  # only the hash is stored
    assert "钱书记" in text_of(client.get("/"))


def test_cookie_is_secure_behind_https(mini_store, loop_settings):
    web = Web(replace(loop_settings, base_url="https://duban.example.gov.cn"), mini_store, None)
    response = web.client().get(f"/login/{web.token('sj-head')}", follow_redirects=False)
    assert "Secure" in response.headers["set-cookie"]


@pytest.mark.parametrize("target", ["//evil.example.com/x", "https://evil.example.com", "/\\evil.example.com"])
def test_login_never_redirects_off_site(web, target):
    response = web.client().get(f"/login/{web.token('sj-head')}", params={"next": target}, follow_redirects=False)
    assert response.headers["location"] == "/"


def test_bad_links_are_refused_and_change_nothing(web):
    before = web.snapshot()
    good = web.token("sj-head")
    payload, signature = good.split(".")
    forged_payload = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    cases = {
        "expired": (web.token("sj-head", now=web.clock.now - timedelta(days=15)), "过期"),
        "tampered": (f"{forged_payload}.{signature}", "无效"),
        "forged": (make_token(secret="not-ours", person_id="office-head", plan_id=PLAN, now=web.clock.now), "无效"),
        "garbage": ("abc.def", "无效"),
        "unicode": ("载荷.签名", "无效"),
        "wrong purpose": (web.token("sj-head", purpose="ics"), "用途"),
        "unknown person": (web.token("nobody"), "通讯录"),
        "other plan": (make_token(secret=web.settings.secret, person_id="sj-head", plan_id="other", now=web.clock.now),
                       "方案"),
    }
    for name, (token, words) in cases.items():
        client = web.client()
        response = client.get(f"/login/{token}", follow_redirects=False)
        assert response.status_code == 403, name
        assert words in text_of(response), name
        assert "duban_session" not in response.headers.get("set-cookie", ""), name
        assert client.get("/queue").status_code == 401
    assert web.snapshot() == before


def test_another_persons_link_does_not_switch_identity(web):
    client = web.login("sj-head")
    before = web.snapshot()
    response = client.get(f"/login/{web.token('office-head')}", follow_redirects=False)
    unchanged(web, response, 403, "另一位同志")
    assert web.snapshot() == before
    assert client.get("/queue").status_code == 403  # still sj-head, not the office


def test_logout_ends_the_session_and_the_link(web):
    token = web.token("sj-head")
    client = web.client()
    client.get(f"/login/{token}")
    cookie = client.cookies["duban_session"]
    assert client.post("/logout", data={"csrf": csrf(client)}).status_code == 200
    with web.engine.connect() as connection:
        assert connection.execute(select(WebSessionRow.ended_at)).scalar() is not None
        assert connection.execute(select(LinkUseRow.revoked_at)).scalar() is not None
    replay = web.client()
    replay.cookies.set("duban_session", cookie)
    assert replay.get(item_path(STARTED)).status_code == 401  # the old cookie signs nobody in
    before = web.snapshot()
    again = web.client().get(f"/login/{token}", follow_redirects=False)
    unchanged(web, again, 403, "失效")
    assert web.snapshot() == before
    assert web.client().get(f"/login/{web.token('sj-head')}", follow_redirects=False).status_code == 303


def test_logout_needs_the_csrf_token(web):
    client = web.login("sj-head")
    before = web.snapshot()
    assert client.post("/logout", data={}).status_code == 403
    assert web.snapshot() == before


def test_pages_need_a_session(web):
    client = web.client()
    for path in ("/queue", "/all", item_path(STARTED), "/evidence/1"):
        response = client.get(path)
        assert response.status_code == 401 and "个人链接" in text_of(response), path
    before = web.snapshot()
    assert client.post(f"/do/ack/{STARTED}", data={"csrf": "x"}).status_code == 401
    assert web.snapshot() == before


# --- my items and an item --------------------------------------------------------------------------------------

def test_my_items_are_grouped_with_chinese_deadlines(web):
    web.clock.now = at("2020-09-30 10:00")
    page = web.login("sj-head").get("/")
    soup = BeautifulSoup(page.text, "html.parser")
    groups = {section.h2.get_text(" ", strip=True).split()[0]: [a.select_one(".title").get_text() for a in
              section.select("li a")] for section in soup.select("section.group")}
    assert groups["逾期"] == ["所有扶贫项目全面开工"]
    assert groups["临近"] == ["送教上门"] and groups["以后"] == ["送教上门"]
    assert "2020年9月15日（星期二）" in page.text and "条款 二（二）3" in page.text
    assert "结对帮扶干部开展帮扶联系" not in page.text  #周干部's own item, not the unit's
    assert "县委、县政府专题研究" not in page.text  # another unit's
    cadre = web.login("sj-cadre-1").get("/")
    assert "结对帮扶干部开展帮扶联系" in cadre.text and "临近" in text_of(cadre)


def test_item_page_shows_details_history_and_the_right_buttons(web):
    client = web.login("sj-head")
    page = client.get(item_path(STARTED))
    words = text_of(page)
    for expected in ("所有扶贫项目全面开工", "双江街道", "2020年9月15日（星期二）", "开工率 ≥ 100%", "二（二）3",
                     "县扶贫办", "办理记录"):
        assert expected in words, expected
    soup = BeautifulSoup(page.text, "html.parser")
    actions = [f["action"].partition("?")[0] for f in soup.select("section.actions form")]
    assert actions == [f"/do/ack/{STARTED}", f"/do/report/{STARTED}"]
    leader = web.login("leaders-head").get(item_path(STARTED))
    assert leader.status_code == 200 and not BeautifulSoup(leader.text, "html.parser").select("section.actions form")


def test_sign_for_and_report_with_evidence(web):
    client = web.login("sj-head")
    response = post(client, "ack")
    assert response.status_code == 303 and response.headers["location"] == f"{item_path(STARTED)}?ok=ack"
    assert web.state() == "acked"
    web.clock.now = at("2020-09-15 16:00")
    response = post(client, "report", note="全部开工", value="100%",
                    files=[("upload", ("开工 照片.png", PNG, "image/png")),
                           ("upload", ("纪要.pdf", PDF, "application/pdf"))])
    assert response.status_code == 303
    assert web.state() == "reported"
    page = client.get(response.headers["location"])
    words = text_of(page)
    assert "已报告办结" in words and "全部开工" in words and "数值：100%（达标）" in words
    links = BeautifulSoup(page.text, "html.parser").select("ul.files a:not(.thumb)")
    assert [a.get_text() for a in links] == ["开工 照片.png", "纪要.pdf"]
    assert BeautifulSoup(page.text, "html.parser").select_one("a.thumb img")["src"] == links[0]["href"]
    file = client.get(links[1]["href"])
    assert file.status_code == 200 and file.content == PDF and file.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''%E7%BA%AA%E8%A6%81.pdf" in file.headers["content-disposition"]
    with web.engine.connect() as connection:
        kinds = [(e.kind, e.source, e.actor) for e in connection.execute(select(EventRow).where(
            EventRow.occurrence_id == STARTED).order_by(EventRow.id))]
    assert kinds == [("ack", "web", "sj-head"), ("report", "web", "sj-head")]
    assert BeautifulSoup(page.text, "html.parser").select_one(f"form[action='/do/undo/{STARTED}']")


def test_report_form_errors_keep_what_was_typed(web):
    client = web.login("sj-head")
    before = web.snapshot()
    response = post(client, "report", note="还差两个项目")
    assert response.status_code == 400
    assert "请填写开工率" in text_of(response) and "还差两个项目" in response.text
    assert web.snapshot() == before


def test_undo_from_the_web(web):
    client = web.login("sj-cadre-1")
    post(client, "report", VISIT, note="走访")
    assert web.state(VISIT) == "reported"
    assert post(client, "undo", VISIT).status_code == 303
    assert web.state(VISIT) == "open"


def test_double_submit_is_a_conflict_not_an_error(web):
    client = web.login("sj-head")
    token = csrf(client, item_path(STARTED))
    assert post(client, "ack", token=token).status_code == 303
    before = web.snapshot()
    again = post(client, "ack", token=token)
    unchanged(web, again, 409, "不能签收")
    assert web.snapshot() == before


# --- the office and leaders ------------------------------------------------------------------------------------

def test_office_queue_verify_and_reject(web):
    town = web.login("sj-head")
    post(town, "report", value="100", files=[("upload", ("a.pdf", PDF, "application/pdf"))])
    office = web.login("office-liaison")
    queue = office.get("/queue")
    assert queue.status_code == 200 and "所有扶贫项目全面开工" in queue.text and "钱书记" in text_of(queue)
    web.clock.now = at("2020-09-16 09:00")
    before = web.snapshot()
    unchanged(web, post(office, "reject", reason=""), 400, "退回原因")
    assert web.snapshot() == before
    assert post(office, "reject", reason="照片看不清").status_code == 303
    assert web.state() == "open"
    assert "照片看不清" in text_of(town.get(item_path(STARTED)))
    post(town, "report", value="100")
    response = post(office, "verify", back="queue")
    assert response.status_code == 303 and response.headers["location"] == "/queue?ok=verify"
    assert web.state() == "verified" and "没有等待审核的报告" in text_of(office.get("/queue"))


def test_office_waives_with_a_reason(web):
    office = web.login("office-head")
    assert post(office, "waive", "teaching/qinglong/2020-09-28", reason="国庆假期停课").status_code == 303
    assert web.state("teaching/qinglong/2020-09-28") == "waived"


def test_overview_for_the_office_and_leaders_only(web):
    web.clock.now = at("2020-10-20 10:00")
    for person in ("office-liaison", "leaders-head"):
        page = web.login(person).get("/all")
        assert page.status_code == 200 and "全部事项" in page.text and 'href="/overview"' in page.text
    filtered = web.login("leaders-head").get("/all", params={"unit": "qinglong", "status": "overdue"})
    titles = {t.get_text() for t in BeautifulSoup(filtered.text, "html.parser").select("ul.rows .title")}
    assert titles == {"所有扶贫项目全面开工", "送教上门", "结对帮扶干部开展帮扶联系"}
    town = web.login("sj-head")
    unchanged(web, town.get("/overview"), 403, "总览只对督办室和领导开放")
    # /all lists what a person may see: a town's head their unit's items, their people's too, no other unit's
    mine = town.get("/all", params={"status": "overdue"})
    assert mine.status_code == 200 and "本单位事项" in text_of(mine)
    assert "周干部" in text_of(mine) and "所有扶贫项目全面开工" in text_of(mine)
    assert not BeautifulSoup(town.get("/all", params={"unit": "qinglong"}).text, "html.parser").select("ul.rows li")
    unchanged(web, town.get("/queue"), 403, "待审核队列只对督办室开放")
    unchanged(web, web.login("leaders-head").get("/queue"), 403)


# --- refusals ------------------------------------------------------------------------------------------------

def test_another_unit_can_neither_see_nor_act(web):
    other = web.login("ql-head")
    unchanged(web, other.get(item_path(STARTED)), 403, "无权")
    token = csrf(other)
    before = web.snapshot()
    for action, fields in (("ack", {}), ("report", {"value": "100"}), ("undo", {}), ("verify", {}),
                           ("reject", {"reason": "x"}), ("waive", {"reason": "x"})):
        unchanged(web, post(other, action, token=token, **fields), 403)
    assert web.snapshot() == before


def test_leaders_read_but_do_not_act(web):
    leader = web.login("leaders-head")
    before = web.snapshot()
    unchanged(web, post(leader, "ack"), 403, "责任单位")
    unchanged(web, post(leader, "waive", reason="x"), 403, "督办室")
    assert web.snapshot() == before


def test_forms_need_the_csrf_token(web):
    client = web.login("sj-head")
    other = web.login("sj-in-charge")
    before = web.snapshot()
    unchanged(web, client.post(f"/do/ack/{STARTED}", data={}), 403, "安全校验")
    unchanged(web, client.post(f"/do/ack/{STARTED}", data={"csrf": csrf(other)}), 403)  # another session's
    assert web.snapshot() == before


def _docx_lookalike():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.exe", b"MZ")
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "content", "words"), [
    ("通知.pdf", b"MZ\x90\x00\x03" + b"\0" * 200, "内容与扩展名不符"),  # an .exe renamed .pdf
    ("setup.exe", b"MZ\x90\x00\x03", "类型不能作为佐证材料"),
    ("报告.docx", _docx_lookalike(), "内容与扩展名不符"),  # a zip renamed .docx
    ("../../etc/passwd", PDF, "路径"),
    ("..\\..\\boot.pdf", PDF, "路径"),
    ("big.pdf", b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 10), "太大"),  # the test limit is 1 MB
    ("empty.pdf", b"", "空文件"),
])
def test_bad_uploads_are_refused_and_nothing_is_kept(web, name, content, words):
    client = web.login("sj-head")
    token = csrf(client, item_path(STARTED))
    before = web.snapshot()
    response = post(client, "report", token=token, value="100", files=[("upload", (name, content, "application/pdf"))])
    unchanged(web, response, 400, words)
    assert web.snapshot() == before
    evidence_dir = web.settings.var_path / "evidence"
    assert not evidence_dir.exists() or not any(p.is_file() for p in evidence_dir.rglob("*"))


def test_an_oversized_request_is_refused_before_reading(web):
    client = web.login("sj-head")
    token = csrf(client, item_path(STARTED))
    before = web.snapshot()
    files = [("upload", (f"{n}.pdf", b"%PDF-" + b"0" * (1024 * 1024), "application/pdf")) for n in range(11)]
    unchanged(web, post(client, "report", token=token, value="100", files=files), 413, "太大")
    assert web.snapshot() == before


def test_body_bytes_past_the_limit_are_refused_as_they_arrive(web):
    """Even from a server that would not hold a body to its Content-Length (uvicorn does), the app takes no
    more than the limit: the bytes are counted as they arrive (a form without files: 1 MB)."""
    client = web.login("sj-head")
    token = csrf(client, item_path(STARTED))
    chunks = [f"csrf={token}&note=".encode()] + [b"x" * 65536] * 40  # 2.5 MB behind "Content-Length: 100"
    taken, messages = [], []

    async def receive():
        if not chunks:
            return {"type": "http.disconnect"}
        taken.append(len(chunks[0]))
        return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}

    async def send(message):
        messages.append(message)

    headers = [(b"host", b"testserver"), (b"content-type", b"application/x-www-form-urlencoded"),
               (b"content-length", b"100"), (b"cookie", f"duban_session={client.cookies['duban_session']}".encode())]
    path = f"/do/ack/{STARTED}"
    before = web.snapshot()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": headers,
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    asyncio.run(web.app(scope, receive, send))
    assert messages[0]["status"] == 413 and sum(taken) <= 1024 * 1024 + 65536
    assert web.snapshot() == before


def test_a_form_is_not_a_place_to_store_text(web):
    """Text fields are held in memory while a form is read: 1 MB in all, whatever their names."""
    client = web.login("sj-head")
    before = web.snapshot()
    padding = {f"extra{n}": "x" * 60_000 for n in range(20)}  # 1.2 MB of fields nobody asked for
    response = post(client, "report", value="100", files=[("upload", ("a.pdf", PDF, "application/pdf"))], **padding)
    unchanged(web, response, 400, "太长")
    assert web.snapshot() == before


def test_evidence_is_served_only_to_those_who_may_see_the_item(web):
    post(web.login("sj-head"), "report", value="100", files=[("upload", ("a.pdf", PDF, "application/pdf"))])
    with web.engine.connect() as connection:
        evidence_id = connection.execute(select(EvidenceRow.id)).scalar()
    assert web.login("office-liaison").get(f"/evidence/{evidence_id}").status_code == 200
    assert web.login("leaders-head").get(f"/evidence/{evidence_id}").status_code == 200
    refused = web.login("ql-head").get(f"/evidence/{evidence_id}")
    assert refused.status_code == 403 and refused.content != PDF
    assert web.login("ql-head").get("/evidence/999").status_code == 404


def test_unknown_items_and_actions(web):
    client = web.login("sj-head")
    assert client.get(item_path("no/such/item")).status_code == 404
    assert post(client, "explode", token=csrf(client)).status_code == 404
    assert post(client, "ack", "no/such/item", token=csrf(client)).status_code == 404


# --- feeds and health ------------------------------------------------------------------------------------------

def test_calendar_feed(web):
    client = web.client()
    feed = client.get(f"/ics/{web.token('sj-head', purpose='ics', valid_for=timedelta(days=400))}.ics")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    body = feed.text.replace("\r\n ", "")
    assert body.count("BEGIN:VEVENT") == 3 and "所有扶贫项目全面开工" in body and "DTSTART;VALUE=DATE:20200915" in body
    assert client.get(f"/ics/{web.token('sj-head')}.ics").status_code == 403  # a login token is not a feed token
    assert client.get("/ics/abc.def.ics").status_code == 403
    link = BeautifulSoup(web.login("sj-head").get("/").text, "html.parser").find("a", string=re.compile("订阅"))
    assert client.get(link["href"].removeprefix("http://testserver")).status_code == 200


def test_health(web, loop_settings):
    assert web.client().get("/health").json() == {"status": "ok", "database": "ok"}
    broken = create_app(loop_settings, engine=create_engine("sqlite:////nonexistent/folder/x.sqlite"))
    response = TestClient(broken).get("/health")
    assert response.status_code == 503 and response.json()["status"] == "error"


def test_stylesheet(web):
    response = web.client().get("/static/duban.css")
    assert response.status_code == 200 and "text/css" in response.headers["content-type"]


@pytest.mark.postgres
def test_the_loop_over_http_on_postgres(pg_url, mini_catalog, mini_people, loop_settings, snapshot):
    from duban.store import make_engine, migrate
    from duban.sync import sync

    engine = make_engine(pg_url)
    migrate(engine)
    text = (Path(__file__).parent / "data" / "mini.yaml").read_text(encoding="utf-8")
    sync(engine=engine, catalog=mini_catalog, catalog_text=text, people=mini_people, now=at("2020-09-01 08:00"))
    web = Web(replace(loop_settings, database_url=pg_url), engine, lambda: snapshot(engine))
    token = web.token("sj-head")
    town = web.client()
    assert town.get(f"/login/{token}", follow_redirects=False).status_code == 303
    assert post(town, "ack").status_code == 303
    assert post(town, "report", value="100", files=[("upload", ("a.pdf", PDF, "application/pdf"))]).status_code == 303
    office = web.login("office-head")
    assert post(office, "verify").status_code == 303 and web.state() == "verified"
    town.post("/logout", data={"csrf": csrf(town)})
    before = web.snapshot()
    assert web.client().get(f"/login/{token}", follow_redirects=False).status_code == 403
    assert web.snapshot() == before
    with engine.connect() as connection:
        kinds = [k for (k,) in connection.execute(select(EventRow.kind).where(EventRow.occurrence_id == STARTED)
                                                  .order_by(EventRow.id))]
    assert kinds == ["ack", "report", "verify"]
    engine.dispose()
