"""The status sheet from a store with known states at a fixed moment: HTML, XLSX ledger, Markdown, CLI, overrides."""

from collections import Counter
from datetime import date

import pytest
from bs4 import BeautifulSoup
from openpyxl import load_workbook

from duban.sheets import status_sheet_name, write_status_sheet
from duban.sheets.charts import calendar_strip, progress_chart
from duban.sheets.data import PALETTE, load_snapshot
from duban.sheets.render import parse_formats
from duban.sheets.sheet import build_sheet
from tests.conftest import MINI_CAMPAIGN, at, settle

PLAN = "mini-2020"
AS_OF = at("2020-10-29 09:00")
# MINI_CAMPAIGN seen at AS_OF (21 items shown: due so far, plus three due 10-31)
# leaders-study of 9-16..9-30 and 送教上门 of 9-28..10-4 were still open when their next periods came due: missed
EXPECTED = {"done": 10, "done_late": 3, "overdue": 2, "missed": 2, "due_soon": 3, "upcoming": 0, "waived": 1}


@pytest.fixture
def sheet_dir(mini_campaign, tmp_path):
    write_status_sheet(engine=mini_campaign, plan_id=PLAN, as_of=AS_OF, out_dir=tmp_path)
    return tmp_path


def soup_of(folder, ext="html", part=""):
    text = (folder / status_sheet_name(PLAN, AS_OF, ext, part)).read_text(encoding="utf-8")
    return BeautifulSoup(text, "html.parser")


def test_snapshot_states_days_levels(mini_campaign):
    snapshot = load_snapshot(mini_campaign, PLAN, AS_OF)
    items = {i.id: i for i in snapshot.items}
    assert len(items) == 29
    leaders = items["leaders-study/leaders/2020-09-16"]
    assert (leaders.status, leaders.days, leaders.level, leaders.status_text) == ("missed", 29, 0, "未按期")
    assert leaders.verification == "未签收"
    visits = items["visits/ql-cadre-1/2020-09-01"]  # October's visit is not due yet: still overdue, escalated
    assert (visits.status, visits.days, visits.level, visits.level_text) == ("overdue", 29, 3, "三级（县扶贫办）")
    dispatch = items["dispatch/office/2020-10-12"]
    assert (dispatch.status, dispatch.days, dispatch.verification) == ("overdue", 17, "已签收")
    late = items["projects-started/qinglong/2020-09-01"]
    assert (late.status, late.days, late.value_text, late.target_met) == ("done_late", 5, "95%", False)
    assert late.target_text == "开工率 ≥ 100%"
    verified = items["projects-started/shuangjiang/2020-09-01"]
    assert (verified.verification, verified.evidence_count, verified.target_met) == ("已销号", 2, True)
    soon = items["visits/ql-cadre-1/2020-10-01"]
    assert (soon.status, soon.days, soon.owner_name, soon.unit.label) == ("due_soon", 2, "冯干部", "青龙街道")
    assert items["teaching/qinglong/2020-10-05"].verification == "免办"


def test_time_is_a_parameter(mini_campaign):
    """The same store judged at an earlier moment: nothing reported yet, fewer items due."""
    before = build_sheet(load_snapshot(mini_campaign, PLAN, at("2020-09-10 10:00")))
    assert before.tally.counts["done"] == 0
    assert before.tally.counts["due_soon"] == 3  # 9-15: leaders-study and projects-started x2
    assert all(i.due_day <= date(2020, 9, 17) or i.status == "due_soon" for s in before.sections for i in s.items)


def test_html_lights_counts_and_rows(sheet_dir):
    soup = soup_of(sheet_dir, part="detail")
    rows = soup.select("tr.item")
    assert Counter(r["data-status"] for r in rows) == {k: v for k, v in EXPECTED.items() if v}
    legend = {d["data-status"]: int(d.b.text) for d in soup.select(".lights .light[data-status]")}
    assert legend == EXPECTED
    assert soup.title.text == "督办事项进展情况表·明细（2020年10月29日（星期四））"
    assert "截至 2020年10月29日（星期四） 09:00" in soup.select(".meta")[-1].text
    # every row's pill carries the colour of its state
    for row in rows:
        pill = row.select_one(".pill")
        assert pill["class"][1] == "l-" + {"done": "green", "done_late": "blue", "due_soon": "yellow",
                                            "overdue": "red", "upcoming": "grey", "waived": "white",
                                            "missed": "purple"}[row["data-status"]]


def test_html_sections_order_most_pressing_first(sheet_dir):
    soup = soup_of(sheet_dir, part="detail")
    sections = [s["data-section"] for s in soup.select("section.section")]
    assert sections == ["二（一）", "二（二）", "二（三）", "二（六）"]
    first = soup.select_one('section[data-section="二（一）"]')
    statuses = [r["data-status"] for r in first.select("tr.item")]
    assert statuses == ["overdue", "missed", "due_soon", "due_soon", "due_soon", "done_late", "done", "done"]
    overdue = first.select("tr.item")[0]
    cells = [td.get_text(" ", strip=True) for td in overdue.select("td")]
    assert cells[4:7] == ["9月30日", "逾期29天", "三级（县扶贫办）"]
    projects = soup.select_one('tr[data-id="projects-started/shuangjiang/2020-09-01"]')
    assert "100% / 开工率 ≥ 100%" in projects.get_text(" ", strip=True)
    assert projects.select_one(".met") is not None
    assert [td.get_text(strip=True) for td in projects.select("td")][-2:] == ["2", "已销号"]


def test_html_units_worst_first_with_officials(sheet_dir):
    soup = soup_of(sheet_dir, part="detail")
    units = soup.select("table.units tbody tr")
    assert [u["data-unit"] for u in units] == ["qinglong", "leaders", "office", "shuangjiang"]
    qinglong = {td["data-k"]: td.get_text(strip=True) for td in units[0].select("td[data-k]")}
    assert (qinglong["逾期"], qinglong["临近"], qinglong["最长逾期"]) == ("1", "1", "29天")
    assert units[0].select("td")[-1].get_text(strip=True) == "分管：郑副主任；主要：吴书记"
    cells = {td["data-k"]: td.get_text(strip=True) for td in units[3].select("td[data-k]")}
    assert cells["按时办结率"] == "100%" and (cells["已报告未销号"], cells["已销号"]) == ("3", "1")


def test_html_pictures_are_inline_svg(sheet_dir):
    soup = soup_of(sheet_dir, part="detail")
    assert not soup.select("script")
    charts = soup.select("figure.progress svg")
    assert len(charts) == 1 + 4 + 4  # overall, per section, per unit
    assert all(svg.select_one("polyline.due") and svg.select_one("line.today") for svg in charts)
    strip = soup.select_one("figure.strip svg")
    assert strip.select_one("text.today-label").text == "今天 10月29日"
    bars = strip.select("rect[class^=dot-]")
    assert sum(int(b.title.text.split()[1]) for b in bars) == 29
    assert "print-color-adjust: exact" in soup.style.text and "@page { size: A4 landscape" in soup.style.text


def test_progress_chart_counts(mini_campaign):
    items = load_snapshot(mini_campaign, PLAN, AS_OF).items
    chart = progress_chart(items, date(2020, 9, 1), date(2020, 12, 31), date(2020, 10, 29))
    # waived items are left out
    due_by_today = sum(1 for i in items if i.status != "waived" and i.due_day <= date(2020, 10, 29))
    assert (chart.due_now, chart.done_now, chart.total) == (due_by_today, 13, 28)
    assert chart.percent == round(100 * 13 / due_by_today)
    strip = calendar_strip(items, date(2020, 9, 1), date(2020, 12, 31), date(2020, 10, 29),
                           load_snapshot(mini_campaign, PLAN, AS_OF).plan.calendar)
    red_days = {b.title.split("截止")[0] for b in strip.bars if b.light == "red"}
    assert red_days == {"9月30日", "10月12日"}
    assert {b.title.split("截止")[0] for b in strip.bars if b.light == "purple"} == {"10月4日"}  # missed only
    assert len(strip.rest_days) > 30  # weekends and the National Day holiday


def test_xlsx_ledger(sheet_dir):
    wb = load_workbook(sheet_dir / status_sheet_name(PLAN, AS_OF, "xlsx"))
    assert wb.sheetnames == ["汇总", "二（一）", "二（二）", "二（三）", "二（六）"]
    summary = wb["汇总"]
    assert summary.freeze_panes == "B3" and summary.auto_filter.ref == "A2:O7"
    names = [summary.cell(r, 1).value for r in range(3, 8)]
    assert names == ["青龙街道", "县委、县政府", "县扶贫办", "双江街道", "合计"]
    header = [c.value for c in summary[2]]
    assert header[2:9] == ["到期", "按时办结", "逾期办结", "已报告未销号", "已销号", "逾期未办", "未按期"]
    qinglong = dict(zip(header, [c.value for c in summary[3]], strict=True))
    assert qinglong["逾期未办"] == 1 and summary["H3"].fill.fgColor.rgb.endswith(PALETTE["red"][1])
    # the totals row adds up the units, column by column, and tells 已销号 from 已报告未销号
    totals = dict(zip(header, [c.value for c in summary[7]], strict=True))
    for name in header[2:11]:
        assert totals[name] == sum(summary.cell(r, header.index(name) + 1).value for r in range(3, 7)), name
    assert [totals[k] for k in ("到期", "按时办结", "逾期办结", "逾期未办", "未按期")] == [17, 10, 3, 2, 2]
    assert totals["已报告未销号"] + totals["已销号"] == 13 and totals["按时办结率"] == pytest.approx(10 / 17, abs=0.005)
    assert summary["C7"].font.b and summary["L7"].number_format == "0%"
    ws = wb["二（一）"]
    assert ws.freeze_panes == "C3" and ws.auto_filter.ref == "A2:N10"
    assert ws.print_title_rows == "$1:$2" and ws.print_options.gridLines  # printed: headers repeat, gridlines
    assert (ws.page_setup.orientation, ws.page_setup.paperSize, ws.page_setup.fitToWidth) == ("landscape", 9, 1)
    header = [c.value for c in ws[2]][:7]
    assert header == ["状态", "条款", "事项", "责任单位（人）", "所属单位", "截止日期", "剩余/逾期"]
    assert ws.column_dimensions["C"].width == 34
    fills = Counter(ws.cell(r, 1).fill.fgColor.rgb[-6:] for r in range(3, ws.max_row + 1))
    assert fills == {PALETTE["red"][1]: 1, PALETTE["purple"][1]: 1, PALETTE["yellow"][1]: 3, PALETTE["blue"][1]: 1,
                     PALETTE["green"][1]: 2}
    assert ws["A3"].value == "逾期" and ws["F3"].value.date() == date(2020, 9, 30) and ws["G3"].value == "逾期29天"
    projects = next(row for row in wb["二（二）"].iter_rows(min_row=3, values_only=True)
                    if row[-1] == "projects-started/shuangjiang/2020-09-01")
    assert projects[8:12] == (100, "开工率 ≥ 100%", 2, "已销号")
    statuses = Counter(ws.cell(r, 1).value for ws in wb.worksheets[1:] for r in range(3, ws.max_row + 1))
    assert statuses == {"按时办结": 10, "逾期办结": 3, "逾期": 2, "未按期": 2, "临近": 3, "免办": 1}


def test_markdown_for_chat(sheet_dir):
    text = (sheet_dir / status_sheet_name(PLAN, AS_OF, "md")).read_text(encoding="utf-8")
    assert text.startswith("**督办事项进展情况表**（截至2020年10月29日（星期四） 09:00）")
    assert "🔴 逾期 2　🟣 未按期 2" in text and "🟢 按时办结 10" in text
    # one line per task: the two officials' visits due 10-31 share one
    assert text.count("\n- 🔴") == 2 and text.count("\n- 🟡") == 2
    visits = "- 🟡 二（一）2 结对帮扶干部开展帮扶联系｜青龙街道、双江街道（冯干部、周干部）｜2项，10月31日截止｜剩余2天"
    assert visits in text
    assert "| 青龙街道 | 1 | 29天 | 三级（县扶贫办） |" in text


def test_templates_can_be_overridden(mini_campaign, tmp_path):
    own = tmp_path / "own" / "sheets"
    own.mkdir(parents=True)
    (own / "status.md").write_text("本县自定：逾期{{ sheet.tally.counts.overdue }}项\n", encoding="utf-8")
    (own / "_style.css").write_text("body { background: #fffbe6; }\n", encoding="utf-8")
    out = tmp_path / "out"
    write_status_sheet(engine=mini_campaign, plan_id=PLAN, as_of=AS_OF, out_dir=out, formats=["md", "html"],
                       templates_dir=tmp_path / "own")
    assert (out / status_sheet_name(PLAN, AS_OF, "md")).read_text(encoding="utf-8") == "本县自定：逾期2项"
    soup = soup_of(out, part="detail")
    assert soup.style.text.strip() == "body { background: #fffbe6; }"  # the own stylesheet replaced the shipped one
    assert len(soup.select("tr.item")) == 21  # the shipped status.html is still used


def test_cli_sheet(mini_campaign, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from duban.cli import _load_commands
    from duban.cli.common import app

    _load_commands()
    monkeypatch.setenv("DUBAN_DATABASE_URL", mini_campaign.url.render_as_string(hide_password=False))
    out = tmp_path / "sheets"
    result = CliRunner().invoke(app, ["sheet", "--as-of", "2020-10-29T09:00", "--out", str(out), "--format", "html,md"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [f"status-{PLAN}-2020-10-29-detail.html",
                                                     f"status-{PLAN}-2020-10-29.html", f"status-{PLAN}-2020-10-29.md"]
    bad = CliRunner().invoke(app, ["sheet", "--format", "pdf", "--out", str(out)])
    assert bad.exit_code == 1 and "unknown format 'pdf'" in bad.output and "Traceback" not in bad.output


def test_parse_formats():
    assert parse_formats("html, XLSX,html") == ["html", "xlsx"]
    with pytest.raises(ValueError, match="use html, xlsx, md"):
        parse_formats("docx")


def test_report_after_the_moment_does_not_count_yet(mini_store):
    """A report made after the sheet's moment does not count yet."""
    occurrence = "projects-started/shuangjiang/2020-09-01"
    settle(mini_store, occurrence, **MINI_CAMPAIGN[occurrence])
    sheet = build_sheet(load_snapshot(mini_store, PLAN, at("2020-09-14 12:00")))
    item = next(i for s in sheet.sections for i in s.items if i.id == occurrence)
    assert item.status == "due_soon" and item.evidence_count == 0 and item.value is None
