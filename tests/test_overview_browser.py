"""The leaders' overview in headless Chromium, on the shipped plan: the office lands on it, opens the list behind a
number, and reaches its own items in one click. Screenshots at desktop and phone size go to test-artifacts/."""


import pytest
from browsing import ARTIFACTS, DESKTOP, PHONE, launch, needs_chromium
from conftest import at
from sqlalchemy import update
from test_browser_loop import PLAN, person, server, shipped, shot

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]
__all__ = ["server", "shipped"]  # fixtures, from the loop's browser test


def campaign(engine):
    """Some towns report September's work on time and are verified, some late, some wait: ranks differ."""
    from duban.models import OccurrenceRow as O

    with engine.begin() as connection:
        september = (O.plan_id == PLAN, O.due < at("2020-10-01 00:00"))
        connection.execute(update(O).where(*september, O.unit_id.like("town-%"), O.unit_id < "town-l").values(
            state="verified", reported_at=O.due, verified_at=at("2020-10-09 10:00")))
        connection.execute(update(O).where(*september, O.unit_id.like("town-%"), O.unit_id >= "town-l",
                                           O.unit_id < "town-s").values(state="reported",
                                                                        reported_at=at("2020-10-12 10:00")))


def test_the_office_lands_on_the_overview_in_chromium(shipped, server):
    from playwright.sync_api import sync_playwright

    from duban.links import login_url

    settings, engine, _ = shipped
    campaign(engine)
    clock = server
    clock.now = at("2020-10-29 10:00")
    office = person(settings, engine, "office", "liaison")
    link = login_url(settings=settings, person_id=office.id, plan_id=PLAN, now=clock.now)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        desk = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
        desk.goto(link)
        desk.wait_for_selector("h1:has-text('总览')")
        ARTIFACTS.mkdir(exist_ok=True)
        desk.screenshot(path=str(ARTIFACTS / "overview-desktop.png"))
        towns = desk.locator("tbody[data-kind='town'] tr[data-unit]")
        rates = [towns.nth(i).locator("td[data-set='rate']").inner_text() for i in range(towns.count())]
        numbers = [int(r.rstrip("%")) for r in rates if r != "—"]
        assert numbers == sorted(numbers) and numbers[0] < numbers[-1]  # worst first, and they differ
        total = desk.locator("tr.total td[data-set='overdue'] a")
        overdue = int(total.inner_text())
        total.click()
        desk.wait_for_selector("#list h2")
        assert int(desk.inner_text("#list h2 .count")) == overdue
        assert desk.locator("#list li.row").count() == min(overdue, 300)
        desk.screenshot(path=str(ARTIFACTS / "overview-desktop-list.png"))
        desk.get_by_role("link", name="我的事项").first.click()
        desk.wait_for_selector("h1:has-text('我的事项')")

        phone = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
                                    locale="zh-CN").new_page()
        phone.goto(link)
        phone.wait_for_selector("h1:has-text('总览')")
        shot(phone, "overview-phone")  # fits the phone's width: the table scrolls inside its card
        phone.locator("tbody[data-kind='town'] tr[data-unit] td[data-set='due'] a").first.click()
        phone.wait_for_selector("#list h2")
        shot(phone, "overview-phone-list")
        browser.close()
