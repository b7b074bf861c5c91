"""交办 and 延期 in headless Chromium on a phone-sized screen (issue 15), on the shipped plan and directory.

The office hands out an item on its form; the reminder goes out through the real path (notices -> outbox ->
SMTP on loopback); the town opens the reminder's link, asks for an extension, the office grants it, the town
reports the item done with a photo, and the office verifies it. Screenshots go to test-artifacts/.
"""

import re

import pytest
from browsing import PHONE, launch, needs_chromium
from conftest import at
from sqlalchemy import select
from test_browser_loop import PLAN, login_link, person, send_reminders, server, shipped, shot

TITLE = "开展扶贫项目资金专项检查"
UNIT = "town-shuangjiang"

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]
__all__ = ["server", "shipped"]  # fixtures, from the loop's browser test


def mail_about(sink, address, words):
    for message in sink.messages:
        body = message.get_body(("plain",)).get_content()
        if address in message["To"] and words in body:
            return body
    raise AssertionError(f"no reminder about {words} reached {address}")


def test_hand_out_extend_rectify_verify_in_chromium(shipped, server, smtp_sink, tmp_path):
    from playwright.sync_api import sync_playwright

    from duban.links import login_url
    from duban.models import EventRow, OccurrenceRow

    settings, engine, _ = shipped
    clock = server
    clock.now = at("2020-10-09 09:30")
    office = person(settings, engine, "office", "liaison")
    checker = person(settings, engine, "office", "in_charge")
    town = person(settings, engine, UNIT, "liaison")
    office_link = login_url(settings=settings, person_id=office.id, plan_id=PLAN, now=clock.now)

    with sync_playwright() as playwright:
        browser = launch(playwright)
        phone = {"viewport": PHONE, "device_scale_factor": 1, "is_mobile": True, "has_touch": True,
                 "locale": "zh-CN"}
        desk = browser.new_context(**phone).new_page()
        desk.goto(office_link)
        desk.wait_for_selector("h1:has-text('总览')")  # the office lands on the overview
        desk.get_by_role("link", name="交办").click()
        desk.wait_for_selector("h1:has-text('交办事项')")
        desk.fill("#title", TITLE)
        desk.select_option("#owner", UNIT)
        desk.fill("#due", "2020-10-20")
        desk.fill("#note", "定点、定项“点穴式”专项督导")
        shot(desk, "casework-1-assign-form")
        desk.get_by_role("button", name="交办").click()
        desk.wait_for_selector(".notice.ok")
        assert "已交办，共 1 个责任单位" in desk.inner_text(".notice.ok")
        shot(desk, "casework-2-assigned")
        with engine.connect() as connection:
            item = connection.execute(select(OccurrenceRow.id).where(
                OccurrenceRow.plan_id == PLAN, OccurrenceRow.task_id.like("assigned-%"))).scalar_one()

        send_reminders(settings, engine, at("2020-10-15 09:00"))  # 3 workdays before the deadline
        clock.now = at("2020-10-15 09:40")
        official = browser.new_context(**phone).new_page()
        official.goto(login_link(mail_about(smtp_sink, town.email, TITLE), settings.base_url))
        official.locator("a", has_text=TITLE).first.click()
        official.wait_for_selector(f"h1:has-text('{TITLE}')")
        assert "2020年10月20日" in official.inner_text("section.item")
        official.get_by_role("link", name="申请延期").click()
        official.wait_for_selector("h1:has-text('延期')")
        official.fill("#until", "2020-10-30")
        official.fill("#reason", "涉及12个村，需逐村核对资金台账")
        official.get_by_role("button", name="提交延期申请").click()
        official.wait_for_selector(".notice.ok")
        assert "等待督办室审批" in official.inner_text(".notice.ok")
        shot(official, "casework-3-extension-asked")

        clock.now = at("2020-10-16 10:00")
        desk.get_by_role("link", name="延期审批").click()
        desk.wait_for_selector("h1:has-text('延期审批')")
        desk.locator("li.row a", has_text=TITLE).click()
        desk.fill("#note", "同意，请抓紧")
        desk.get_by_role("button", name="同意延期").click()
        desk.wait_for_selector(".notice.ok")
        assert "原定截止" in desk.inner_text("main") and "2020年10月30日" in desk.inner_text("main")
        shot(desk, "casework-4-extension-granted")

        clock.now = at("2020-10-28 15:00")
        official.goto(settings.base_url + f"/item/{item}")
        assert "2020年10月30日" in official.inner_text("section.item")
        photo = tmp_path / "检查现场.png"
        photo.write_bytes(official.screenshot())
        official.fill("#note", "已完成12个村资金台账核对，发现问题3个，已整改。")
        official.set_input_files("#upload", str(photo))
        official.get_by_role("button", name="报告办结").click()
        official.wait_for_selector(".notice.ok")
        assert "检查现场.png" in official.inner_text("section.history")
        shot(official, "casework-5-reported")

        clock.now = at("2020-10-29 09:00")
        verifier = browser.new_context(**phone).new_page()
        verifier.goto(login_url(settings=settings, person_id=checker.id, plan_id=PLAN, now=clock.now))
        verifier.get_by_role("link", name="待审核").first.click()
        verifier.locator("li.row a", has_text=TITLE).first.click()
        verifier.get_by_role("button", name="审核通过，销号").click()
        verifier.wait_for_selector(".notice.ok")
        shot(verifier, "casework-6-verified")
        browser.close()

    with engine.connect() as connection:
        row = connection.execute(select(OccurrenceRow.__table__).where(OccurrenceRow.id == item)).one()
        kinds = connection.execute(select(EventRow.kind, EventRow.actor, EventRow.source).where(
            EventRow.occurrence_id == item).order_by(EventRow.id)).all()
    assert row.state == "verified" and row.due == at("2020-10-30 23:59:59")
    assert row.original_due == at("2020-10-20 23:59:59")
    assert [tuple(k) for k in kinds] == [("assign", office.id, "web"), ("extend_request", town.id, "web"),
                                         ("extend_grant", office.id, "web"), ("report", town.id, "web"),
                                         ("verify", checker.id, "web")]
    assert re.match(r"assigned-0001/town-shuangjiang/2020-10-09$", item)
