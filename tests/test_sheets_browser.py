"""The shipped plan's sheet, bulletin and digest in headless Chromium: desktop, A4 paper and a 390 px phone.

Screenshots and PDFs go to test-artifacts/ (git-ignored) for people to look at.
"""

import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from browsing import ARTIFACTS, needs_chromium

from duban.config import ROOT
from duban.digest import UNITS_SHOWN

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The shipped plan and example directory, a campaign replayed to the end of October, rendered."""
    from duban import demo
    from duban.bulletin import write_bulletin
    from duban.catalog import load_catalog
    from duban.digest import queue_digest
    from duban.directory import load_people
    from duban.schedule import calendar_for
    from duban.sheets import write_status_sheet
    from duban.store import make_engine, migrate
    from duban.sync import sync

    folder = tmp_path_factory.mktemp("shipped")
    engine = make_engine(f"sqlite:///{folder / 'duban.sqlite'}")
    migrate(engine)
    catalog = load_catalog(ROOT / "tasks_catalog.yaml")
    people = load_people(ROOT / "examples" / "contacts.csv", catalog)
    sync(engine=engine, catalog=catalog, catalog_text=(ROOT / "tasks_catalog.yaml").read_text(encoding="utf-8"),
         people=people, now=datetime(2020, 9, 1, tzinfo=UTC))
    plan, tz = catalog.plan, catalog.plan.tz
    demo.report_due(engine=engine, plan_id=plan.id, as_of=datetime(2020, 11, 1, tzinfo=tz),
                    calendar=calendar_for(catalog), tz=tz)
    sheet, detail = write_status_sheet(engine=engine, plan_id=plan.id, as_of=datetime(2020, 10, 29, 9, 0, tzinfo=tz),
                                       out_dir=folder, formats=["html"])
    bulletin = write_bulletin(engine=engine, plan_id=plan.id, month=date(2020, 10, 1), out_dir=folder,
                              formats=["html"])[0]
    monday = datetime(2020, 10, 26, 8, 30, tzinfo=tz)
    mail = queue_digest(engine=engine, plan_id=plan.id, as_of=monday, now=monday, dry_run=True).notifications[0]
    digest = folder / "digest.html"
    digest.write_text(mail["body_html"], encoding="utf-8")
    engine.dispose()
    ARTIFACTS.mkdir(exist_ok=True)
    for path in (sheet, detail, bulletin):
        shutil.copy(path, ARTIFACTS / path.name)
    return {"sheet": sheet, "detail": detail, "bulletin": bulletin, "digest": digest}


def shoot(browser, html: Path, name: str, width: int, height: int, *, phone: bool = False, paper: str = "",
          pdf: bool = False):
    """Open a page, keep a screenshot of its top (and of its print layout, and a PDF), return the page."""
    page = browser.new_page(viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone,
                            device_scale_factor=2 if phone else 1)
    page.goto(html.as_uri())
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if paper:
        page.emulate_media(media="print")
        page.screenshot(path=str(ARTIFACTS / f"{paper}-print.png"))
    if pdf:  # the whole document laid out on A4 pages: seconds for a county's sheet, so only for the bulletin
        page.pdf(path=str(ARTIFACTS / f"{paper}.pdf"), prefer_css_page_size=True, print_background=True)
    return page


def pdf_pages(name: str) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", (ARTIFACTS / f"{name}.pdf").read_bytes()))


def test_summary_prints_on_two_a4_pages(browser, rendered):
    """The shipped plan's summary (69 units, 273 items overdue or missed) on A4 as Chromium prints it."""
    page = shoot(browser, rendered["sheet"], "summary-desktop", 1280, 1800, paper="summary-a4")
    page.pdf(path=str(ARTIFACTS / "summary-a4.pdf"), format="A4", print_background=True)
    assert 1 <= pdf_pages("summary-a4") <= 2
    assert page.locator(".figures .figure").count() == 9
    assert page.locator("table.units tbody tr").count() <= 26  # 24 units by name, the rest together, the total
    assert page.locator("table.worst tbody tr").count() == 20
    assert page.locator("table.units tr.total").is_visible()
    page.close()
    phone = shoot(browser, rendered["sheet"], "summary-phone", 390, 1800, phone=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.close()


def test_sheet_on_desktop_and_a4(browser, rendered):
    page = shoot(browser, rendered["detail"], "sheet-desktop", 1280, 1600, paper="sheet-a4")
    lights = page.locator(".lights .light[data-status]")
    assert lights.count() == 7 and lights.first.is_visible()  # missed (未按期) has its own light
    assert page.locator("figure.strip svg rect[class^=dot-]").count() > 50
    assert page.locator("section.section").count() >= 10
    assert page.locator("table.items thead").first.evaluate("e => getComputedStyle(e).display") == "table-header-group"
    page.close()


def test_sheet_on_a_phone(browser, rendered):
    page = shoot(browser, rendered["detail"], "sheet-phone", 390, 1800, phone=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    first = page.locator("section.section tr.item").first
    first.scroll_into_view_if_needed()
    box = first.bounding_box()
    assert box["width"] <= 390 and box["height"] < 260  # a card, not a squeezed table row
    page.screenshot(path=str(ARTIFACTS / "sheet-phone-items.png"))
    page.close()


def test_bulletin_on_a4_and_a_phone(browser, rendered):
    page = shoot(browser, rendered["bulletin"], "bulletin-desktop", 1280, 1400, paper="bulletin-a4", pdf=True)
    assert "工作进展通报（2020年10月）" in page.locator("h1").inner_text()
    assert page.locator(".redhead").evaluate("e => getComputedStyle(e).color") == "rgb(192, 0, 0)"
    assert pdf_pages("bulletin-a4") >= 2
    page.close()
    phone = shoot(browser, rendered["bulletin"], "bulletin-phone", 390, 1800, phone=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.locator("table.overdue").scroll_into_view_if_needed()
    phone.screenshot(path=str(ARTIFACTS / "bulletin-phone-overdue.png"))
    phone.close()


def test_digest_email_on_a_phone(browser, rendered):
    page = shoot(browser, rendered["digest"], "digest-phone", 390, 1600, phone=True)
    assert page.locator("h3.unit").count() == UNITS_SHOWN  # the units with the oldest overdue work; the rest counted
    assert "个单位有逾期或未按期事项" in page.locator("body").inner_text()
    page.close()
