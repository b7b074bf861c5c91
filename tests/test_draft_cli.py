"""`duban draft` through the CLI runner: the draft file, `duban check` on it, --units, --diff, bad input."""

from pathlib import Path

from draft_support import DRAFT_DATA
from typer.testing import CliRunner

from duban.cli import _load_commands
from duban.cli.common import app

NUMBERED = str(DRAFT_DATA / "numbered.txt")
UNITS = str(DRAFT_DATA / "units.yaml")
runner = CliRunner()
_load_commands()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_draft_names_its_placeholders_and_check_finds_each(tmp_path):
    out = tmp_path / "draft.yaml"
    result = run("draft", NUMBERED, "--out", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "依据“6月中旬”" in text and "置信度 中" in text
    assert "# 二（三）②（第20行）〔有“抓紧”，无日期或频次〕抓紧推进污水处理设施运维管理" in text
    placeholders = [
        n for n, line in enumerate(text.splitlines(), 1) if "待定" in line and not line.lstrip().startswith("#")
    ]
    check = run("check", str(out))
    assert check.exit_code == 1
    problems = check.stderr.strip().splitlines()
    assert problems and all("待定" in p for p in problems)
    assert {int(p.split(":")[1]) for p in problems} == set(placeholders)
    assert f"{len(problems)} 处须人工填写" in result.stderr


def test_draft_with_the_county_unit_list_passes_check_at_once(tmp_path):
    out = tmp_path / "draft.yaml"
    result = run("draft", NUMBERED, "--units", UNITS, "--plan-id", "c01-2023", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "duban check 已可通过" in result.stderr
    text = out.read_text(encoding="utf-8")
    assert "owner: agriculture" in text and "co_owners: [health]" in text and "owner: group:towns" in text
    assert "  office: supervision" in text
    check = run("check", str(out))
    assert check.exit_code == 0, check.output
    assert check.stdout.startswith("ok: 15 tasks")


def test_draft_never_overwrites(tmp_path):
    out = tmp_path / "tasks_catalog.yaml"
    out.write_text("mine\n", encoding="utf-8")
    result = run("draft", NUMBERED, "--out", str(out))
    assert result.exit_code == 1
    assert "the file exists" in result.stderr and "Traceback" not in result.output
    assert out.read_text(encoding="utf-8") == "mine\n"


def test_diff_shows_what_a_revised_document_adds_changes_and_drops(tmp_path):
    catalog = tmp_path / "catalog.yaml"
    assert run("draft", NUMBERED, "--units", UNITS, "--out", str(catalog)).exit_code == 0
    revised = tmp_path / "revised.txt"
    text = Path(NUMBERED).read_text(encoding="utf-8")
    text = text.replace("要在4月底前完成农村户厕摸底排查", "要在5月底前完成农村户厕摸底排查")
    text = text.replace("（2）12月份开展年度考核评估。\n", "")
    text = text.replace("3.宣传引导。", "3.宣传引导。县农业农村委每半月通报一次“美丽庭院”创建进度。")
    result = run("draft", str(revised.write_text(text, encoding="utf-8") and revised), "--diff", str(catalog))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-1] == "新增 1，变更 1，删除 1，新增待定 3"  # the three 待定 sentences the draft left as comments
    assert any(line.startswith("变更 2-1-1-") and "due 2023-04-30 → due 2023-05-31" in line for line in lines)
    assert any(line.startswith("删除 2-2-2-2-") and "12月份开展年度考核评估" in line for line in lines)
    assert "新增 二（二）3（every semimonthly）：县农业农村委每半月通报一次“美丽庭院”创建进度" in lines


def test_unchanged_document_diffs_to_nothing(tmp_path):
    catalog = tmp_path / "catalog.yaml"
    assert run("draft", NUMBERED, "--units", UNITS, "--out", str(catalog)).exit_code == 0
    result = run("draft", NUMBERED, "--diff", str(catalog))
    assert result.stdout.splitlines() == [
        "新增待定 二（二）3：持续开展“美丽庭院”评选活动",
        "新增待定 二（三）②：抓紧推进污水处理设施运维管理",
        "新增待定 三（三）：春节前完成农村公厕冬季防冻检查",
        "新增 0，变更 0，删除 0，新增待定 3",
    ]


def test_bad_input_gets_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "draft.yaml"
    nameless = tmp_path / "plan.txt"
    nameless.write_text("一、任务\n各乡镇要在9月底前完成排查。\n", encoding="utf-8")
    bad_units = tmp_path / "units.yaml"
    bad_units.write_text(
        "units:\n  - {id: agriculture, name: 县农业农村委}\n  - {id: Bad Id, name: 县水利局}\n", encoding="utf-8"
    )
    old_word = tmp_path / "plan.doc"
    old_word.write_bytes(b"\xd0\xcf\x11\xe0")
    fake_docx = tmp_path / "plan.docx"
    fake_docx.write_text("not a zip", encoding="utf-8")
    cases = [
        (["draft", str(tmp_path / "missing.txt")], "missing.txt: no such file"),
        (["draft", str(nameless)], "the text names no year; give --year YYYY"),
        (["draft", NUMBERED, "--year", "23"], "--year 23: give a year such as 2020"),
        (["draft", NUMBERED, "--plan-id", "Plan 1"], "--plan-id 'Plan 1'"),
        (["draft", NUMBERED, "--units", str(bad_units)], f"{bad_units}:3:10: id 'Bad Id' must be lowercase"),
        (["draft", str(old_word)], "old Word format (.doc)"),
        (["draft", str(fake_docx)], "not a Word .docx file"),
    ]
    for args, message in cases:
        result = run(*args, "--out", str(out))
        assert result.exit_code == 1, (args, result.output)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
        assert "Traceback" not in result.output and not out.exists()
    assert run("draft", str(nameless), "--year", "2022", "--out", str(out)).exit_code == 0
