"""The loop from the command line: ack, done, undo, verify, waive, history, link, web; same rules as the web."""

import json
from datetime import timedelta

import pytest
from conftest import at
from sqlalchemy import select
from typer.testing import CliRunner

from duban.cli import _load_commands
from duban.cli.common import app
from duban.links import read_token
from duban.models import EventRow, OccurrenceRow

STARTED = "projects-started/shuangjiang/2020-09-01"
VISIT = "visits/sj-cadre-1/2020-09-01"
PDF = b"%PDF-1.4\n%%EOF\n"
runner = CliRunner()
_load_commands()



@pytest.fixture
def store_url(tmp_path):
    """The CLI is a thin shell over duban.actions (tested on both stores): SQLite is enough here."""
    return f"sqlite:///{tmp_path / 'duban.sqlite'}"


@pytest.fixture
def cli(mini_store, loop_settings, monkeypatch, tmp_path, snapshot):
    """Run `duban ...` against the test store; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("DUBAN_DATABASE_URL", loop_settings.database_url)
    monkeypatch.setenv("DUBAN_VAR_DIR", loop_settings.var_dir)
    monkeypatch.setenv("DUBAN_SECRET", loop_settings.secret)
    monkeypatch.setenv("DUBAN_BASE_URL", "https://duban.example.gov.cn")
    monkeypatch.setenv("DUBAN_CONFIG", str(tmp_path / "none.toml"))

    def run(*args):
        result = runner.invoke(app, [str(a) for a in args])
        return result.exit_code, result.stdout, result.stderr

    run.engine = mini_store
    run.snapshot = lambda: snapshot(mini_store)
    run.settings = loop_settings
    return run


def state(engine, occurrence_id=STARTED):
    with engine.connect() as connection:
        return connection.execute(select(OccurrenceRow.__table__).where(OccurrenceRow.id == occurrence_id)).one()


def refused(cli, *args, words=""):
    before = cli.snapshot()
    code, out, err = cli(*args)
    assert code == 1, out
    assert err.startswith("duban: ") and "Traceback" not in err
    assert words in err, err
    assert cli.snapshot() == before


def test_the_loop_from_the_cli(cli, tmp_path):
    evidence = tmp_path / "开工.pdf"
    evidence.write_bytes(PDF)
    code, out, _ = cli("ack", STARTED, "--by", "qian@example.org", "--as-of", "2020-09-10T09:00")
    assert code == 0 and "签收完成" in out
    code, out, _ = cli("done", STARTED, "--by", "13800000005", "--value", "100", "--note", "全部开工",
                       "--evidence", evidence, "--as-of", "2020-09-15 17:00")
    assert code == 0 and "报告办结完成" in out, out
    row = state(cli.engine)
    assert (row.state, row.value, row.reported_at) == ("reported", 100.0, at("2020-09-15 17:00"))
    assert any(p.is_file() for p in (cli.settings.var_path / "evidence").rglob("*"))
    code, out, _ = cli("verify", STARTED, "--by", "office-liaison", "--as-of", "2020-09-16 09:00")
    assert code == 0 and state(cli.engine).state == "verified"
    code, out, _ = cli("history", STARTED)
    lines = out.splitlines()
    assert lines[0].split() == ["时间", "人员", "动作", "状态", "来源", "说明"]
    assert "2020-09-15 17:00  孙副主任  报告办结" in out and "全部开工；数值 100；开工.pdf" in out
    events = json.loads(cli("history", STARTED, "--format", "json")[1])
    assert [(e["kind"], e["actor"], e["source"], e["at"]) for e in events] == [
        ("ack", "sj-head", "cli", "2020-09-10T09:00:00+08:00"),
        ("report", "sj-in-charge", "cli", "2020-09-15T17:00:00+08:00"),
        ("verify", "office-liaison", "cli", "2020-09-16T09:00:00+08:00"),
    ]


def test_late_report_reject_and_undo(cli):
    code, out, _ = cli("done", STARTED, "--by", "sj-head", "--value", "99.5%", "--as-of", "2020-09-16 10:00")
    assert code == 0 and "逾期" in out
    refused(cli, "verify", STARTED, "--by", "office-head", "--reject", " ", words="退回原因")
    code, out, _ = cli("verify", STARTED, "--by", "office-head", "--reject", "未达100%", "--as-of", "2020-09-16 11:00")
    assert code == 0 and state(cli.engine).state == "open"
    cli("done", VISIT, "--by", "sj-cadre-1", "--as-of", "2020-09-20")
    code, _, _ = cli("undo", VISIT, "--by", "zhou@example.org", "--as-of", "2020-09-20 10:00")
    assert code == 0 and state(cli.engine, VISIT).state == "open"


def test_waive(cli):
    refused(cli, "waive", STARTED, "--by", "sj-head", "--reason", "x", words="督办室")
    code, _, _ = cli("waive", STARTED, "--by", "office-head", "--reason", "项目取消", "--as-of", "2020-09-12")
    assert code == 0 and state(cli.engine).state == "waived"


def test_refusals_name_the_reason_and_change_nothing(cli, tmp_path):
    disguised = tmp_path / "通知.pdf"
    disguised.write_bytes(b"MZ\x90\x00" + b"\0" * 100)
    refused(cli, "ack", STARTED, "--by", "wu@example.org", words="不是您单位")  # another unit
    refused(cli, "ack", STARTED, "--by", "leaders-head", words="责任单位")  # leaders read only
    refused(cli, "ack", STARTED, "--by", "nobody@example.org", words="通讯录中没有")
    refused(cli, "ack", "no/such/item", "--by", "sj-head", words="没有编号")
    refused(cli, "done", STARTED, "--by", "sj-head", words="开工率")  # the figure is missing
    refused(cli, "done", STARTED, "--by", "sj-head", "--value", "100", "--evidence", disguised, words="不符")
    refused(cli, "done", STARTED, "--by", "sj-head", "--value", "100", "--evidence", tmp_path / "missing.pdf")
    refused(cli, "verify", STARTED, "--by", "office-head", words="不能审核")  # nothing reported yet
    refused(cli, "ack", STARTED, "--by", "sj-head", "--as-of", "next tuesday", words="cannot read")
    refused(cli, "history", "no/such/item", words="没有编号")


def test_link_prints_a_personal_sign_in_link(cli):
    code, out, _ = cli("link", "zhou@example.org", "--item", VISIT, "--days", "3", "--as-of", "2020-09-14 10:00")
    assert code == 0
    url = out.strip()
    assert url.startswith("https://duban.example.gov.cn/login/") and url.endswith(f"?next=/item/{VISIT}")
    token = url.removeprefix("https://duban.example.gov.cn/login/").split("?")[0]
    claims = read_token(secret=cli.settings.secret, token=token, now=at("2020-09-14 10:00"))
    assert (claims.person_id, claims.plan_id, claims.expires) == ("sj-cadre-1", "mini-2020",
                                                                  at("2020-09-14 10:00") + timedelta(days=3))
    refused(cli, "link", "nobody")
    refused(cli, "link", "sj-head", "--item", "no/such/item")


def test_events_are_stamped_with_as_of(cli):
    cli("ack", STARTED, "--by", "sj-head", "--as-of", "2020-09-11T08:30:00+08:00")
    with cli.engine.connect() as connection:
        stamp = connection.execute(select(EventRow.at).where(EventRow.kind == "ack")).scalar()
    assert stamp == at("2020-09-11 08:30")


def test_every_command_is_documented():
    for command in ("ack", "done", "undo", "verify", "waive", "history", "link", "web", "import-reports"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, command
        assert "--as-of" in result.stdout or command in ("history", "web"), command
