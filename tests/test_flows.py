"""The delivery flows through Prefect (one session-wide test server): the daily run, twice, to a real SMTP server."""

from __future__ import annotations

import json

import pytest
from conftest import DATA
from typer.testing import CliRunner

from duban.cli import _load_commands
from duban.cli.common import app

runner = CliRunner()
_load_commands()


@pytest.fixture
def flow_env(monkeypatch, tmp_path, smtp_sink):
    """A deployment on SQLite under tmp_path, email to the loopback SMTP server, SMS to the local log."""
    values = {"DUBAN_DATABASE_URL": f"sqlite:///{tmp_path / 'duban.sqlite'}", "DUBAN_VAR_DIR": str(tmp_path / "var"),
              "DUBAN_CATALOG": str(DATA / "mini.yaml"), "DUBAN_CONTACTS": str(DATA / "mini_contacts.csv"),
              "DUBAN_SMTP_URL": smtp_sink.url, "DUBAN_SECRET": "flow-secret",
              "DUBAN_CONFIG": str(tmp_path / "none.toml")}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return tmp_path


def duban(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_daily_delivers_once_and_a_rerun_delivers_nothing(prefect_harness, flow_env, smtp_sink):
    first = duban("run", "daily", "--as-of", "2020-10-09T09:00+08:00")
    assert "queued: " in first and "dispatch: sent" in first
    emails = len(smtp_sink.messages)
    sms = (flow_env / "var" / "outbox" / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    assert emails >= 5 and sms
    people = [m["To"].addresses[0].addr_spec for m in smtp_sink.messages]
    assert len(people) == len(set(people))  # one email per person per run
    subjects = {m["To"].addresses[0].addr_spec: m["Subject"] for m in smtp_sink.messages}
    assert subjects["zhao@example.org"].startswith("【督办催办】")
    second = duban("run", "daily", "--as-of", "2020-10-09T09:00+08:00")
    assert "queued: 0 notification(s)" in second and "sent 0" in second
    assert len(smtp_sink.messages) == emails
    assert len((flow_env / "var" / "outbox" / "sms.jsonl").read_text(encoding="utf-8").splitlines()) == len(sms)
    rows = json.loads(duban("outbox", "--format", "json"))
    assert {r["state"] for r in rows} == {"sent"} and len(rows) == emails + len(sms)

    from prefect.artifacts import Artifact

    artifact = Artifact.get("daily-mini-2020")
    assert artifact is not None and "## dispatched" in artifact.data and "## queued" in artifact.data


def test_remind_dry_run_writes_nothing_then_escalate_and_dispatch(prefect_harness, flow_env, smtp_sink):
    duban("sync")
    dry = duban("run", "remind", "--as-of", "2020-09-15T09:00", "--dry-run")
    assert "would queue: 8 notification(s)" in dry and not smtp_sink.messages
    assert "发件箱里没有消息" in runner.invoke(app, ["outbox"]).output  # (the outbox is empty)
    duban("run", "escalate", "--as-of", "2020-09-16T09:00")
    assert not smtp_sink.messages  # queued, not sent
    sent = duban("run", "dispatch", "--as-of", "2020-09-16T09:00")
    assert "sent 6" in sent and len(smtp_sink.messages) == 3
