"""`duban draft` on plan texts written for the tests, in three styles, each with its expected tasks.

numbered.txt: clauses numbered 一、 （一） 1. （1） ①, deadlines, windows and rhythms in many forms.
table.md: a 任务分解表 as a Markdown table (owner, co-owner and deadline columns).
A Word file written here with python-docx, whose numbering (一、 （一） 1.) lives in numbering.xml
and in a list style, not in the text. And the shipped plan against the hand-made catalog.
"""

import importlib.util
from pathlib import Path

import pytest
import yaml
from draft_support import DRAFT_DATA, plain, write_word_plan

from duban.draft.build import make_draft
from duban.draft.model import Draft

ROOT = Path(__file__).parent.parent


def _expected(name: str) -> dict:
    return yaml.safe_load((DRAFT_DATA / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("plan", "expected"), [("numbered.txt", "numbered.expected.yaml"), ("table.md", "table.expected.yaml")]
)
def test_plan_gives_exactly_its_expected_tasks(plan, expected):
    want = _expected(expected)
    draft = make_draft(DRAFT_DATA / plan)
    assert (draft.title, str(draft.issued), str(draft.start), str(draft.end)) == (
        want["title"],
        want["issued"],
        want["start"],
        want["end"],
    )
    assert [plain(t) for t in draft.tasks] == want["tasks"]
    assert [{"ref": p.ref, "quote": p.quote} for p in draft.pending] == want["pending"]


def test_word_plan_numbering_gives_the_refs(tmp_path):
    draft = make_draft(write_word_plan(tmp_path / "flood.docx"))
    assert (draft.title, str(draft.issued)) == ("某某镇2025年防汛工作方案", "2025-04-01")
    assert [plain(t) for t in draft.tasks] == [
        {
            "ref": "一（一）1",
            "quote": "镇应急办5月15日前完成辖区隐患点排查",
            "due": "2025-05-15",
            "owners": ["镇应急办"],
        },
        {"ref": "一（一）2", "quote": "各村（社区）每周开展一次巡查", "every": "weekly", "owners": ["各村（社区）"]},
        {"ref": "一（一）2", "quote": "汛期每日报告雨情水情", "every": "daily", "owners": ["各村（社区）"]},
        {
            "ref": "一（二）1",
            "quote": "镇防汛办实行领导带班值班制度",
            "due": "2025-09-30",
            "from": "2025-06-01",
            "owners": ["镇防汛办"],
        },
        {"ref": "一（二）1表1", "quote": "完成防汛物资储备", "due": "2025-05-31", "owners": ["镇应急办"]},
        {
            "ref": "二（一）1",
            "quote": "镇党委、镇政府每月至少召开2次防汛工作专题会议",
            "every": "monthly",
            "times": 2,
            "owners": ["镇党委、镇政府"],
        },
    ]
    assert [(p.ref, p.quote) for p in draft.pending] == [("二（一）1", "各村（社区）要持续做好群众转移避险演练")]


def _all_drafts(tmp_path: Path) -> list[Draft]:
    return [
        make_draft(DRAFT_DATA / "numbered.txt"),
        make_draft(DRAFT_DATA / "table.md"),
        make_draft(write_word_plan(tmp_path / "flood.docx")),
        make_draft(ROOT / "examples" / "yunyang-2020-plan.txt"),
    ]


def test_no_date_is_invented(tmp_path):
    """Every task's schedule comes from words of the document; every quote is the document's, verbatim."""
    for draft in _all_drafts(tmp_path):
        for task in draft.tasks:
            words = task.schedule.words
            if words.startswith("标题“"):
                words = words[3:-1]
            assert words in draft.text, (draft.source, task.ref, task.schedule)
            assert task.quote in draft.text, (draft.source, task.quote)


def test_undated_obligations_are_listed_not_dated(tmp_path):
    """Sentences with 抓紧/持续/常态化 and no date are 待定; none of them became a task."""
    for draft in _all_drafts(tmp_path):
        quotes = {t.quote for t in draft.tasks}
        for item in draft.pending:
            assert item.quote not in quotes
    yunyang = _all_drafts(tmp_path)[-1]
    assert any("抓紧修复道路、水利、农业生产等基础设施" in p.quote and p.words == "抓紧" for p in yunyang.pending)
    assert any("常态化排查" in p.quote and p.words == "常态化" for p in yunyang.pending)


def test_shipped_plan_recall_and_precision_against_the_catalog():
    spec = importlib.util.spec_from_file_location("bench_draft", ROOT / "benchmarks" / "bench_draft.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.measure()
    assert result["recall"] >= 0.9, result["missed"]
    assert result["precision"] >= 0.8, [(t.ref, t.quote) for t in result["false"]]


def test_notice_without_clause_numbers_uses_paragraphs_as_clauses():
    draft = make_draft(DRAFT_DATA / "notice.txt")
    assert (draft.title, str(draft.issued)) == ("关于做好2024年秋冬季森林防火工作的通知", "2024-09-20")
    assert [plain(t) for t in draft.tasks] == [
        {
            "ref": "第3段",
            "quote": "各乡镇要于10月31日前完成林区防火隔离带清理",
            "due": "2024-10-31",
            "owners": ["各乡镇"],
        },
        {"ref": "第3段", "quote": "每周五前报送火情周报", "every": "rrule:FREQ=WEEKLY;BYDAY=FR", "owners": ["各乡镇"]},
        {
            "ref": "第3段",
            "quote": "县林业局要常态化开展防火巡查，11月中旬前组织一次森林火灾应急演练",
            "due": "2024-11-20",
            "owners": ["县林业局"],
        },
        {
            "ref": "第4段",
            "quote": "县应急管理局负责统筹调度，每月5日前向县政府报告防火工作情况",
            "every": "rrule:FREQ=MONTHLY;BYMONTHDAY=5",
            "owners": ["县应急管理局"],
        },
    ]
