"""The catalog format: what it accepts, and one clear line per mistake."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from duban.casework.create import ORIGINS
from duban.catalog import CASEWORK_TASK_ID, CatalogError, load_catalog, parse_catalog
from duban.cli import _load_commands
from duban.cli.common import app

DATA = Path(__file__).parent / "data"
MINI = (DATA / "mini.yaml").read_text(encoding="utf-8")
runner = CliRunner()
_load_commands()


def problems(text: str) -> list[str]:
    with pytest.raises(CatalogError) as error:
        parse_catalog(text, "plan.yaml")
    return [str(p) for p in error.value.problems]


def test_the_mini_catalog_is_valid(mini_catalog):
    assert mini_catalog.plan.id == "mini-2020"
    assert mini_catalog.plan.office == "office"
    assert [t.id for t in mini_catalog.tasks][:2] == ["leaders-study", "projects-started"]
    assert mini_catalog.groups["towns"].members == ("shuangjiang", "qinglong")
    started = mini_catalog.tasks[1]
    assert started.policy.remind == (5, 3, 1, 0)
    assert started.co_owners == ("office",)
    assert started.target.met_by(100) and not started.target.met_by(99.5)
    assert started.section == "二（二）"
    assert mini_catalog.tasks[0].policy.escalate[2].to == ("unit:office",)
    assert mini_catalog.digest_to == ("unit:leaders",)


EXPECTED = [
    "plan.yaml:7:3: unknown field 'colour' in plan",
    "plan.yaml:10:23: bad escalation target 'boss'",
    "plan.yaml:11:23: escalation target: unknown unit 'nowhere'",
    "plan.yaml:14:10: duplicate unit id 'office' (first at line 13)",
    "plan.yaml:16:45: group 'towns': unknown unit 'ghost'",
    "plan.yaml:21:12: unknown owner 'ghost-unit'",
    "plan.yaml:22:12: task 'a'.every: unknown frequency 'fortnightly'",
    "plan.yaml:23:9: duplicate task id 'a' (first at line 18)",
    "plan.yaml:26:12: unknown group 'nogroup'",
    "plan.yaml:27:10: task 'a'.due 2021-01-05 is outside the plan (2020-09-01 to 2020-12-31)",
    "plan.yaml:31:12: unknown role 'wizard'",
    "plan.yaml:32:5: task 'c' has both 'due' and 'every'",
    "plan.yaml:38:12: task 'd'.every: bad rrule",
    "plan.yaml:39:11: task 'd'.from: bad date '2020-13-01'",
    "plan.yaml:40:5: missing field 'ref' in tasks[4]",
    "plan.yaml:44:29: task 'e'.target.op '~' must be one of",
]


def test_every_problem_is_reported_at_once_with_its_place():
    found = problems((DATA / "broken.yaml").read_text(encoding="utf-8"))
    assert len(found) == len(EXPECTED)
    for line, expected in zip(found, EXPECTED, strict=False):
        assert line.startswith(expected), (line, expected)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  id: mini-2020\n", "", "plan.yaml:3:3: missing field 'id' in plan"),
        ("timezone: Asia/Shanghai", "timezone: Mars/Olympus", "plan.timezone: unknown timezone 'Mars/Olympus'"),
        ("workdays: cn", "workdays: lunar", "plan.workdays: unknown calendar 'lunar'"),
        ('remind_at: "09:00"', "remind_at: 9:00", "plan.remind_at: bad time"),
        ("end: 2020-12-31", "end: 2020-08-01", "plan.end 2020-08-01 is before plan.start"),
        ("office: office", "office: nobody", "plan.office: unknown unit 'nobody'"),
        ("remind: [3, 1, 0]", "remind: [3, -1]", "defaults.remind must list whole numbers"),
        ("channels: [email, sms]", "channels: [email, pigeon]", "defaults.channels: unknown channel 'pigeon'"),
        ("    every: semimonthly\n", "", "task 'leaders-study' needs 'due' (a one-off deadline) or 'every'"),
        (
            "    from: 2020-09-06\n",
            "    from: 2020-09-06\n    to: 2020-09-01\n",
            "task 'leaders-study'.to 2020-09-01 is before",
        ),
        ("co_owners: [office]", "co_owners: [role:pairing_cadre]", "co-owners are units or groups"),
        ("members: [shuangjiang, qinglong]", "members: [shuangjiang, group:towns]", "groups contain each other"),
        ("id: leaders-study", "id: Leaders Study", "must be lowercase letters"),
        ("id: leaders-study", "id: problem-0001", "task id 'problem-0001' is reserved for items the office"),
        ("id: leaders-study", "id: assigned-7", "task id 'assigned-7' is reserved"),
        ("{after: 3, to: [head]}", "{after: 3, to: [head], ack_pauses: maybe}", "ack_pauses must be true or false"),
        ("{after: 5, to", "{after: 1, to", "two levels with the same 'after'"),
        ("    evidence: 会议纪要\n", "    evidence: 会议纪要\n    evidence: 照片\n", "duplicate key 'evidence'"),
        ("value: 100}", "value: lots}", "target.value must be a number"),
    ],
)
def test_each_mistake_has_a_clear_message(old, new, expected):
    assert old in MINI
    found = problems(MINI.replace(old, new, 1))
    assert any(expected in line for line in found), found


def test_reserved_task_ids_are_the_ones_casework_makes():
    for prefix, _section in ORIGINS.values():
        assert CASEWORK_TASK_ID.match(f"{prefix}-0001")
    assert not CASEWORK_TASK_ID.match("problem-fix")


def test_yaml_syntax_error_names_line_and_column():
    assert problems("plan: [\n") == ["plan.yaml:2:1: YAML syntax: expected the node content, but found '<stream end>'"]


def test_not_a_mapping():
    assert problems("- just\n- a list\n") == ["plan.yaml:1:1: the catalog must be a mapping"]


def test_years_beyond_the_official_calendar_are_refused():
    text = MINI.replace("start: 2020-09-01", "start: 2026-09-01").replace("end: 2020-12-31", "end: 2027-01-31")
    text = text.replace("from: 2020-09-06", "from: 2026-09-06").replace("due: 2020-09-15", "due: 2026-09-15")
    text = (
        text.replace("2020-09-28", "2026-09-28")
        .replace("to: 2020-10-11", "to: 2026-10-11")
        .replace("to: 2020-10-12", "to: 2026-10-12")
    )
    found = problems(text)
    assert len(found) == 1 and "not known for 2027" in found[0]
    fixed = text.replace("workdays: cn", "workdays: cn\n  holidays: [2027-01-01]")
    assert parse_catalog(fixed).plan.end.year == 2027


def test_missing_file():
    with pytest.raises(CatalogError) as error:
        load_catalog(DATA / "absent.yaml")
    assert "no such file" in str(error.value)


def test_check_cli_success_prints_one_line_of_totals():
    result = runner.invoke(app, ["check", str(DATA / "mini.yaml"), "--contacts", str(DATA / "mini_contacts.csv")])
    assert result.exit_code == 0
    assert result.output.strip() == "ok: 6 tasks, 4 units, 1 groups, 29 occurrences, 2020-09-01 to 2020-12-31, 9 people"


def test_check_cli_failure_prints_one_line_per_problem_and_no_traceback(tmp_path):
    result = runner.invoke(app, ["check", str(DATA / "broken.yaml")])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(EXPECTED)
    assert all(line.startswith(str(DATA / "broken.yaml") + ":") for line in lines)
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "title: 所有扶贫项目全面开工",
            'title: "所有扶贫项目\\n全面开工"',
            "plan.yaml:41:12: task 'projects-started'.title has a line break (U+000A) after '所有扶贫项目': remove it",
        ),
        (
            "title: 所有扶贫项目全面开工",
            "title: |\n      所有扶贫项目\n      全面开工",
            "plan.yaml:41:12: task 'projects-started'.title has a line break (U+000A) after '所有扶贫项目': remove it",
        ),
        ("title: 测试方案", 'title: "测试\\t方案"', "plan.yaml:4:10: plan.title has a tab (U+0009) after '测试'"),
        ("name: 双江街道,", 'name: "双江\\u2028街道",', "unit 'shuangjiang'.name has a line break (U+2028)"),
        ("short: 县扶贫办", 'short: "县扶\\0贫办"', "unit 'office'.short has a NUL character (U+0000) after '县扶'"),
        ("name: 各乡镇（街道）", 'name: "各乡镇\\r（街道）"', "group 'towns'.name has a line break (U+000D)"),
        ("name: 结对帮扶干部}", 'name: "结对\\x85帮扶干部"}', "role 'pairing_cadre'.name has a line break (U+0085)"),
        ("ref: 二（二）3\n", 'ref: "二（二）\\x1b3"\n', "task 'projects-started'.ref has a control character (U+001B)"),
        ("metric: 开工率", 'metric: "开工\\u2029率"', "'projects-started'.target.metric has a line break (U+2029)"),
        ("evidence: 会议纪要", 'evidence: "会议\\n纪要"', "task 'leaders-study'.evidence has a line break (U+000A)"),
        ("quote: 县委、县政府每半月至少专题研究一次脱贫攻坚工作", 'quote: "\\a县委"', ".quote has a control character"),
    ],
)
def test_control_characters_are_refused_where_they_would_reach_a_message(old, new, expected):
    assert old in MINI
    found = problems(MINI.replace(old, new, 1))
    assert any(expected in line for line in found), found
    assert all("\n" not in line and "\t" not in line for line in found)


def test_a_quote_or_a_note_may_span_lines_but_holds_no_other_control_character():
    text = MINI.replace(
        "    quote: 县委、县政府每半月至少专题研究一次脱贫攻坚工作\n",
        "    quote: |\n      县委、县政府每半月\n      至少专题研究一次脱贫攻坚工作\n"
        '    note: "先学习\\t后研究\\n再部署"\n',
    )
    task = parse_catalog(text).tasks[0]
    assert task.quote == "县委、县政府每半月\n至少专题研究一次脱贫攻坚工作\n" and task.note == "先学习\t后研究\n再部署"
    found = problems(text.replace("后研究", "后研究\\0"))
    note = "task 'leaders-study'.note has a NUL character (U+0000) after '先学习\\u0009后研究': remove it"
    assert found == [f"plan.yaml:37:11: {note}"]


def test_a_raw_control_character_in_the_file_is_named_by_line_and_column():
    assert problems(MINI.replace("title: 测试方案", "title: 测试\x07方案")) == [
        "plan.yaml:4:12: a control character (U+0007) cannot be in the file: remove it"
    ]


def test_a_problem_shows_the_text_it_quotes_on_one_line():
    found = problems(MINI.replace("  start: 2020-09-01", '  "colo\\nur": red\n  start: 2020-09-01'))
    assert found == ["plan.yaml:6:3: unknown field 'colo\\u000aur' in plan (allowed: end, extra_workdays, holidays, "
                     "id, office, remind_at, start, timezone, title, workdays)"]


def test_check_cli_names_a_folder_in_one_line(tmp_path):
    result = runner.invoke(app, ["check", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr == f"{tmp_path}:1:1: is a folder, not a catalog file\n"
