"""The delivery commands: clear one-line errors, the outbox, simulate on a copy, serve's deployments, the demo."""

from __future__ import annotations

import json
import mailbox
import re
from pathlib import Path

import pytest
from conftest import DATA, ROOT
from sqlalchemy import func, select
from typer.testing import CliRunner

from duban.cli import _load_commands
from duban.cli.common import app
from duban.models import DeliveryRow, NotificationRow
from duban.store import make_engine

runner = CliRunner()
_load_commands()


@pytest.fixture
def deployment(monkeypatch, tmp_path):
    """A deployment on SQLite under tmp_path, synced with the small test plan, channels local."""
    values = {"DUBAN_DATABASE_URL": f"sqlite:///{tmp_path / 'duban.sqlite'}", "DUBAN_VAR_DIR": str(tmp_path / "var"),
              "DUBAN_CATALOG": str(DATA / "mini.yaml"), "DUBAN_CONTACTS": str(DATA / "mini_contacts.csv"),
              "DUBAN_SECRET": "cli-secret", "DUBAN_CONFIG": str(tmp_path / "none.toml")}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return tmp_path


def fails(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.output.strip()


def test_bad_as_of_is_one_line_before_prefect_starts(deployment):
    runner.invoke(app, ["sync"])
    message = fails("run", "daily", "--as-of", "2020-13-45")
    assert message.startswith("duban: --as-of: cannot read '2020-13-45'") and "\n" not in message


def test_unknown_flow_names_the_file(deployment):
    message = fails("run", "nosuch")
    assert "no flow 'nosuch'" in message and "daily" in message and "remind" in message


def test_bad_channel_setting_names_the_setting(deployment, monkeypatch):
    monkeypatch.setenv("DUBAN_SMTP_URL", "smtp://mail.example.org:25")
    assert "smtp_url (DUBAN_SMTP_URL)" in fails("run", "remind")
    monkeypatch.setenv("DUBAN_SMTP_URL", "")
    monkeypatch.setenv("DUBAN_SMS_URL", "aliyun://k:s@dysmsapi.aliyuncs.com?sign=x")
    assert "sms_url (DUBAN_SMS_URL)" in fails("run", "dispatch") and "template" in fails("run", "dispatch")


def test_outbox_bad_state_and_format(deployment):
    runner.invoke(app, ["sync"])
    assert "unknown outbox state 'lost'" in fails("outbox", "--state", "lost")
    assert "--format" in fails("outbox", "--format", "xml")


def test_simulate_replays_on_a_copy(deployment):
    assert runner.invoke(app, ["sync"]).exit_code == 0
    result = runner.invoke(app, ["simulate", "--from", "2020-09-01", "--to", "2020-12-31", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    days = {r["day"] for r in rows}
    assert "2020-09-08" in days and "2020-10-01" not in days  # National Day: nothing falls
    first = next(r for r in rows if r["day"] == "2020-09-08" and r["person"] == "sj-in-charge")
    assert first["stages"] == "remind-5" and first["name"] == "孙副主任"
    pairs = [(r["day"], r["person"], r["channel"]) for r in rows]
    assert len(pairs) == len(set(pairs))  # one message per person, channel and day
    store = make_engine(f"sqlite:///{deployment / 'duban.sqlite'}")
    with store.connect() as connection:  # the real store is untouched
        assert connection.execute(select(func.count()).select_from(NotificationRow)).scalar() == 0
        assert connection.execute(select(func.count()).select_from(DeliveryRow)).scalar() == 0
    table = runner.invoke(app, ["simulate", "--from", "2020-09-14", "--to", "2020-09-16"])
    assert "2020-09-15 09:00" in table.stdout and "remind-0" in table.stdout and "收件人" in table.stdout


def test_simulate_bad_dates(deployment):
    runner.invoke(app, ["sync"])
    assert "cannot read '2020-9-x'" in fails("simulate", "--from", "2020-9-x", "--to", "2020-10-01")
    assert "before --from" in fails("simulate", "--from", "2020-10-01", "--to", "2020-09-01")


def test_serve_builds_a_deployment_per_entry_in_the_plan_timezone(deployment):
    from duban.serving import deployments

    built = deployments(ROOT / "prefect.yaml")
    names = [d.name for d in built.deployments]
    assert names[:4] == ["daily", "dispatch", "remind", "escalate"]
    daily = built.deployments[0]
    assert daily.schedules[0].schedule.cron == "0 9 * * *"
    assert daily.schedules[0].schedule.timezone == "Asia/Shanghai"


def test_serve_refuses_a_broken_file(deployment, tmp_path):
    bad = tmp_path / "prefect.yaml"
    bad.write_text("deployments:\n  - name: x\n", encoding="utf-8")
    assert "needs a name and an entrypoint" in fails("serve", "--file", str(bad))
    assert "no such file" in fails("serve", "--file", str(tmp_path / "missing.yaml"))


def test_demo_replays_to_the_local_outbox(prefect_harness, deployment):
    result = runner.invoke(app, ["demo", "--until", "2020-09-08"])
    assert result.exit_code == 0, result.output
    assert "6 daily runs" in result.stdout and "1 Monday digests" in result.stdout and "email(s) in" in result.stdout
    assert "duban web --as-of 2020-09-08T10:00:00+08:00" in result.stdout  # the command that opens it
    box = mailbox.Maildir(Path(deployment / "var" / "outbox" / "maildir"), create=False)
    assert len(box) >= 2
    sms = (deployment / "var" / "outbox" / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    assert sms and json.loads(sms[0])["to"].startswith("138")
    assert re.search(r"^  2020-09-08 (\d+)人，(\d+)条（邮件 \d+，短信 \d+）", result.stdout, re.M)  # people, messages
    assert "sent: 邮件 " in result.stdout and "没有新的消息" not in result.stdout
    again = runner.invoke(app, ["demo", "--until", "2020-09-08"])
    assert again.exit_code == 0, again.output
    assert "\n没有新的消息：2020-09-01 至 2020-09-08 该发的提醒和催办，上次演示已经发出" in again.stdout
    assert len(mailbox.Maildir(Path(deployment / "var" / "outbox" / "maildir"), create=False)) == len(box)
