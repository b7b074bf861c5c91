"""The reading commands, through the CLI runner, from YAML and from the store."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from duban.cli import _load_commands
from duban.cli.common import app
from duban.models import OccurrenceRow
from duban.status import status_at

DATA = Path(__file__).parent / "data"
MINI, CONTACTS = str(DATA / "mini.yaml"), str(DATA / "mini_contacts.csv")
runner = CliRunner()
_load_commands()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_tasks_json_has_every_field():
    tasks = json.loads(invoke("tasks", MINI, "--format", "json"))
    assert set(tasks[0]) >= {"id", "ref", "title", "quote", "owner", "co_owners", "schedule", "target"}
    started = next(t for t in tasks if t["id"] == "projects-started")
    assert started["target"] == {"metric": "开工率", "op": ">=", "value": 100.0, "unit": "%"}
    assert started["schedule"] == {"due": "2020-09-15", "from": "2020-09-01"}


def test_calendar_from_yaml_gives_deadlines_and_reminders():
    rows = json.loads(invoke("calendar", MINI, "--from", "2020-09-15", "--to", "2020-09-15", "--format", "json"))
    assert [r["id"] for r in rows] == [
        "leaders-study/leaders/2020-09-06",
        "projects-started/qinglong/2020-09-01",
        "projects-started/shuangjiang/2020-09-01",
    ]
    first = rows[0]
    assert first["due"] == "2020-09-15T23:59:59+08:00" and first["period_start"] == "2020-09-06"
    assert first["owner_name"] == "县委、县政府"
    assert first["reminders"] == [
        {"stage": 3, "at": "2020-09-10T09:00:00+08:00"},
        {"stage": 1, "at": "2020-09-14T09:00:00+08:00"},
        {"stage": 0, "at": "2020-09-15T09:00:00+08:00"},
    ]


def test_role_owned_tasks_expand_only_with_contacts():
    without = json.loads(invoke("calendar", MINI, "--format", "json"))
    with_people = json.loads(invoke("calendar", MINI, "--contacts", CONTACTS, "--format", "json"))
    assert len(with_people) - len(without) == 8
    mine = json.loads(invoke("calendar", MINI, "--contacts", CONTACTS, "--owner", "ql-cadre-1", "--format", "json"))
    assert [r["due"][:10] for r in mine] == ["2020-09-30", "2020-10-31", "2020-11-30", "2020-12-31"]


def test_calendar_table_is_chinese():
    out = invoke("calendar", MINI, "--to", "2020-09-15")
    assert out.splitlines()[0].split() == ["条款", "事项", "责任主体", "截止", "编号"]


def test_calendar_csv_and_ics():
    csv_text = invoke("calendar", MINI, "--format", "csv", "--owner", "office", "--header", "en")
    assert csv_text.splitlines()[0] == "\ufeffid,task,ref,title,owner,owner_name,unit,period_start,due,reminders"
    result = runner.invoke(app, ["calendar", MINI, "--format", "ics", "--owner", "qinglong"])
    ics = result.stdout_bytes.decode()
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and ics.count("BEGIN:VEVENT") == 3
    assert "DTSTART;VALUE=DATE:20200915" in ics
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))


@pytest.fixture
def synced(store_url, monkeypatch):
    monkeypatch.setenv("DUBAN_DATABASE_URL", store_url)
    invoke("sync", MINI, "--contacts", CONTACTS)
    from duban.store import make_engine

    return make_engine(store_url)


def test_calendar_from_store_matches_yaml(synced):
    from_yaml = json.loads(invoke("calendar", MINI, "--contacts", CONTACTS, "--format", "json"))
    from_store = json.loads(invoke("calendar", "--format", "json"))
    assert from_store == from_yaml


def test_status_states_at_a_moment(synced):
    with synced.begin() as connection:
        connection.execute(
            update(OccurrenceRow)
            .where(OccurrenceRow.id == "projects-started/qinglong/2020-09-01")
            .values(state="reported", reported_at=datetime(2020, 9, 15, 2, tzinfo=UTC))
        )
        connection.execute(
            update(OccurrenceRow)
            .where(OccurrenceRow.id == "projects-started/shuangjiang/2020-09-01")
            .values(state="verified", reported_at=datetime(2020, 9, 16, 2, tzinfo=UTC))
        )
        connection.execute(
            update(OccurrenceRow)
            .where(OccurrenceRow.id == "visits/ql-cadre-1/2020-09-01")
            .values(state="waived", waived_at=datetime(2020, 9, 3, tzinfo=UTC))
        )
    rows = json.loads(invoke("status", "--as-of", "2020-09-16T12:00+08:00", "--format", "json"))
    state = {r["id"]: r["state"] for r in rows}
    assert state["projects-started/qinglong/2020-09-01"] == "done"
    assert state["projects-started/shuangjiang/2020-09-01"] == "done_late"
    assert state["leaders-study/leaders/2020-09-06"] == "overdue"
    assert state["visits/ql-cadre-1/2020-09-01"] == "waived"
    assert state["visits/sj-cadre-1/2020-09-01"] == "upcoming"
    assert state["dispatch/office/2020-09-28"] == "upcoming"
    earlier = {
        r["id"]: r["state"] for r in json.loads(invoke("status", "--as-of", "2020-09-15T09:00", "--format", "json"))
    }
    assert earlier["projects-started/shuangjiang/2020-09-01"] == "due_soon"
    overdue = json.loads(
        invoke("status", "--as-of", "2020-09-16T12:00+08:00", "--state", "overdue", "--format", "json")
    )
    assert [r["id"] for r in overdue] == ["leaders-study/leaders/2020-09-06"]


def test_status_sql_agrees_with_status_at(synced):
    from sqlalchemy import select

    from duban.status import status_column

    moments = [datetime(2020, m, d, h, tzinfo=UTC) for m in (9, 10, 12) for d in (1, 15, 30) for h in (0, 16)]
    with synced.begin() as connection:
        connection.execute(
            update(OccurrenceRow)
            .where(OccurrenceRow.task_id == "leaders-study")
            .values(state="reported", reported_at=datetime(2020, 10, 1, tzinfo=UTC))
        )
        for moment in moments:
            for row in connection.execute(select(OccurrenceRow.__table__, status_column(moment).label("sql_state"))):
                occurrence, sql_state = row, row.sql_state
                assert sql_state == status_at(
                    state=occurrence.state,
                    due=occurrence.due,
                    first_reminder_at=occurrence.first_reminder_at,
                    reported_at=occurrence.reported_at,
                    waived_at=occurrence.waived_at,
                    as_of=moment,
                    superseded_at=occurrence.superseded_at,
                )


def test_reading_an_empty_store_says_to_sync(tmp_path, monkeypatch):
    monkeypatch.setenv("DUBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1 and "run `duban sync` first" in result.stderr


def test_bad_as_of_is_one_clear_line(synced):
    result = runner.invoke(app, ["status", "--as-of", "yesterday-ish"])
    assert result.exit_code == 1
    assert (
        result.stderr.strip()
        == "duban: cannot read 'yesterday-ish' as a date or moment (write 2020-10-29 or 2020-10-29T09:00+08:00)"
    )


@pytest.mark.parametrize("command", [["check", MINI], ["tasks", MINI], ["calendar", MINI, "--format", "json"]])
def test_reading_commands_do_not_import_prefect_or_web(command):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "duban", *command], capture_output=True, text=True, check=True
    )
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert not {"prefect", "fastapi", "jinja2", "starlette"} & imported
