"""The office's verification queue over HTTP: pages, filters, sorts, batch 销号, the next item after a decision,
names instead of ids, 已退回 with its reason in every list, and the return told on every channel once."""

import re
import warnings
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from conftest import DATA, Clock, at
from sqlalchemy import func, select

from duban import actions, outbox, returnnotice, shortlinks
from duban.catalog import load_catalog
from duban.directory import load_people
from duban.links import item_path, make_token
from duban.models import EventRow, NotificationRow, OccurrenceRow
from duban.store import make_engine, migrate
from duban.sync import sync
from duban.web import create_app
from duban.web import queue as web_queue

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PLAN = "mini-2020"
# The small plan with a daily check by every town: enough reports for pages of 50.
DAILY = """
  - id: daily-check
    ref: 二（四）1
    title: 每日安全排查
    owner: group:towns
    every: daily
    from: 2020-09-01
    to: 2020-10-30
    evidence: 排查记录
"""
REPORTER = {"shuangjiang": "sj-head", "qinglong": "ql-head"}


def queue_store(url: str, tmp_path, per_town: int = 33):
    """A store of the small plan plus DAILY, where each town's head reported its first `per_town` daily checks
    (one day after each deadline for every third one: late), and 周干部 his September visit."""
    text = (DATA / "mini.yaml").read_text(encoding="utf-8") + DAILY
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    catalog = load_catalog(path)
    engine = make_engine(url)
    migrate(engine)
    sync(engine=engine, catalog=catalog, catalog_text=text, people=load_people(DATA / "mini_contacts.csv", catalog),
         now=datetime(2020, 9, 1, tzinfo=UTC))
    occ = OccurrenceRow.__table__
    with engine.begin() as connection:
        for unit, person in REPORTER.items():
            actor = actions.actor_for(connection, plan_id=PLAN, person_id=person)
            rows = connection.execute(select(occ.c.id, occ.c.due).where(
                occ.c.plan_id == PLAN, occ.c.task_id == "daily-check", occ.c.unit_id == unit)
                .order_by(occ.c.due).limit(per_town)).all()
            for n, row in enumerate(rows):
                when = row.due + (timedelta(days=1) if n % 3 == 2 else -timedelta(hours=2))
                actions.report(connection=connection, actor=actor, occurrence_id=row.id, now=when, source="web",
                               note=f"第{n + 1}天已排查")
        cadre = actions.actor_for(connection, plan_id=PLAN, person_id="sj-cadre-1")
        actions.report(connection=connection, actor=cadre, occurrence_id="visits/sj-cadre-1/2020-09-01",
                       now=at("2020-09-20 10:00"), source="web", note="已走访")
    return engine


class Office:
    """The app at 2020-11-02 with helpers to sign people in and read pages."""

    def __init__(self, engine, settings):
        self.engine, self.settings = engine, settings
        self.clock = Clock(at("2020-11-02 10:00"))
        self.app = create_app(settings, now=self.clock, engine=engine)

    def login(self, person: str) -> TestClient:
        client = TestClient(self.app, base_url="http://testserver")
        token = make_token(secret=self.settings.secret, person_id=person, plan_id=PLAN, now=self.clock.now)
        assert client.get(f"/login/{token}", follow_redirects=False).status_code == 303
        return client

    def state(self, occurrence_id: str) -> str:
        with self.engine.connect() as connection:
            return connection.execute(select(OccurrenceRow.state).where(OccurrenceRow.id == occurrence_id)).scalar()

    def events(self, kind: str) -> int:
        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(EventRow).where(EventRow.kind == kind)).scalar()


@pytest.fixture
def store_url(tmp_path):
    """The pages run on SQLite; the queue's SQL runs on PostgreSQL too (test_the_queue_query_on_postgres)."""
    return f"sqlite:///{tmp_path / 'queue.sqlite'}"


@pytest.fixture
def office(store_url, tmp_path, loop_settings):
    engine = queue_store(store_url, tmp_path)
    yield Office(engine, loop_settings)
    engine.dispose()


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def text_of(response) -> str:
    return " ".join(soup(response).get_text(" ").split())


def listed(response) -> list[str]:
    """The occurrence ids a queue page lists, in order."""
    return [a["href"].split("?")[0][len("/item/"):] for a in soup(response).select("li.queue-row > a")]


def csrf_of(response) -> str:
    return soup(response).find("input", {"name": "csrf"})["value"]


def reported_at(engine, ids: list[str]) -> list[datetime]:
    with engine.connect() as connection:
        found = dict(connection.execute(select(OccurrenceRow.id, OccurrenceRow.reported_at).where(
            OccurrenceRow.id.in_(ids))).all())
    return [found[i] for i in ids]


# --- pages, filters, sorts -----------------------------------------------------------------------------------

def test_pages_of_fifty_with_links_that_keep_the_filters(office):
    client = office.login("office-liaison")
    first = client.get("/queue")
    assert first.status_code == 200
    ids = listed(first)
    assert len(ids) == 50 and "共 67 项，第 1/2 页" in text_of(first)  # 33 + 33 daily checks and one visit
    assert reported_at(office.engine, ids) == sorted(reported_at(office.engine, ids))  # oldest report first
    second = client.get("/queue?page=2")
    assert len(listed(second)) == 17 and not set(listed(second)) & set(ids)
    town = client.get("/queue?unit=qinglong&sort=due")
    assert len(listed(town)) == 33 and "共 33 项" in text_of(town) and not soup(town).select(".pager")
    narrowed = client.get("/queue?unit=group:towns")
    links = [a["href"] for a in soup(narrowed).select(".pager a")]
    assert links and all("unit=group%3Atowns" in link for link in links)


def test_filters_by_unit_task_and_state(office):
    client = office.login("office-liaison")
    town = listed(client.get("/queue?unit=shuangjiang"))
    assert len(town) == 34 and all("/shuangjiang/" in i or i.startswith("visits/sj-cadre-1") for i in town)
    task = listed(client.get("/queue?unit=shuangjiang&task=visits"))
    assert task == ["visits/sj-cadre-1/2020-09-01"]
    late = client.get("/queue?state=late&unit=group:towns")
    assert len(listed(late)) == 22 and all(at > due for at, due in _times(office.engine, listed(late)))
    tabs = text_of(late)
    assert "待审核 67" in tabs and "逾期报告 22" in tabs and "已退回 0" in tabs
    for bad, words in (("state=maybe", "状态"), ("unit=nowhere", "单位"), ("task=nothing", "任务"), ("page=0", "页码")):
        refused = client.get(f"/queue?{bad}")
        assert refused.status_code == 400 and words in text_of(refused), bad


def _times(engine, ids):
    with engine.connect() as connection:
        found = {r.id: (r.reported_at, r.due) for r in connection.execute(select(
            OccurrenceRow.id, OccurrenceRow.reported_at, OccurrenceRow.due).where(OccurrenceRow.id.in_(ids)))}
    return [found[i] for i in ids]


def test_a_group_of_groups_filters_to_every_member(office):
    from sqlalchemy import insert

    from duban.models import GroupRow

    with office.engine.begin() as connection:
        connection.execute(insert(GroupRow).values(plan_id=PLAN, id="everyone", name="全县",
                                                   members="group:towns;office"))
    client = office.login("office-liaison")
    assert "共 67 项" in text_of(client.get("/queue?unit=group:everyone"))


def test_sorts_by_deadline_and_by_unit(office):
    client = office.login("office-liaison")
    by_due = listed(client.get("/queue?sort=due&page=2"))
    dues = [due for _, due in _times(office.engine, by_due)]
    assert dues == sorted(dues)
    by_unit = client.get("/queue?sort=unit")
    names = [li.select_one(".meta").get_text(" ", strip=True) for li in soup(by_unit).select("li.queue-row")]
    assert all("双江街道" in n for n in names[:34]) and all(n.startswith("青龙街道") for n in names[34:])
    last = listed(client.get("/queue?sort=unit&page=2"))
    assert all("/qinglong/" in i for i in last), last


def test_names_not_ids(office):
    client = office.login("office-liaison")
    page = text_of(client.get("/queue?unit=shuangjiang&task=visits"))
    assert "周干部（双江街道）" in page and "报告于" in page and "sj-cadre-1" not in page
    assert "周干部（双江街道） · 周干部" not in page  # a person who reports their own item is named once
    page = text_of(client.get("/queue?unit=qinglong"))
    assert "青龙街道 · 吴书记 报告于" in page and "ql-head" not in page and "qinglong ·" not in page


def test_a_unit_that_reported_as_a_whole_is_shown_by_its_name(office):
    """A ledger import or the demo records the unit as the reporter: its name shows, not its id."""
    from sqlalchemy import update

    item = "teaching/qinglong/2020-09-28"
    with office.engine.begin() as connection:
        connection.execute(update(OccurrenceRow).where(OccurrenceRow.id == item).values(
            state="reported", reported_at=at("2020-10-02 10:00"), report_count=1))
        connection.execute(EventRow.__table__.insert().values(
            plan_id=PLAN, occurrence_id=item, at=at("2020-10-02 10:00"), actor="qinglong", source="cli",
            kind="report", before="open", after="reported", note="台账导入", data="{}"))
    client = office.login("office-liaison")
    row = next(li for li in soup(client.get("/queue?task=teaching")).select("li.queue-row") if item in li.a["href"])
    assert "青龙街道 报告于" in " ".join(row.get_text(" ").split())  # not 「青龙街道 · 青龙街道」
    page = text_of(client.get(item_path(item)))
    assert "青龙街道 报告办结" in page and "qinglong" not in page.replace(item, "")
    client.post(f"/do/reject/{item}", data={"csrf": csrf_of(client.get(item_path(item))), "reason": "缺照片"})
    with office.engine.connect() as connection:
        told = connection.execute(select(NotificationRow.person_id, NotificationRow.channel)).all()
    assert sorted(told) == [("ql-cadre-1", "email")]  # the unit's liaison 冯干部 (email only: no mobile)


def test_only_the_office_sees_the_queue(office):
    town = office.login("sj-head")
    assert town.get("/queue").status_code == 403
    token = csrf_of(town.get("/"))
    refused = town.post("/queue/verify", data={"csrf": token, "id": "daily-check/shuangjiang/2020-09-01"},
                        follow_redirects=False)
    assert refused.status_code == 403 and office.events("verify") == 0


# --- batch 销号 -------------------------------------------------------------------------------------------------

def test_batch_verify_in_one_post_one_event_each(office):
    client = office.login("office-liaison")
    page = client.get("/queue?unit=qinglong&sort=due")
    ten = listed(page)[:10]
    response = client.post("/queue/verify", data={"csrf": csrf_of(page), "q": "unit=qinglong&sort=due",
                                                  "id": ten}, follow_redirects=False)
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    assert parse_qs(target.query) == {"unit": ["qinglong"], "sort": ["due"], "state": ["waiting"], "ok": ["batch"],
                                      "done": ["10"]}
    assert office.events("verify") == 10 and {office.state(i) for i in ten} == {"verified"}
    after = client.get(response.headers["location"])
    assert "已审核销号 10 项" in text_of(after) and len(listed(after)) == 23 and not set(listed(after)) & set(ten)


def test_batch_refused_without_csrf_and_nothing_changes(office, snapshot):
    client = office.login("office-liaison")
    ids = listed(client.get("/queue"))[:3]
    before = snapshot(office.engine)
    for token in ("", "forged"):
        refused = client.post("/queue/verify", data={"csrf": token, "id": ids}, follow_redirects=False)
        assert refused.status_code == 403 and "安全校验码" in text_of(refused)
    assert snapshot(office.engine) == before


def test_a_bad_or_stale_id_refuses_the_whole_batch_and_names_it(office, snapshot):
    client = office.login("office-liaison")
    page = client.get("/queue")
    ids = listed(page)[:5]
    before = snapshot(office.engine)
    refused = client.post("/queue/verify", data={"csrf": csrf_of(page), "id": [*ids, "no/such/item"]})
    assert refused.status_code == 400
    assert "no/such/item" in text_of(refused) and "均未销号" in text_of(refused)
    assert snapshot(office.engine) == before
    kept = [i["value"] for i in soup(refused).select("input[name=id][checked]")]
    assert kept == ids  # the office's choice is kept on the page
    other = office.login("office-head")
    assert other.post("/queue/verify", data={"csrf": csrf_of(other.get("/queue")), "id": ids[2]}).status_code == 200
    before = snapshot(office.engine)
    stale = client.post("/queue/verify", data={"csrf": csrf_of(page), "id": ids})
    assert stale.status_code == 409 and ids[2] in text_of(stale) and "每日安全排查" in text_of(stale)
    assert snapshot(office.engine) == before and office.events("verify") == 1
    empty = client.post("/queue/verify", data={"csrf": csrf_of(page)})
    assert empty.status_code == 400 and "请先勾选" in text_of(empty)


# --- the item page: evidence first, then on to the next ----------------------------------------------------------

def test_item_shows_the_report_before_the_decision_and_moves_on(office):
    client = office.login("office-liaison")
    q = "unit=shuangjiang&state=waiting&sort=due"
    order = listed(client.get(f"/queue?{q}"))
    first = client.get(f"{item_path(order[0])}?q={q.replace('&', '%26')}")
    html = first.text
    assert html.index("第1天已排查") < html.index("审核通过，销号") < html.index("退回</button>")
    assert "钱书记" in text_of(first)
    token = csrf_of(first)
    done = client.post(f"/do/verify/{order[0]}", data={"csrf": token, "back": "queue", "q": q},
                       follow_redirects=False)
    landed = urlsplit(done.headers["location"])
    assert landed.path == item_path(order[1]) and parse_qs(landed.query) == {"q": [q], "done": ["verify"]}
    second = client.get(done.headers["location"])
    assert "上一项已审核销号" in text_of(second) and "返回待审核队列" in text_of(second)
    back = client.post(f"/do/reject/{order[1]}", data={"csrf": token, "back": "queue", "q": q, "reason": "缺照片"},
                       follow_redirects=False)
    assert urlsplit(back.headers["location"]).path == item_path(order[2])
    last = client.post(f"/do/verify/{order[-1]}", data={"csrf": token, "back": "queue", "q": q},
                       follow_redirects=False)
    assert urlsplit(last.headers["location"]).path == item_path(order[2])  # from the last, round to the top


def test_skip_leaves_the_item_undecided_and_opens_the_next(office):
    client = office.login("office-liaison")
    q = "unit=shuangjiang&state=waiting&sort=due"
    order = listed(client.get(f"/queue?{q}"))
    page = client.get(f"{item_path(order[0])}?q={q.replace('&', '%26')}")
    skip = soup(page).find("a", string=lambda text: text and "跳过" in text)["href"]
    moved = client.get(skip, follow_redirects=False)
    landed = urlsplit(moved.headers["location"])
    assert landed.path == item_path(order[1]) and parse_qs(landed.query) == {"q": [q]}
    assert listed(client.get(f"/queue?{q}")) == order  # nothing decided, nothing moved
    last = client.get(f"/queue/next?after={order[-1]}&q={q.replace('&', '%26')}", follow_redirects=False)
    assert urlsplit(last.headers["location"]).path == item_path(order[0])  # from the last, round to the top
    assert client.get("/queue/next?after=x&q=unit%3Dnowhere").status_code == 400
    assert office.login("sj-head").get(skip).status_code == 403


# --- 已退回 in every list, and the owner told -----------------------------------------------------------------------

def test_returned_shows_with_its_reason_in_every_list(office):
    client = office.login("office-liaison")
    returned = "daily-check/shuangjiang/2020-09-01"
    token = csrf_of(client.get(item_path(returned)))
    assert client.post(f"/do/reject/{returned}", data={"csrf": token, "reason": "排查记录未签字"},
                       follow_redirects=False).status_code == 303
    town = office.login("sj-head")
    for who, path in ((town, "/"), (client, "/all?unit=shuangjiang&status=missed"), (client, "/all"),
                      (client, "/queue?state=returned")):
        page = client.get(path) if who is client else town.get(path)
        rows = [li for li in soup(page).select("li.row") if returned in li.a["href"]]
        assert rows, path
        words = " ".join(rows[0].get_text(" ").split())
        assert "已退回" in words and "退回原因：排查记录未签字" in words, path
    assert "已退回 1" in text_of(client.get("/queue"))
    assert returned not in listed(client.get("/queue"))
    again = town.get(item_path(returned))
    assert town.post(f"/do/report/{returned}", params={"csrf": csrf_of(again)}, data={"note": "已签字"},
                     files=[("upload", ("记录.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf"))],
                     follow_redirects=False).status_code == 303
    assert "已退回 0" in text_of(client.get("/queue")) and "已退回" not in text_of(town.get("/"))


def test_a_return_is_told_on_every_channel_once(office):
    client = office.login("office-liaison")
    returned = "daily-check/qinglong/2020-09-02"
    token = csrf_of(client.get(item_path(returned)))
    reason = "排查记录缺少村组签字和现场照片，请补齐后重报"
    client.post(f"/do/reject/{returned}", data={"csrf": token, "reason": reason})
    with office.engine.connect() as connection:
        notes = connection.execute(select(NotificationRow.__table__).order_by(NotificationRow.id)).all()
        event_id = connection.execute(select(EventRow.id).where(EventRow.kind == "reject")).scalar_one()
    assert [(n.person_id, n.channel, n.address) for n in notes] == [  # 吴书记 has email and mobile
        ("ql-head", "email", "wu@example.org"), ("ql-head", "sms", "13800000007")]
    sms = notes[1].body_text
    assert len(sms) <= 70 and sms.startswith("吴书记：「每日安全排查」退回：排查记录") and "…，请补充后重报" in sms
    code = re.search(r"/s/([a-z0-9]+)$", sms).group(1)
    with office.engine.connect() as connection:
        link = shortlinks.resolve(connection, code, now=office.clock.now)
    assert (link.person_id, link.target) == ("ql-head", item_path(returned))
    assert "排查记录缺少村组签字和现场照片" in notes[0].body_text and "http://testserver/s/" in notes[0].body_text
    with office.engine.begin() as connection:  # the same return queued again: nothing new
        item = actions.load_item(connection, plan_id=PLAN, occurrence_id=returned)
        again = returnnotice.return_notifications(
            connection, plan_id=PLAN, occurrence_id=returned, task_id=item.task_id, owner_kind=item.owner_kind,
            owner_id=item.owner_id, reporter_id="ql-head", actor_name="李联络", reason="x", event_id=event_id,
            now=office.clock.now)
        assert outbox.enqueue(connection=connection, notifications=again) == 0
    # 冯干部 has no mobile: his own item's return goes by email only, and a person owner hears it
    with office.engine.begin() as connection:
        keys = [n["channel"] for n in returnnotice.return_notifications(
            connection, plan_id=PLAN, occurrence_id="visits/ql-cadre-1/2020-09-01", task_id="visits",
            owner_kind="person", owner_id="ql-cadre-1", reporter_id="ql-head", actor_name="李联络", reason="x",
            event_id=0, now=office.clock.now)]
    assert keys == ["email", "sms", "email"]


def test_a_return_late_in_the_evening_holds_its_sms_until_morning(office):
    client = office.login("office-liaison")
    office.clock.now = at("2020-11-02 22:15")  # in the quiet hours (21:00-08:00 by default)
    returned = "daily-check/qinglong/2020-09-03"
    client.post(f"/do/reject/{returned}", data={"csrf": csrf_of(client.get(item_path(returned))), "reason": "缺照片"})
    with office.engine.connect() as connection:
        held = dict(connection.execute(select(NotificationRow.channel, NotificationRow.not_before)).all())
    assert held["email"].replace(tzinfo=UTC) == at("2020-11-02 22:15")
    assert held["sms"].replace(tzinfo=UTC) == at("2020-11-03 08:00")


def test_sms_text_fits_one_message_whatever_the_lengths():
    long_link = "https://duban.yunyang.gov.cn/s/abcdefghjk"
    for reason in ("缺照片", "开工照片不全，请补充项目现场照片", "照片" * 60):
        for title in ("开工", "“一卡一册一账一表两牌”完善张贴，动态更新信息系统"):
            text = returnnotice.sms_text(name="欧阳书记", title=title, reason=reason, link=long_link)
            assert len(text) <= 70 and text.endswith(long_link) and "退回：" + reason[:3] in text, text
    text = returnnotice.sms_text(name="马超燕", title="“一卡一册一账一表两牌”完善张贴", reason="缺照片", link=long_link)
    assert text == f"马超燕：「“一卡一册一账一表…」退回：缺照片，请补充后重报{long_link}"
    assert returnnotice.sms_text(name="王", title="t", reason="r", link="https://" + "x" * 80).startswith("王：")


# --- the query on PostgreSQL ------------------------------------------------------------------------------------

@pytest.mark.postgres
def test_the_queue_query_on_postgres(pg_url, tmp_path):
    engine = queue_store(pg_url, tmp_path, per_town=4)
    try:
        with engine.begin() as connection:
            office = actions.actor_for(connection, plan_id=PLAN, person_id="office-liaison")
            actions.reject(connection=connection, actor=office, occurrence_id="daily-check/qinglong/2020-09-01",
                           now=at("2020-11-02 10:00"), source="web", reason="缺签字")
        with engine.connect() as connection:
            shown = web_queue.page(connection, plan_id=PLAN, filters=web_queue.Filters(unit="group:towns", sort="unit"),
                                   as_of=at("2020-11-02 10:00"))
            returned = web_queue.page(connection, plan_id=PLAN, filters=web_queue.Filters(state="returned"),
                                      as_of=at("2020-11-02 10:00"))
        assert shown.total == 8 and shown.counts == {"waiting": 8, "late": 2, "returned": 1}  # 周干部's visit too
        assert [r["unit_name"] for r in shown.rows] == ["双江街道"] * 5 + ["青龙街道"] * 3
        assert [(r["id"], r["returned"]) for r in returned.rows] == [("daily-check/qinglong/2020-09-01", "缺签字")]
    finally:
        engine.dispose()
