"""The monthly bulletin (月通报): per unit counts, rankings among peers, the month's overdue list; HTML and XLSX."""

from datetime import date
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from openpyxl import load_workbook

from duban.bulletin import (
    UnitMonth,
    bulletin_name,
    bulletin_subject,
    load_bulletin,
    parse_month,
    previous_month,
    rank,
    write_bulletin,
)
from duban.counts import Counts
from duban.sheets.data import PALETTE
from duban.timeutil import MomentError
from tests.conftest import at

PLAN = "mini-2020"
OCTOBER = date(2020, 10, 1)
CLOSE = at("2020-11-01 00:00")  # the fixture's records end on 10-26: judge when the month closed, explicitly


def test_october_counts_per_unit(mini_campaign):
    b = load_bulletin(mini_campaign, PLAN, OCTOBER, as_of=CLOSE)
    assert b.as_of == at("2020-11-01 00:00") and b.issue_day == date(2020, 11, 1) and b.number == 2
    assert b.title == "测试工作进展通报（2020年10月）"
    counts = {m.unit.id: (m.due, m.on_time, m.late, m.open, m.waived, m.rate_text) for m in b.units}
    assert counts == {"office": (4, 2, 1, 1, 0, "50%"), "leaders": (2, 0, 1, 1, 0, "0%"),
                      "shuangjiang": (3, 2, 0, 1, 0, "67%"), "qinglong": (2, 0, 0, 2, 1, "0%")}
    t = b.total
    assert (t.due, t.on_time, t.late, t.open, t.waived, t.rate_text) == (11, 4, 2, 5, 1, "36%")
    assert [(r.kind, [(m.unit.id, m.rank) for m in r.units]) for r in b.rankings] == [
        ("town", [("shuangjiang", 1), ("qinglong", 2)]), ("department", [("office", 1)])]


def test_states_are_judged_when_the_month_closed(mini_campaign):
    """poverty-day (due 10-17) was reported 10-26: late. Seen on 10-20 it was still open."""
    early = load_bulletin(mini_campaign, PLAN, OCTOBER, as_of=at("2020-10-20 12:00"))
    office = next(m for m in early.units if m.unit.id == "office")
    assert (office.due, office.on_time, office.late, office.open) == (4, 2, 0, 2)
    leaders = next(m for m in early.units if m.unit.id == "leaders")
    assert (leaders.due, leaders.late, leaders.open) == (1, 1, 0)  # reported 10-20 10:00; 10-31 not due yet
    assert early.total.due == 8  # items due 10-31 are left out until their deadline


def test_html_like_a_notice(mini_campaign, tmp_path):
    write_bulletin(engine=mini_campaign, plan_id=PLAN, month=OCTOBER, out_dir=tmp_path, formats=["html"], as_of=CLOSE)
    soup = BeautifulSoup((tmp_path / bulletin_name(PLAN, OCTOBER, "html")).read_text(encoding="utf-8"), "html.parser")
    assert soup.h1.text == "测试工作进展通报（2020年10月）"
    assert soup.select_one(".redhead").text == "县扶贫开发领导小组办公室"
    assert [s.text for s in soup.select(".docno span")] == ["第2期", "2020年11月1日（星期日）"]
    summary = {b["data-k"]: b.text for b in soup.select("p.summary b")}
    # 送教上门 of 青龙街道's first week was still open when its second week came due: missed (未按期), and open
    assert summary == {"due": "11", "on_time": "4", "late": "2", "open": "5", "missed": "1", "rate": "36%"}
    assert ("乡镇（街道）中，按时办结率居前的是双江街道（67%），居后的是青龙街道（0%）；"
            "县级部门中仅县扶贫办有到期事项，按时办结率50%。") in soup.select_one("p.summary").text
    assert not soup.select("p.asof")  # judged when the month closed: nothing to say
    towns = soup.select_one('table.ranking[data-kind="town"]')
    assert [(r["data-unit"], r.select_one("td.rank").text) for r in towns.select("tbody tr")] == [
        ("shuangjiang", "1"), ("qinglong", "2")]
    overdue = soup.select("table.overdue tr.item")
    assert [r["data-status"] for r in overdue] == ["missed"] + ["overdue"] * 4 + ["done_late"] * 2
    assert overdue[0]["data-id"] == "teaching/qinglong/2020-09-28"
    assert overdue[0].select("td")[4].text == "未按期（逾期28天）"
    assert overdue[-1].select("td")[4].text == "超期5天办结"
    assert "县扶贫开发领导小组办公室" in soup.select_one(".signature").text
    assert "@page { size: A4 portrait" in soup.style.text


def test_xlsx_workbook(mini_campaign, tmp_path):
    [path] = write_bulletin(engine=mini_campaign, plan_id=PLAN, month=OCTOBER, out_dir=tmp_path, formats=["xlsx"],
                            as_of=CLOSE)
    wb = load_workbook(path)
    assert wb.sheetnames == ["各单位情况", "乡镇（街道）排名", "县级部门排名", "逾期事项"]
    units = wb["各单位情况"]
    assert units["A1"].value == "测试工作进展通报（2020年10月）" and units.freeze_panes == "C3"
    rows = list(units.iter_rows(min_row=3, values_only=True))
    assert [r[1] for r in rows] == ["县扶贫办", "县委、县政府", "双江街道", "青龙街道", "合计"]
    assert rows[-1][3:8] == (11, 4, 2, 5, 1) and rows[-1][8] == pytest.approx(4 / 11)
    assert units["G3"].fill.fgColor.rgb.endswith(PALETTE["red"][1])  # 县扶贫办 has one still open
    towns = list(wb["乡镇（街道）排名"].iter_rows(min_row=3, values_only=True))
    assert [(r[0], r[1]) for r in towns] == [(1, "双江街道"), (2, "青龙街道")]
    overdue = wb["逾期事项"]
    assert overdue.auto_filter.ref == "A2:J9"
    assert (overdue["A3"].value, overdue["A4"].value) == ("未按期", "逾期未办结")


def test_rank_shares_places_for_equal_standing():
    a, b = UnitMonth(None, Counts(done=2)), UnitMonth(None, Counts(done=4))
    c, d = UnitMonth(None, Counts(done=1, overdue=1)), UnitMonth(None)
    assert [u.rank for u in rank([c, a, b, d])] == [1, 1, 3]
    assert [u.rank_text for u in (a, b, c)] == ["并列第1", "并列第1", "3"]
    assert d.rank is None  # nothing due: not ranked


def test_months_and_titles():
    assert parse_month("2020-10") == OCTOBER and previous_month(date(2021, 1, 1)) == date(2020, 12, 1)
    assert previous_month(date(2020, 11, 1)) == OCTOBER
    with pytest.raises(MomentError, match="YYYY-MM"):
        parse_month("2020-13")
    assert bulletin_subject("云阳县脱贫攻坚“收官大决战”实施方案") == "云阳县脱贫攻坚“收官大决战”"
    assert bulletin_subject("方案") == "方案"


def test_cli_bulletin(mini_campaign, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from duban.cli import _load_commands
    from duban.cli.common import app

    _load_commands()
    monkeypatch.setenv("DUBAN_DATABASE_URL", mini_campaign.url.render_as_string(hide_password=False))
    out = tmp_path / "bulletins"
    result = CliRunner().invoke(app, ["bulletin", "--month", "2020-10", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [f"bulletin-{PLAN}-2020-10.html", f"bulletin-{PLAN}-2020-10.xlsx"]
    bad = CliRunner().invoke(app, ["bulletin", "--month", "October"])
    assert bad.exit_code == 1 and "write YYYY-MM" in bad.output


@pytest.mark.slow
def test_sheets_and_bulletin_flows_write_into_var(mini_campaign, prefect_harness, tmp_path, monkeypatch):
    """`duban run sheets` and `duban run bulletin` (on the 1st: the month before) write under var/."""
    from duban.cli.delivery import call_flow

    if mini_campaign.dialect.name != "sqlite":
        pytest.skip("flow tests run once, on SQLite (the engine below them runs on both)")
    monkeypatch.setenv("DUBAN_DATABASE_URL", mini_campaign.url.render_as_string(hide_password=False))
    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path / "var"))
    sheets = call_flow("sheets", as_of="2020-10-29T09:00:00+08:00")
    names = sorted(Path(p).name for p in sheets["files"])
    assert names == [f"status-{PLAN}-2020-10-29{part}" for part in ("-detail.html", ".html", ".md", ".xlsx")]
    assert all(Path(p).parent == tmp_path / "var" / "sheets" for p in sheets["files"])
    bulletin = call_flow("bulletin", as_of="2020-11-01T08:00:00+08:00")
    assert bulletin["month"] == "2020-10" and bulletin["lines"][0] == f"bulletin {PLAN} 2020-10"
    assert (tmp_path / "var" / "bulletins" / bulletin_name(PLAN, OCTOBER, "xlsx")).is_file()
    dry = call_flow("sheets", as_of="2020-10-30T09:00:00+08:00", dry_run=True)
    assert dry["files"] == [] and not (tmp_path / "var" / "sheets" / f"status-{PLAN}-2020-10-30.html").exists()


TIES_PLAN = """
plan: {id: ties-2020, title: 并列测试方案, timezone: Asia/Shanghai, start: 2020-09-01, end: 2020-12-31, office: office}
units:
  - {id: office, name: 县扶贫开发领导小组办公室, short: 县扶贫办, kind: department}
  - {id: t1, name: 甲镇, kind: town}
  - {id: t2, name: 乙镇, kind: town}
  - {id: t3, name: 丙镇, kind: town}
  - {id: t4, name: 泥溪镇, kind: town}
  - {id: t5, name: 戊镇, kind: town}
groups:
  - {id: towns, name: 各乡镇（街道）, members: [t1, t2, t3, t4]}
tasks:
  - {id: a, ref: 一（一）1, title: 十月上旬台账, owner: "group:towns", due: 2020-10-10}
  - {id: b, ref: 一（一）2, title: 十月下旬台账, owner: "group:towns", due: 2020-10-20}
  - {id: c, ref: 一（二）1, title: 十一月台账, owner: "group:towns", due: 2020-11-10}
  - {id: d, ref: 一（二）2, title: 泥溪镇专项, owner: t4, due: 2020-11-12}
"""


@pytest.fixture
def ties(engine):
    """Four towns in October: 100%, 50%, 50%, 0%; a fifth town with nothing due. In November all four at 0%,
    泥溪镇 with one item more (the issue's case)."""
    from datetime import UTC, datetime

    from duban.catalog import parse_catalog
    from duban.sync import sync
    from tests.conftest import settle

    sync(engine=engine, catalog=parse_catalog(TIES_PLAN, "ties.yaml"), catalog_text=TIES_PLAN, people=[],
         now=datetime(2020, 9, 1, tzinfo=UTC))
    for town, task, moment in (("t1", "a", "2020-10-09 10:00"), ("t1", "b", "2020-10-19 10:00"),
                               ("t2", "a", "2020-10-09 11:00"), ("t3", "a", "2020-10-09 12:00"),
                               ("t3", "b", "2020-10-23 10:00")):
        settle(engine, f"{task}/{town}/2020-09-01", plan_id="ties-2020", state="reported", reported_at=moment)
    return engine


def test_ties_share_a_rank_and_nobody_is_named_for_nothing(ties, tmp_path):
    october = load_bulletin(ties, "ties-2020", OCTOBER, as_of=CLOSE)
    [towns] = october.rankings
    assert [(m.unit.label, m.rate_text, m.rank_text) for m in towns.units] == [
        ("甲镇", "100%", "1"), ("乙镇", "50%", "并列第2"), ("丙镇", "50%", "并列第2"), ("泥溪镇", "0%", "4")]
    assert [u.label for u in towns.idle] == ["戊镇"]  # nothing due: listed apart, not ranked
    write_bulletin(engine=ties, plan_id="ties-2020", month=OCTOBER, out_dir=tmp_path, formats=["html"], as_of=CLOSE)
    soup = BeautifulSoup((tmp_path / bulletin_name("ties-2020", OCTOBER, "html")).read_text(encoding="utf-8"),
                         "html.parser")
    assert "乡镇（街道）中，按时办结率居前的是甲镇（100%），居后的是泥溪镇（0%）。" in soup.select_one("p.summary").text
    ranks = soup.select_one('table.ranking[data-kind="town"]')
    assert [r.select_one("td.rank").text for r in ranks.select("tbody tr")] == ["1", "并列第2", "并列第2", "4"]
    assert soup.select_one("p.idle").text == "本月无到期事项、不参与排名的乡镇（街道）（1个）：戊镇。"

    november = load_bulletin(ties, "ties-2020", date(2020, 11, 1), as_of=at("2020-12-01 00:00"))
    [towns] = november.rankings
    assert [(m.unit.label, m.due, m.rank_text) for m in towns.units] == [
        ("甲镇", 1, "并列第1"), ("乙镇", 1, "并列第1"), ("丙镇", 1, "并列第1"), ("泥溪镇", 2, "并列第1")]
    assert towns.first == [] and towns.last == []  # all at 0%: more items due names nobody last
    write_bulletin(engine=ties, plan_id="ties-2020", month=date(2020, 11, 1), out_dir=tmp_path, formats=["html"],
                   as_of=at("2020-12-01 00:00"))
    text = (tmp_path / bulletin_name("ties-2020", date(2020, 11, 1), "html")).read_text(encoding="utf-8")
    summary = BeautifulSoup(text, "html.parser").select_one("p.summary").text
    assert "乡镇（街道）4个单位按时办结率均为0%，并列第1。" in summary and "居后" not in summary


def test_a_store_whose_records_end_early_is_judged_then_and_says_so(ties, tmp_path):
    # the store's last record is 丙镇's report of 10-23 10:00; 10-26..10-30 are workdays it knows nothing of
    b = load_bulletin(ties, "ties-2020", OCTOBER)
    assert b.as_of == at("2020-10-23 10:00") and b.data_end == at("2020-10-23 10:00") and b.judged_early
    write_bulletin(engine=ties, plan_id="ties-2020", month=OCTOBER, out_dir=tmp_path, formats=["html"],
                   now=at("2021-01-05 09:00"))
    soup = BeautifulSoup((tmp_path / bulletin_name("ties-2020", OCTOBER, "html")).read_text(encoding="utf-8"),
                         "html.parser")
    assert soup.select_one("p.asof").text == (
        "本通报按截至2020年10月23日（星期五） 10:00的情况统计（系统记录止于此时，月末前的其余情况未计入），"
        "此后到期的事项不计入本期。")
    # early in November nothing has fallen due: no town is ranked, every town is listed apart
    early = load_bulletin(ties, "ties-2020", date(2020, 11, 1), as_of=at("2020-11-05 09:00"))
    assert early.rankings == []
    assert [u.label for u in early.idle] == ["甲镇", "乙镇", "丙镇", "泥溪镇", "戊镇", "县扶贫办"]
    write_bulletin(engine=ties, plan_id="ties-2020", month=date(2020, 11, 1), out_dir=tmp_path, formats=["html"],
                   as_of=at("2020-11-05 09:00"))
    soup = BeautifulSoup((tmp_path / bulletin_name("ties-2020", date(2020, 11, 1), "html")).read_text(
        encoding="utf-8"), "html.parser")
    idle = "本月无到期事项、不参与排名的乡镇（街道）（5个）：甲镇、乙镇、丙镇、泥溪镇、戊镇。"
    assert soup.select_one("p.idle").text == idle
    # a store that records the month's last workday is judged when the month closed, as before
    from tests.conftest import settle

    settle(ties, "c/t1/2020-09-01", plan_id="ties-2020", state="acked", acked_at="2020-10-30 17:00")
    assert load_bulletin(ties, "ties-2020", OCTOBER).as_of == CLOSE
