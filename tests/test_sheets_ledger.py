"""The XLSX ledger's tabs: named by section title (Excel's 31 characters, unique, no forbidden characters), and a
问题整改 tab listing imported problems with their original and current (extended) deadlines."""

from datetime import UTC, date, datetime
from pathlib import Path

from openpyxl import load_workbook

from duban import actions
from duban.casework.extension import decide_extension, request_extension
from duban.casework.plan import load_setup
from duban.casework.problems import import_problems
from duban.catalog import load_catalog, parse_catalog
from duban.sheets import status_sheet_name, write_status_sheet
from duban.sheets.book import sheet_name
from duban.sync import sync
from tests.conftest import DATA, at

PLAN = "mini-2020"
AS_OF = at("2020-11-20 09:00")
SECTIONS = """sections:
  二（一）: 全面落实“四个不摘”要求
  二（二）: "全面化解疫情灾情影响：一个超过三十一个字符的很长很长很长的标题[含]禁用/字符?"
"""


def test_sheet_names_are_valid_and_unique():
    taken: set[str] = set()
    long = "二（二） 全面化解疫情灾情影响：一个超过三十一个字符的很长很长很长的标题[含]禁用/字符?"
    first, second = sheet_name(long, taken), sheet_name(long, taken)
    assert len(first) == 31 and len(second) <= 31 and first != second and second.endswith("-2")
    assert not set("[]:*?/\\") & set(first + second)
    assert sheet_name("汇总", taken) == "汇总" and sheet_name("汇总", taken) == "汇总-2"


def test_catalog_refuses_sections_without_titles():
    text = (DATA / "mini.yaml").read_text(encoding="utf-8") + "sections: [二（一）]\n"
    try:
        parse_catalog(text, "mini.yaml")
    except Exception as error:  # the catalog's own error type, checked by its message
        assert "sections: give each section's clause and title" in str(error)
    else:
        raise AssertionError("a list of clauses was accepted as sections")


def test_shipped_section_titles_are_the_plan_s_headings():
    root = Path(__file__).parent.parent
    catalog = load_catalog(root / "tasks_catalog.yaml")
    text = (root / "examples" / "yunyang-2020-plan.txt").read_text(encoding="utf-8")
    assert set(catalog.sections) == {task.section for task in catalog.tasks}
    for title in catalog.sections.values():
        assert title in text, title


def test_ledger_tabs_by_title_and_problems_with_both_deadlines(engine, mini_people, tmp_path):
    text = (DATA / "mini.yaml").read_text(encoding="utf-8") + SECTIONS
    catalog = parse_catalog(text, "mini.yaml")
    sync(engine=engine, catalog=catalog, catalog_text=text, people=mini_people, now=datetime(2020, 9, 1, tzinfo=UTC))
    problems = tmp_path / "problems.csv"
    problems.write_text("来源,问题描述,责任单位,整改时限,整改要求\n国家普查,危房改造未完成,双江街道,2020-10-30,限期改造\n"
                        "市级督查,台账不全,qinglong,2020-11-30,\n", encoding="utf-8")
    with engine.begin() as connection:
        setup = load_setup(connection, PLAN)
        office = actions.actor_for(connection, plan_id=PLAN, person_id="office-liaison")
        late, pending = import_problems(connection, setup=setup, path=problems, source="", actor=office,
                                        now=at("2020-10-09 10:00"))
        head = actions.actor_for(connection, plan_id=PLAN, person_id="sj-head")
        request_extension(connection, setup=setup, actor=head, occurrence_id=late, until=date(2020, 11, 15),
                          reason="汛期道路中断", now=at("2020-10-15 10:00"), source="web")
        decide_extension(connection, setup=setup, actor=actions.actor_for(connection, plan_id=PLAN,
                                                                          person_id="office-head"),
                         occurrence_id=late, grant=True, note="同意", now=at("2020-10-16 10:00"), source="web")
    write_status_sheet(engine=engine, plan_id=PLAN, as_of=AS_OF, out_dir=tmp_path, formats=["xlsx"])
    wb = load_workbook(tmp_path / status_sheet_name(PLAN, AS_OF, "xlsx"))
    names = wb.sheetnames
    assert names[0] == "汇总" and names[-1] == "问题整改"
    assert "二（一） 全面落实“四个不摘”要求" in names
    long = next(n for n in names if n.startswith("二（二）"))
    assert len(long) == 31 and not set("[]:*?/\\") & set(long)
    assert "二（三）" in names  # a section without a title keeps its clause
    assert wb["二（一） 全面落实“四个不摘”要求"]["A1"].value.startswith("二（一） 全面落实“四个不摘”要求 督办台账")
    ws = wb["问题整改"]
    header = [c.value for c in ws[2]]
    rows = {r[header.index("编号")]: dict(zip(header, r, strict=True))
            for r in ws.iter_rows(min_row=3, values_only=True)}
    assert set(rows) == {late, pending}
    extended = rows[late]
    assert (extended["来源"], extended["责任单位"]) == ("国家普查", "双江街道")
    assert extended["整改时限"].date() == date(2020, 11, 15) and extended["原定时限"].date() == date(2020, 10, 30)
    assert extended["状态"] == "逾期" and extended["剩余/逾期"] == "逾期5天"
    assert rows[pending]["原定时限"] is None and rows[pending]["整改时限"].date() == date(2020, 11, 30)
    assert ws.freeze_panes == "D3" and ws.auto_filter.ref == "A2:J4"
