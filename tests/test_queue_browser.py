"""The office works its queue in headless Chromium: filter to one town, batch-verify ten, return one with a
reason, and see it marked 已退回 on the town's list. Screenshots at 1280 and 390 px go to test-artifacts/."""


import pytest
from browsing import ARTIFACTS, DESKTOP, PHONE, launch, needs_chromium
from conftest import Clock, at, free_port, serving
from sqlalchemy import func, select
from test_queue import PLAN, queue_store

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


@pytest.fixture
def running(tmp_path):
    """The small plan with 67 reports waiting, served by uvicorn on loopback with a fixed clock."""
    from duban.config import Settings
    from duban.web import server

    port = free_port()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'queue.sqlite'}", var_dir=str(tmp_path / "var"),
                        base_url=f"http://127.0.0.1:{port}", secret="queue-browser-" + "q" * 20)
    engine = queue_store(settings.database_url, tmp_path)
    with serving(server(settings, host="127.0.0.1", port=port, now=Clock(at("2020-11-02 10:00")))):
        yield settings, engine
    engine.dispose()


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"queue-{name}.png"))
    page.screenshot(path=str(ARTIFACTS / f"queue-{name}-full.png"), full_page=True)


def test_the_office_works_the_queue_in_chromium(running):
    from playwright.sync_api import sync_playwright

    from duban.links import make_token
    from duban.models import EventRow, NotificationRow

    settings, engine = running
    token = make_token(secret=settings.secret, person_id="office-liaison", plan_id=PLAN, now=at("2020-11-02 10:00"))
    with sync_playwright() as playwright:
        browser = launch(playwright)
        desk = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
        desk.goto(f"{settings.base_url}/login/{token}?next=/queue")
        desk.wait_for_selector("h1:has-text('待审核')")
        assert "共 67 项，第 1/2 页" in desk.inner_text("main")
        desk.select_option("#unit", "qinglong")  # one town
        desk.get_by_role("button", name="筛选").click()
        desk.wait_for_selector("text=共 33 项")
        boxes = desk.locator("li.queue-row input[type=checkbox]")
        for n in range(10):
            boxes.nth(n).check()
        shoot(desk, "1-town-checked-desktop")
        desk.get_by_role("button", name="审核通过，销号勾选的事项").last.click()  # one above the list, one below
        desk.wait_for_selector(".notice.ok")
        assert "已审核销号 10 项" in desk.inner_text(".notice.ok") and "共 23 项" in desk.inner_text("main")
        assert desk.locator("#unit").input_value() == "qinglong"  # the filter survived the decision
        shoot(desk, "2-after-batch-desktop")

        phone = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
                                    locale="zh-CN").new_page()
        phone.goto(f"{settings.base_url}/login/{token}?next=/queue%3Funit%3Dqinglong")
        phone.wait_for_selector("text=共 23 项")
        shoot(phone, "3-town-phone")
        first = phone.locator("li.queue-row a").first
        title_meta = first.inner_text()
        first.click()
        phone.wait_for_selector("text=返回待审核队列")
        shoot(phone, "4-item-phone")
        html = phone.content()
        assert html.index("办理记录") < html.index("审核通过，销号")  # the report and evidence come first
        phone.fill("#reason-reject", "排查记录缺少村组签字")
        phone.get_by_role("button", name="退回").click()
        phone.wait_for_selector("text=上一项已退回")
        shoot(phone, "5-next-item-phone")

        desk.goto(f"{settings.base_url}/all?unit=qinglong")
        returned = desk.locator("li.row", has_text="已退回")
        returned.first.wait_for()
        assert returned.count() == 1 and "退回原因：排查记录缺少村组签字" in returned.first.inner_text()
        returned.first.scroll_into_view_if_needed()
        shoot(desk, "6-town-list-desktop")
        phone.goto(f"{settings.base_url}/all?unit=qinglong")
        phone.locator("li.row", has_text="已退回").first.scroll_into_view_if_needed()
        shoot(phone, "7-town-list-phone")
        browser.close()
    assert "吴书记" in title_meta  # the reporter by name
    with engine.connect() as connection:
        kinds = dict(connection.execute(select(EventRow.kind, func.count()).where(
            EventRow.kind.in_(("verify", "reject"))).group_by(EventRow.kind)).all())
        told = sorted(connection.execute(select(NotificationRow.channel).where(
            NotificationRow.person_id == "ql-head")).scalars())
    assert kinds == {"verify": 10, "reject": 1} and told == ["email", "sms"]
