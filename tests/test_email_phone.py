"""Emails that read on a phone (issue 13, part 4): the shipped plan with nobody reporting, the heaviest notice emails
of 2020-10-28 (one with the most own items, one with the most roll-up lines) and that week's Monday digest, written
to the outbox as a run writes them, then opened in headless Chromium at 390x844.

No horizontal scroll, one row per item and per roll-up line, links as buttons (at least 40 px high) carrying the
person's short link, no raw login token in the visible text nor in the text part, and even these heaviest emails
(28 own items, 60 roll-up lines) within a few screens: the counts and the links carry what is not listed.
Screenshots go to test-artifacts/ (git-ignored) for people to look at.
"""

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from browsing import ARTIFACTS, PHONE, needs_chromium
from conftest import Clock, at
from sqlalchemy import select

from duban.config import ROOT
from duban.digest import UNITS_SHOWN

BASE = "https://duban.example.gov.cn"
MOMENT = "2020-10-28 09:00"
MONDAY = "2020-10-26 08:30"
SHORT = re.compile(re.escape(BASE) + r"/s/([2-9a-z]{8,32})(\?next=/\S*)?$")
# What a leaked token looks like: 20 or more URL-safe characters mixing upper case, lower case and digits (a login
# token is base64url; occurrence ids and short codes are lower case).
TOKEN = re.compile(r"(?<![\w-])(?=[\w-]*[A-Z])(?=[\w-]*[a-z])(?=[\w-]*\d)[\w-]{20,}")
ENTRY = re.compile(r"(?m)^\s*\(?(\d+)[.)] ")  # a numbered entry of the text part

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


@pytest.fixture(scope="module")
def mails(tmp_path_factory):
    """The shipped plan synced, nobody reporting; the heaviest notice emails of a late-October morning and the
    Monday digest, queued in the outbox as the flows queue them."""
    from duban import runs
    from duban.catalog import load_catalog
    from duban.config import Settings
    from duban.digest import queue_digest
    from duban.directory import load_people
    from duban.models import NotificationRow
    from duban.notices import decide, write
    from duban.store import make_engine, migrate
    from duban.sync import sync

    folder = tmp_path_factory.mktemp("phone")
    url = f"sqlite:///{folder / 'duban.sqlite'}"
    engine = make_engine(url)
    migrate(engine)
    catalog = load_catalog(ROOT / "tasks_catalog.yaml")
    sync(engine=engine, catalog=catalog, catalog_text=(ROOT / "tasks_catalog.yaml").read_text(encoding="utf-8"),
         people=load_people(ROOT / "examples" / "contacts.csv", catalog), now=datetime(2020, 9, 1, tzinfo=UTC))
    settings = Settings(database_url=url, var_dir=str(folder / "var"), secret="phone-secret-" + "x" * 20,
                        base_url=BASE)
    plan_id = catalog.plan.id
    ctx = runs.context(engine, settings, plan_id)
    emails = [m for m in decide(engine=engine, ctx=ctx, as_of=at(MOMENT)) if m.channel == "email"]
    itemised = max(emails, key=lambda m: (len(m.items), m.person_id))
    rolled_up = max(emails, key=lambda m: (len(m.lines), -len(m.items), m.person_id))
    assert len(itemised.items) > 8 and len(rolled_up.lines) > 8  # more than a message lists: counts carry the rest
    write(engine=engine, ctx=ctx, chunk=[itemised, rolled_up], as_of=at(MOMENT))
    digest = queue_digest(engine=engine, plan_id=plan_id, as_of=at(MONDAY), now=at(MONDAY), base_url=BASE)
    assert digest.queued >= 1
    with engine.connect() as connection:
        rows = {r.key: r for r in connection.execute(select(NotificationRow.__table__).where(
            NotificationRow.channel == "email"))}
    chosen = {"notice-items": itemised.person_id, "notice-rollup": rolled_up.person_id}
    found = {name: next(r for r in rows.values() if r.person_id == person and r.key.startswith("notice/"))
             for name, person in chosen.items()}
    found["digest"] = next(r for key, r in sorted(rows.items()) if key.startswith("digest/"))
    yield {"engine": engine, "settings": settings, "rows": found, "folder": folder}
    engine.dispose()


def open_on_phone(browser, mails, name):
    """The email's HTML part in a 390 px phone viewport, with a screenshot of the whole of it."""
    path = mails["folder"] / f"{name}.html"
    path.write_text(mails["rows"][name].body_html, encoding="utf-8")
    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=1, locale="zh-CN")
    page.goto(path.as_uri())
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"email-{name}.png"), full_page=True)
    return page


def assert_phone_sized(page):
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]  # no horizontal scroll
    assert page.locator("table").count() == 0  # no wide tables
    assert page.locator("link[rel=stylesheet], script").count() == 0  # nothing a mail client would drop


def assert_buttons(page):
    """Every link is a button big enough to tap, carrying the person's short link (landing on a page of this site)."""
    buttons = page.locator("a")
    assert buttons.count() > 0
    codes = set()
    for index in range(buttons.count()):
        button = buttons.nth(index)
        box = button.bounding_box()
        assert box["height"] >= 40 and box["width"] >= 60, (button.inner_text(), box)
        assert button.evaluate("e => getComputedStyle(e).display") == "inline-block"
        href = button.get_attribute("href")
        match = SHORT.match(href)
        assert match, href
        codes.add(match.group(1))
    return codes


def assert_no_token(text):
    assert "/login/" not in text
    unquoted = re.sub(r"%[0-9A-F]{2}", " ", text)  # an escaped query (?next=/all%3Ftask%3D...) is not a token
    assert not TOKEN.search(unquoted), TOKEN.search(unquoted)


def test_the_token_check_catches_a_login_link():
    from duban.links import make_token

    token = make_token(secret="s" * 32, person_id="p1", plan_id="plan", now=at(MOMENT))
    assert TOKEN.search(f"查看：{BASE}/login/{token}?next=/item/x")
    assert not TOKEN.search(f"查看：{BASE}/s/k3m4n5p6q7?next=/item/visits/ql-cadre-1/2020-09-01")
    with pytest.raises(AssertionError):
        assert_no_token(f"查看：{BASE}/x/{token}")


@pytest.mark.parametrize("name", ["notice-items", "notice-rollup"])
def test_notice_email_on_a_phone(browser, mails, name):
    row = mails["rows"][name]
    page = open_on_phone(browser, mails, name)
    assert_phone_sized(page)
    blocks = page.locator("div.i")
    titled = [blocks.nth(i) for i in range(blocks.count()) if blocks.nth(i).locator("b").count()]
    # one block per listed item and roll-up line: as many as the text part numbers, each with its one button
    assert len(titled) == len(ENTRY.findall(row.body_text)) >= 4
    assert page.evaluate("document.scrollingElement.scrollHeight") <= 3 * PHONE["height"]  # was 4,911 px: 5.8 screens
    for block in titled:
        assert block.locator("a").count() == 1
        assert block.bounding_box()["width"] <= PHONE["width"]
        assert block.locator("b").inner_text().startswith("【")
    codes = assert_buttons(page)
    assert len(codes) == 1  # one code per email; item buttons add ?next=
    assert_no_token(page.inner_text("body"))
    assert_no_token(row.body_text)
    assert len(re.findall(re.escape(BASE) + r"/s/", row.body_text)) >= 1
    page.close()


def test_digest_email_on_a_phone(browser, mails):
    row = mails["rows"]["digest"]
    page = open_on_phone(browser, mails, "digest")
    assert_phone_sized(page)
    units = page.locator("h3.unit")
    assert units.count() == UNITS_SHOWN
    assert page.evaluate("document.scrollingElement.scrollHeight") <= 3 * PHONE["height"]  # was 3,508 px
    for index in range(units.count()):  # each unit is one block holding its lines
        block = units.nth(index).locator("xpath=..")
        assert block.bounding_box()["width"] <= PHONE["width"]
        assert block.locator(".item").count() >= 1
    assert len(assert_buttons(page)) == 1
    assert_no_token(page.inner_text("body"))
    assert_no_token(row.body_text)
    page.close()


def test_a_button_signs_its_person_in_and_lands_on_the_item(mails):
    """The first item button of the itemised email, opened at the email's moment: signed in as the addressee, on
    the item; and after the link's 14 days it opens nothing."""
    from fastapi.testclient import TestClient

    from duban.web.app import create_app

    row = mails["rows"]["notice-items"]
    href = re.search(r'href="([^"]+\?next=/item/[^"]+)"', row.body_html).group(1).replace("&amp;", "&")
    target = urlsplit(href)
    clock = Clock(at("2020-10-28 10:00"))
    client = TestClient(create_app(mails["settings"], now=clock, engine=mails["engine"]), base_url=BASE)
    answer = client.get(f"{target.path}?{target.query}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == target.query.removeprefix("next=")
    assert client.get(answer.headers["location"]).status_code == 200
    later = TestClient(create_app(mails["settings"], now=Clock(at("2020-11-12 10:00")), engine=mails["engine"]),
                       base_url=BASE)
    assert "链接已过期" in later.get(f"{target.path}?{target.query}").text
