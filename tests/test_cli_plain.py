"""Commands that speak plainly: CSV that Excel opens right, owners and people that are not there, the outbox in
Chinese, progress bars only on a terminal."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from test_cli_reading import CONTACTS, MINI, invoke, runner

from duban import output
from duban.cli.common import app
from duban.models import TaskRow
from tests.conftest import ROOT

HOSTILE = ["=HYPERLINK(\"http://x.example/\",\"点我\")", "+86 138", "-2+3", "@SUM(A1)", "\tTab"]


def read_csv(text: str) -> list[list[str]]:
    """The cells, as Excel reads a UTF-8 file: only when it starts with the byte-order mark."""
    assert text.startswith("\ufeff"), text[:20]
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def duban(url: str, *args: str) -> subprocess.CompletedProcess:
    """`duban ARGS` in its own process, as a user runs it (the read path's front door first)."""
    env = {**os.environ, "DUBAN_DATABASE_URL": url, "DUBAN_CONFIG": os.devnull, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "duban", *args], env=env, capture_output=True, cwd=ROOT)


@pytest.fixture
def synced(store_url, monkeypatch):
    monkeypatch.setenv("DUBAN_DATABASE_URL", store_url)
    invoke("sync", MINI, "--contacts", CONTACTS)
    from duban.store import make_engine

    return make_engine(store_url)


def test_formula_looking_cells_stay_text_under_either_header():
    rows = [{"id": f"r{n}", "title": text, "n": -1} for n, text in enumerate(HOSTILE)]
    for header in ("zh", "en"):
        cells = read_csv(output.as_csv(rows, [("title", "事项"), ("id", "编号")], header))
        titles = [row[0] if header == "zh" else row[1] for row in cells[1:]]
        assert titles == ["'" + text for text in HOSTILE]
    assert read_csv(output.as_csv(rows, header="en"))[1][2] == "-1"  # a number is no formula
    assert read_csv(output.as_csv([], [("title", "事项")])) == [["事项"]]  # headers even when nothing matched


def test_tasks_and_catalog_calendar_csv_have_a_bom_and_chinese_headers():
    tasks = read_csv(invoke("tasks", MINI, "--format", "csv"))
    assert tasks[0] == ["编号", "条款", "事项", "责任主体", "时限"]
    assert {row[4] for row in tasks[1:]} >= {"每半月", "2020-09-15前"}
    calendar = read_csv(invoke("calendar", MINI, "--format", "csv", "--owner", "青龙街道"))
    assert calendar[0] == ["条款", "事项", "责任主体", "截止", "提醒", "编号"]
    assert calendar[1][2] == "青龙街道" and calendar[1][3] == "2020-09-15 23:59"
    ids = read_csv(invoke("calendar", MINI, "--format", "csv", "--owner", "qinglong", "--header", "en"))
    assert ids[0][:3] == ["id", "task", "ref"] and [r[0] for r in ids[1:]] == [r[5] for r in calendar[1:]]
    assert "--header: 'fr'" in runner.invoke(app, ["tasks", MINI, "--format", "csv", "--header", "fr"]).output


def test_status_csv_from_the_store_on_both_paths_escapes_and_speaks_chinese(synced, store_url):
    with synced.begin() as connection:
        connection.execute(update(TaskRow).where(TaskRow.id == "projects-started").values(title=HOSTILE[0]))
    fast = duban(store_url, "status", "--as-of", "2020-09-20", "--owner", "qinglong", "--format", "csv")
    assert fast.returncode == 0, fast.stderr
    named = runner.invoke(app, ["status", "--as-of", "2020-09-20", "--owner", "青龙街道", "--format", "csv"])
    assert fast.stdout == named.stdout_bytes  # a name goes to the ORM path: the same bytes
    for_programs = ["status", "--as-of", "2020-09-20", "--format", "csv", "--header", "en", "--owner"]
    fast_en = duban(store_url, *for_programs, "qinglong")
    assert fast_en.stdout == runner.invoke(app, [*for_programs, "青龙街道"]).stdout_bytes
    assert "\nprojects-started/qinglong/2020-09-01,projects-started,二（二）3,\"'=HYPERLINK(" in fast_en.stdout.decode()
    full = named.stdout_bytes.decode()
    rows = read_csv(full)
    assert rows[0] == ["状态", "条款", "事项", "责任主体", "截止", "提醒", "编号"]
    started = next(row for row in rows if row[6] == "projects-started/qinglong/2020-09-01")
    assert started[0] == "逾期" and started[2] == "'" + HOSTILE[0]
    programs = read_csv(duban(store_url, "status", "--as-of", "2020-09-20", "--format", "csv", "--header", "en")
                        .stdout.decode())
    assert programs[0][-1] == "state" and {row[-1] for row in programs[1:]} <= {"overdue", "upcoming", "due_soon"}


@pytest.mark.parametrize("command", [["status"], ["calendar"], ["status", "--format", "csv"]])
def test_an_owner_that_is_not_there_is_one_line_and_exit_2_on_either_path(synced, store_url, command):
    fast = duban(store_url, *command, "--owner", "qinglon")
    assert fast.returncode == 2 and fast.stdout == b""
    assert fast.stderr.decode() == "duban: --owner: no unit or person 'qinglon' (did you mean: 青龙街道 (qinglong)?)\n"
    typed = runner.invoke(app, [*command, "--owner", "nosuch"])
    assert typed.exit_code == 2 and typed.output == "duban: --owner: no unit or person 'nosuch'\n"


def test_an_owner_given_by_name_reads_as_its_id(synced):
    by_id = json.loads(invoke("status", "--as-of", "2020-10-29", "--owner", "ql-cadre-1", "--format", "json"))
    by_name = json.loads(invoke("status", "--as-of", "2020-10-29", "--owner", "冯干部", "--format", "json"))
    assert by_id == by_name and len(by_id) == 4
    catalog = runner.invoke(app, ["calendar", MINI, "--contacts", CONTACTS, "--owner", "冯千部"])
    assert catalog.exit_code == 2 and "did you mean: 冯干部 (ql-cadre-1)" in catalog.output


def _queue(engine, *rows: tuple[str, str, str]) -> None:
    """Notifications (person, channel, state) made at 2020-10-29 09:00 Beijing."""
    from duban import outbox

    made = datetime(2020, 10, 29, 1, tzinfo=UTC)
    with engine.begin() as connection:
        ids = outbox.enqueue_ids(connection=connection, notifications=[
            {"plan_id": "mini-2020", "key": f"k{n}", "person_id": person, "channel": channel, "address": "a",
             "subject": "【督办提醒】2项工作即将到期", "body_text": "", "as_of": made, "created_at": made,
             "not_before": made} for n, (person, channel, _) in enumerate(rows)])
        for n, (_, _, state) in enumerate(rows):
            sent = made.replace(minute=5) if state == "sent" else None
            connection.execute(update(outbox.TABLE).where(outbox.TABLE.c.id == ids[f"k{n}"])
                               .values(state=state, sent_at=sent))


def test_the_outbox_speaks_chinese_names_people_and_counts_them_apart(synced):
    _queue(synced, ("ql-cadre-1", "email", "sent"), ("ql-cadre-1", "sms", "sent"), ("office-head", "email", "sent"),
           ("office-head", "sms", "given_up"), ("ql-head", "sms", "queued"))
    result = runner.invoke(app, ["outbox"])
    assert result.exit_code == 0, result.output
    table = result.stdout.splitlines()
    assert table[0].split() == ["编号", "状态", "渠道", "收件人", "地址", "次数", "生成于", "发出于", "主题", "错误"]
    assert table[2].split()[1:4] == ["待发送", "短信", "吴书记"] and "2020-10-29 09:00" in table[2]
    assert "已发送  邮件  冯干部" in result.stdout and "2020-10-29 09:05" in result.stdout  # sent, in Beijing time
    assert result.stderr == "待发送 1条（1人）  已发送 3条（2人）  已放弃 1条（1人）\n"
    mine = runner.invoke(app, ["outbox", "--person", "冯干部"])
    assert mine.stdout.count("冯干部") == 2 and "王主任" not in mine.stdout and mine.stderr == "已发送 2条（1人）\n"
    assert runner.invoke(app, ["outbox", "--state", "已放弃", "--person", "office-head"]).stdout.count("已放弃") == 1
    wrong = runner.invoke(app, ["outbox", "--person", "冯千部"])
    assert wrong.exit_code == 2
    assert wrong.output == "duban: --person: no person '冯千部' (did you mean: 冯干部 (ql-cadre-1)?)\n"
    sheet = read_csv(invoke("outbox", "--format", "csv"))
    assert sheet[0][:4] == ["编号", "状态", "渠道", "收件人"] and sheet[1][1:4] == ["待发送", "短信", "吴书记"]
    ids = read_csv(invoke("outbox", "--format", "csv", "--header", "en"))
    assert ids[1][ids[0].index("state")] == "queued" and ids[1][ids[0].index("as_of")] == "2020-10-29T09:00:00+08:00"
    assert json.loads(invoke("outbox", "--format", "json"))[0]["person_name"] == "吴书记"


def on_terminal(args: list[str], env: dict[str, str]) -> tuple[bytes, bytes]:
    """(what a terminal on stderr showed, stdout through a pipe) of `duban ARGS`."""
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "duban", *args], stdout=subprocess.PIPE, stderr=slave,
                               env=env, cwd=ROOT)
    os.close(slave)
    shown = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # (EIO: the process closed its end)
            break
        if not data:
            break
        shown.append(data)
    out = process.communicate()[0]
    os.close(master)
    assert process.returncode == 0, b"".join(shown)
    return b"".join(shown), out


@pytest.fixture
def sync_env(tmp_path):
    env = {**os.environ, "DUBAN_DATABASE_URL": f"sqlite:///{tmp_path / 'duban.sqlite'}", "DUBAN_CONFIG": os.devnull,
           "DUBAN_VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT / "src"), "TERM": "xterm"}
    env.pop("CI", None)
    env.pop("DUBAN_PROGRESS", None)
    return env


def test_sync_shows_its_progress_on_a_terminal_and_nothing_of_it_in_a_pipe(sync_env, tmp_path):
    args = ["sync", MINI, "--contacts", CONTACTS]
    piped = subprocess.run([sys.executable, "-m", "duban", *args], env=sync_env, cwd=ROOT, capture_output=True)
    assert piped.returncode == 0 and piped.stdout.startswith(b"mini-2020: units +4")
    assert b"\x1b" not in piped.stdout + piped.stderr and b"\r" not in piped.stdout + piped.stderr
    (tmp_path / "duban.sqlite").unlink()
    shown, out = on_terminal(args, sync_env)
    assert b"\x1b[" in shown and "同步".encode() in shown and "写入".encode() in shown  # the bar, at its last phase
    assert out.startswith(b"mini-2020: units +4") and b"\x1b" not in out  # the output itself stays plain
    (tmp_path / "duban.sqlite").unlink()
    for quiet in ({"CI": "true"}, {"DUBAN_PROGRESS": "0"}, {"TERM": "dumb"}):
        shown, out = on_terminal(args, sync_env | quiet)
        assert b"\x1b" not in shown and out.startswith(b"mini-2020: units +4"), quiet
        (tmp_path / "duban.sqlite").unlink()


def test_a_prefect_server_that_cannot_start_is_one_line_after_one_retry(sync_env, tmp_path):
    assert subprocess.run([sys.executable, "-m", "duban", "sync", MINI, "--contacts", CONTACTS], env=sync_env,
                          cwd=ROOT, capture_output=True).returncode == 0
    (tmp_path / "a-file").write_text("")
    env = {k: v for k, v in sync_env.items() if k != "PREFECT_API_URL"} | {
        "PREFECT_HOME": str(tmp_path / "a-file" / "prefect"),  # under a file: nothing can be written there
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "2"}
    done = subprocess.run([sys.executable, "-m", "duban", "run", "remind", "--as-of", "2020-09-15T09:00"], env=env,
                          cwd=ROOT, capture_output=True)
    said = done.stderr.decode().splitlines()
    assert done.returncode == 1 and "Traceback" not in done.stderr.decode()
    assert said[0] == "duban: Prefect's temporary server did not answer within 2 s; trying once more (up to 6 s)"
    assert said[1].startswith("duban: Prefect's temporary server did not start (tried 2 times: ")
    assert f"its output is in {tmp_path / 'var' / 'prefect-server.log'}" in said[1]
    assert f"Check that PREFECT_HOME ({tmp_path / 'a-file' / 'prefect'})" in said[1] and len(said) == 2


def test_doctor_writes_its_checks_as_csv_too(synced):
    result = runner.invoke(app, ["doctor", "--format", "csv"])
    rows = read_csv(result.stdout_bytes.decode())
    assert rows[0] == ["结果", "检查", "说明"] and rows[1][:2] == ["正常", "database"]
    programs = read_csv(runner.invoke(app, ["doctor", "--format", "csv", "--header", "en"]).stdout_bytes.decode())
    assert programs[0] == ["name", "ok", "detail"] and programs[1][:2] == ["database", "True"]
    assert "--format: 'ics'" in runner.invoke(app, ["doctor", "--format", "ics"]).output
