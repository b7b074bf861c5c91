"""`duban import-reports`: a ledger (台账) of reports from Excel, all rows or none, errors as FILE:ROW."""

from datetime import datetime

import pytest
from conftest import at
from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from duban.cli import _load_commands
from duban.cli.common import app
from duban.models import EventRow, EvidenceRow, OccurrenceRow

STARTED = "projects-started/shuangjiang/2020-09-01"
QL_STARTED = "projects-started/qinglong/2020-09-01"
VISIT = "visits/sj-cadre-1/2020-09-01"
PDF = b"%PDF-1.4\n%%EOF\n"
HEADERS = ["编号", "事项", "报告人", "办结时间", "说明", "数值", "佐证材料"]
runner = CliRunner()
_load_commands()



@pytest.fixture
def cli(mini_store, loop_settings, monkeypatch, tmp_path, snapshot):
    monkeypatch.setenv("DUBAN_DATABASE_URL", loop_settings.database_url)
    monkeypatch.setenv("DUBAN_VAR_DIR", loop_settings.var_dir)
    monkeypatch.setenv("DUBAN_SECRET", loop_settings.secret)
    monkeypatch.setenv("DUBAN_CONFIG", str(tmp_path / "none.toml"))

    def run(*args):
        result = runner.invoke(app, [str(a) for a in args])
        return result.exit_code, result.stdout, result.stderr

    run.engine, run.settings = mini_store, loop_settings
    run.snapshot = lambda: snapshot(mini_store)
    return run


def ledger(path, rows, headers=HEADERS):
    book = Workbook()
    sheet = book.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def states(engine):
    with engine.connect() as connection:
        return dict(connection.execute(select(OccurrenceRow.id, OccurrenceRow.state)).all())


def test_a_good_ledger_is_imported(cli, tmp_path):
    (tmp_path / "材料").mkdir()
    (tmp_path / "材料" / "开工.pdf").write_bytes(PDF)
    path = ledger(tmp_path / "台账.xlsx", [
        [STARTED, "全面开工", "qian@example.org", datetime(2020, 9, 15, 16, 30), "全部开工", 100, "材料/开工.pdf"],
        [None, None, None, None, None, None, None],  # blank rows are skipped
        [QL_STARTED, "", "13800000007", "2020-09-16 10:00", "", "98.5%", ""],
        [VISIT, "", "sj-cadre-1", None, "走访5户", None, None],
    ])
    code, out, err = cli("import-reports", path, "--as-of", "2020-09-20 09:00")
    assert code == 0, err
    assert "imported 3 report(s) (1 late), 1 evidence file(s)" in out
    found = states(cli.engine)
    assert found[STARTED] == found[QL_STARTED] == found[VISIT] == "reported"
    with cli.engine.connect() as connection:
        rows = {r.id: r for r in connection.execute(select(OccurrenceRow.__table__))}
        events = connection.execute(select(EventRow).where(EventRow.kind == "report")).all()
        files = connection.execute(select(EvidenceRow.name, EvidenceRow.uploaded_by)).all()
    assert rows[STARTED].reported_at == at("2020-09-15 16:30")
    assert rows[QL_STARTED].value == 98.5
    assert rows[VISIT].reported_at == at("2020-09-20 09:00")  # no 办结时间: the --as-of moment
    assert {(e.source, e.at) for e in events} == {("import", at("2020-09-20 09:00"))}
    assert files == [("开工.pdf", "sj-head")]


def test_english_headers_and_any_column_order(cli, tmp_path):
    path = ledger(tmp_path / "l.xlsx", [["100", "sj-head", STARTED]], headers=["value", "by", "occurrence"])
    code, _out, err = cli("import-reports", path, "--as-of", "2020-09-14")
    assert code == 0, err
    assert states(cli.engine)[STARTED] == "reported"


def test_bad_rows_are_named_and_nothing_is_imported(cli, tmp_path):
    (tmp_path / "fake.pdf").write_bytes(b"MZ\x90\x00")
    path = ledger(tmp_path / "bad.xlsx", [
        [STARTED, "", "sj-head", "2020-09-15", "", 100, ""],  # good
        [QL_STARTED, "", "sj-head", "2020-09-15", "", 100, ""],  # 3: another unit's item
        [VISIT, "", "nobody@example.org", "", "", None, ""],  # 4: unknown person
        ["leaders-study/leaders/2020-09-06", "", "leaders-head", "sometime", "", None, ""],  # 5: bad time
        ["teaching/shuangjiang/2020-09-28", "", "sj-head", "", "", None, "fake.pdf"],  # 6: disguised file
        [STARTED, "", "sj-in-charge", "", "", 100, ""],  # 7: the same item twice
        ["", "", "sj-head", "", "说明", None, ""],  # 8: no id
        ["no/such/item", "", "sj-head", "", "", None, ""],  # 9: unknown item
        ["projects-started/qinglong/2020-09-01", "", "ql-head", "", "", None, ""],  # 10: figure missing
        [VISIT, "", "sj-cadre-1", "2020-12-01", "", None, ""],  # 11: done after --as-of
    ])
    before = cli.snapshot()
    code, _out, err = cli("import-reports", path, "--as-of", "2020-09-20 09:00")
    assert code == 1
    lines = err.strip().splitlines()
    assert [line.split(": ")[0] for line in lines[:-1]] == [f"{path}:{n}" for n in range(3, 12)]
    assert "不是您单位" in lines[0] and "nobody@example.org" in lines[1] and "sometime" in lines[2]
    assert "不符" in lines[3] and "row 2" in lines[4] and "编号 is empty" in lines[5] and "没有编号" in lines[6]
    assert "开工率" in lines[7] and "晚于" in lines[8]
    assert lines[-1] == "duban: nothing imported (9 bad row(s))"
    assert cli.snapshot() == before
    evidence = cli.settings.var_path / "evidence"
    assert not evidence.exists() or not any(p.is_file() for p in evidence.rglob("*"))


def test_a_ledger_without_the_needed_columns(cli, tmp_path):
    path = ledger(tmp_path / "cols.xlsx", [["x"]], headers=["事项"])
    code, _, err = cli("import-reports", path)
    assert code == 1 and f"{path}:1: missing column(s) 编号、报告人" in err


def test_not_a_workbook(cli, tmp_path):
    path = tmp_path / "notes.xlsx"
    path.write_text("not excel")
    code, _, err = cli("import-reports", path)
    assert code == 1 and f"{path}:1: cannot read" in err and "Traceback" not in err
    code, _, err = cli("import-reports", tmp_path / "missing.xlsx")
    assert code == 1 and "no such file" in err
    code, _, err = cli("import-reports")
    assert code == 1 and "--template" in err


def test_the_template_lists_what_is_pending(cli, tmp_path):
    out_path = tmp_path / "template.xlsx"
    code, _, err = cli("import-reports", "--template", out_path, "--as-of", "2020-09-10")
    assert code == 0, err
    book = load_workbook(out_path)
    sheet = book["台账"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("编号", "事项", "责任单位", "截止时间", "报告人", "办结时间", "说明", "数值", "佐证材料")
    assert [r[0] for r in rows[1:]] == ["leaders-study/leaders/2020-09-06", QL_STARTED, STARTED]
    assert rows[1][3] == "2020-09-15 23:59"
    assert "编号" in [r[0] for r in book["填写说明"].iter_rows(values_only=True)]
    # filled in and imported as it is
    sheet.cell(row=4, column=5, value="sj-head")
    sheet.cell(row=4, column=8, value=100)
    book.save(out_path)
    code, _out, err = cli("import-reports", out_path, "--as-of", "2020-09-14")
    assert code == 0, err
    assert states(cli.engine)[STARTED] == "reported"


def test_a_template_needs_no_store(tmp_path, monkeypatch):
    monkeypatch.setenv("DUBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    monkeypatch.setenv("DUBAN_CONFIG", str(tmp_path / "none.toml"))
    result = runner.invoke(app, ["import-reports", "--template", str(tmp_path / "t.xlsx")])
    assert result.exit_code == 0, result.stderr
    assert load_workbook(tmp_path / "t.xlsx")["台账"].max_row == 1
