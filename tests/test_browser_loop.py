"""The whole loop in headless Chromium on a phone-sized screen, on the shipped plan and example directory.

A reminder goes out through the real path (notices -> outbox -> SMTP, to a loopback server); the town's
official opens the personal link in it, signs for the item, reports it done with a photo; the office opens
its own reminder's link, finds the report in its queue and verifies it; the item shows as done. A screenshot
of every page goes to test-artifacts/.
"""

import re
import socket
from pathlib import Path

import pytest
from browsing import ARTIFACTS, PHONE, launch, needs_chromium
from conftest import Clock, at, serving
from sqlalchemy import select

ROOT = Path(__file__).parent.parent
PLAN = "yunyang-2020-final-push"
TASK = "projects-started"
TITLE = "9月15日前所有扶贫项目全面开工"

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]




def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def shipped(tmp_path, smtp_sink):
    """The shipped plan and directory in a SQLite store; settings that mail through the loopback SMTP server."""
    from duban.catalog import load_catalog
    from duban.config import Settings
    from duban.directory import load_people
    from duban.store import make_engine, migrate
    from duban.sync import sync

    port = free_port()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'duban.sqlite'}", var_dir=str(tmp_path / "var"),
                        smtp_url=smtp_sink.url, base_url=f"http://127.0.0.1:{port}", secret="browser-test-" + "s" * 20)
    engine = make_engine(settings.database_url)
    migrate(engine)
    catalog = load_catalog(ROOT / "tasks_catalog.yaml")
    people = load_people(ROOT / "examples" / "contacts.csv", catalog)
    sync(engine=engine, catalog=catalog, catalog_text=(ROOT / "tasks_catalog.yaml").read_text(encoding="utf-8"),
         people=people, now=at("2020-09-01 08:00"))
    yield settings, engine, port
    engine.dispose()


def send_reminders(settings, engine, as_of):
    """The delivery engineer's real path: decide reminders, write the outbox, dispatch email over SMTP."""
    from duban import notify, runs

    ctx = runs.context(engine, settings, PLAN)
    runs.notices(engine, ctx, as_of, ("remind",))
    senders = {"email": notify.senders(settings)["email"]}
    while runs.send_step(engine, senders, as_of, lambda: as_of).sent.get("email"):
        pass


def mail_to(sink, address):
    for message in sink.messages:
        if address in message["To"]:
            return message.get_body(("plain",)).get_content()
    raise AssertionError(f"no reminder reached {address}")


def login_link(body, base_url):
    match = re.search(re.escape(base_url) + r"/(?:login|s)/[A-Za-z0-9_\-.]+", body)  # emails carry short links
    assert match, body
    return match.group(0)


@pytest.fixture
def server(shipped):
    """The app under uvicorn on a loopback port, in a thread, with a clock the test moves."""
    from duban.web import server as make_server

    settings, _, port = shipped
    clock = Clock(at("2020-09-08 09:30"))
    with serving(make_server(settings, host="127.0.0.1", port=port, now=clock)):
        yield clock


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"loop-{name}.png"))  # what the phone's screen shows
    page.screenshot(path=str(ARTIFACTS / f"loop-{name}-full.png"), full_page=True)
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, f"{name}: the page is wider than a phone screen"


def person(settings, engine, unit, role):
    from duban.models import PersonRow

    with engine.connect() as connection:
        rows = connection.execute(select(PersonRow.id, PersonRow.name, PersonRow.email, PersonRow.roles).where(
            PersonRow.plan_id == PLAN, PersonRow.unit_id == unit)).all()
    return next(r for r in rows if role in r.roles.split(";"))


def test_the_loop_in_chromium(shipped, server, smtp_sink, tmp_path):
    from playwright.sync_api import sync_playwright

    from duban.models import EventRow, OccurrenceRow

    settings, engine, _ = shipped
    clock = server
    send_reminders(settings, engine, at("2020-09-08 09:00"))
    with engine.connect() as connection:
        occurrence = connection.execute(select(OccurrenceRow.id, OccurrenceRow.unit_id).where(
            OccurrenceRow.plan_id == PLAN, OccurrenceRow.task_id == TASK,
            OccurrenceRow.unit_id.like("town-%")).order_by(OccurrenceRow.id)).first()  # a town: owner, not co-owner
    town = person(settings, engine, occurrence.unit_id, "liaison")
    office = person(settings, engine, "office", "liaison")
    town_link = login_link(mail_to(smtp_sink, town.email), settings.base_url)
    office_link = login_link(mail_to(smtp_sink, office.email), settings.base_url)

    with sync_playwright() as playwright:
        browser = launch(playwright)
        phone = {"viewport": PHONE, "device_scale_factor": 1, "is_mobile": True, "has_touch": True,
                 "locale": "zh-CN"}
        official = browser.new_context(**phone).new_page()
        official.goto(town_link)
        official.wait_for_selector("h1:has-text('我的事项')")
        assert official.locator(".who").inner_text().startswith(town.name)
        assert "临近" in official.locator("section.group h2").all_inner_texts()[0]
        shot(official, "1-my-items")

        official.locator("li.row a", has_text=TITLE).first.click()
        official.wait_for_selector(f"h1:has-text('{TITLE}')")
        assert "2020年9月15日（星期二）" in official.inner_text("section.item")
        shot(official, "2-item")

        official.get_by_role("button", name="签收").click()
        official.wait_for_selector(".notice.ok")
        assert "已签收" in official.inner_text(".notice.ok")
        shot(official, "3-signed-for")

        clock.now = at("2020-09-14 16:20")
        photo = tmp_path / "开工现场.png"
        photo.write_bytes(official.screenshot())  # a real PNG to stand for a photo of the site
        official.fill("#value", "100")
        official.fill("#note", "全镇12个扶贫项目已全部开工。")
        official.set_input_files("#upload", str(photo))
        official.get_by_role("button", name="报告办结").click()
        official.wait_for_selector(".notice.ok")
        assert "等待督办室审核" in official.inner_text(".notice.ok")
        assert "开工现场.png" in official.inner_text("section.history")
        shot(official, "4-reported")

        clock.now = at("2020-09-15 09:10")
        checker = browser.new_context(**phone).new_page()
        checker.goto(office_link)
        checker.wait_for_selector("h1:has-text('总览')")  # the office lands on the overview
        checker.get_by_role("link", name="待审核").first.click()
        checker.wait_for_selector("h1:has-text('待审核')")
        assert TITLE in checker.inner_text("ul.rows")
        shot(checker, "5-office-queue")
        checker.locator("li.row a", has_text=TITLE).first.click()
        evidence = checker.locator("ul.files a", has_text="开工现场.png")
        assert checker.request.get(settings.base_url + evidence.get_attribute("href")).body() == photo.read_bytes()
        assert checker.get_by_role("button", name="撤回报告").count() == 0  # the town's report, not the office's
        shot(checker, "6-office-item")
        checker.get_by_role("button", name="审核通过，销号").click()
        checker.wait_for_selector(".notice.ok")
        shot(checker, "7-verified")
        checker.get_by_role("link", name="总览").first.click()
        checker.wait_for_selector("h2:has-text('各单位按时办结情况')")
        shot(checker, "9-overview")

        official.reload()
        assert "已销号" in official.inner_text("section.item")
        assert official.locator(".notice").count() == 0  # "waiting for the office" is no longer true
        assert "审核通过（销号）" in official.inner_text("section.history")
        shot(official, "8-done")
        official.goto(settings.base_url + "/")
        assert TITLE not in official.inner_text("main")
        browser.close()

    with engine.connect() as connection:
        state = connection.execute(select(OccurrenceRow.state).where(OccurrenceRow.id == occurrence.id)).scalar()
        kinds = connection.execute(select(EventRow.kind, EventRow.actor, EventRow.source).where(
            EventRow.occurrence_id == occurrence.id).order_by(EventRow.id)).all()
    assert state == "verified"
    assert [tuple(k) for k in kinds] == [("ack", town.id, "web"), ("report", town.id, "web"),
                                         ("verify", office.id, "web")]
