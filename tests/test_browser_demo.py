"""The demo, clicked: `duban demo` in its own process, then `duban web --as-of` at the demo's moment (the command
the demo prints), and a link from one of the demo's emails opened in headless Chromium on a phone-sized screen.
It lands signed in on the item, reports it done, and the history shows the replayed time, marked 回放.

Before issue 13 the same link answered 「链接已过期」: the web judged it by the wall clock."""

import email
import email.policy
import mailbox
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from browsing import ARTIFACTS, PHONE, launch, needs_chromium
from conftest import free_port

ROOT = Path(__file__).parent.parent
LINK = re.compile(r"https?://[^\s\"'<>]+/(?:login|s)/[^\s\"'<>]+\?next=/item/[^\s\"'<>]+")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    needs_chromium,
]


def demo_env(tmp_path, port):
    env = {**os.environ, "DUBAN_DATABASE_URL": f"sqlite:///{tmp_path / 'duban.sqlite'}",
           "DUBAN_VAR_DIR": str(tmp_path / "var"), "DUBAN_CATALOG": str(ROOT / "tasks_catalog.yaml"),
           "DUBAN_CONTACTS": str(ROOT / "examples" / "contacts.csv"), "DUBAN_BASE_URL": f"http://127.0.0.1:{port}",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}  # 2 busy cores: its server starts slowly
    for name in ("PREFECT_API_URL", "DUBAN_AS_OF", "DUBAN_SECRET", "DUBAN_CONFIG"):
        env.pop(name, None)
    return env


def open_item_link(maildir: Path, store: Path) -> str:
    """A personal link to an item nobody has reported yet, from the demo's emails (text or HTML parts)."""
    with sqlite3.connect(store) as connection:
        still_open = {row[0] for row in connection.execute(
            "SELECT id FROM occurrence WHERE state IN ('open', 'acked') AND NOT archived")}
    box = mailbox.Maildir(maildir, factory=None, create=False)
    for key in sorted(box.keys()):
        message = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        for part in message.walk():
            if part.get_content_maintype() != "text":
                continue
            for link in LINK.findall(part.get_content().replace("&amp;", "&")):
                if unquote(link.split("?next=/item/", 1)[1]) in still_open:
                    return link
    raise AssertionError(f"no link to an open item in the demo's {len(box)} emails")


def test_a_demo_email_link_opens_signed_in_at_the_demo_moment(tmp_path):
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = demo_env(tmp_path, port)
    demo = subprocess.run([sys.executable, "-m", "duban", "demo", "--until", "2020-09-08"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    command = re.search(rf"duban web --port {port} --as-of (\S+)", demo.stdout)  # serves where the links point
    assert command, demo.stdout[-2000:]
    as_of = command.group(1)
    assert as_of.startswith("2020-09-08T10:00")
    assert len(re.findall(r"^  (乡镇联络员|督办室|县领导) \S+: http\S+$", demo.stdout, re.M)) == 3
    link = open_item_link(tmp_path / "var" / "outbox" / "maildir", tmp_path / "duban.sqlite")
    item = "/item/" + link.split("?next=/item/", 1)[1]

    log = (tmp_path / "web.log").open("w")
    web = subprocess.Popen([sys.executable, "-m", "duban", "web", "--port", str(port), "--as-of", as_of], env=env,
                           cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                assert web.poll() is None and time.monotonic() < deadline, (tmp_path / "web.log").read_text()
                time.sleep(0.2)
        for seat, name, printed in re.findall(r"^  (乡镇联络员|督办室|县领导) (\S+): (http\S+)$", demo.stdout, re.M):
            with httpx.Client() as visitor:  # the three links the demo printed work at its moment
                assert visitor.get(printed).status_code == 303, seat
                assert name in visitor.get(f"http://127.0.0.1:{port}/").text, seat
        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
                                       locale="zh-CN").new_page()
            page.goto(link)
            page.wait_for_selector("section.item")
            assert page.url.endswith(item), page.url  # landed on the item, signed in
            assert "链接已过期" not in page.inner_text("main")
            assert page.locator(".who").inner_text()  # signed in: the name is shown
            assert "回放：页面时钟为 2020年9月8日" in page.inner_text("body")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "demo-1-item.png"), full_page=True)
            if page.locator("#value").count():
                page.fill("#value", "100")
            page.fill("#note", "演示：已完成。")
            page.get_by_role("button", name="报告办结").click()
            page.wait_for_selector(".notice.ok")
            history = page.inner_text("section.history")
            assert "2020年9月8日" in history and "10:0" in history and "回放" in history, history
            assert "逾期" not in history
            page.screenshot(path=str(ARTIFACTS / "demo-2-reported.png"), full_page=True)
            browser.close()
    finally:
        web.terminate()
        web.wait(timeout=30)
        log.close()
