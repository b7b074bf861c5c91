"""`duban run <flow> --dry-run` answers without Prefect: no server started (Prefect is not even imported, and its
API points at a dead port), and what it says would be queued is what a real run then queues at the same moment."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import pytest
from conftest import DATA, ROOT
from sqlalchemy import func, select

from duban import runbodies
from duban.catalog import load_catalog
from duban.directory import load_people
from duban.models import NotificationRow
from duban.store import make_engine, migrate
from duban.sync import sync

MOMENT = "2020-10-12T09:00+08:00"  # reminders, escalations at three levels, roll-up lines (16 messages)
# Runs the CLI in a fresh interpreter and says afterwards whether any Prefect module was imported.
CLI = ("import sys\nfrom duban.cli import _load_commands\nfrom duban.cli.common import app\n_load_commands()\n"
       "try:\n    app(sys.argv[1:], standalone_mode=False)\n"
       "finally:\n    print('prefect imported:', any(m.split('.')[0] == 'prefect' for m in sys.modules))\n")


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again: nothing listens there


@pytest.fixture
def deployment(tmp_path, monkeypatch):
    """The small plan synced into a SQLite store under tmp_path, its settings in the environment."""
    url = f"sqlite:///{tmp_path / 'duban.sqlite'}"
    engine = make_engine(url)
    migrate(engine)
    catalog = load_catalog(DATA / "mini.yaml")
    sync(engine=engine, catalog=catalog, catalog_text=(DATA / "mini.yaml").read_text(encoding="utf-8"),
         people=load_people(DATA / "mini_contacts.csv", catalog), now=datetime(2020, 9, 1, tzinfo=UTC))
    values = {"DUBAN_DATABASE_URL": url, "DUBAN_VAR_DIR": str(tmp_path / "var"),
              "DUBAN_CATALOG": str(DATA / "mini.yaml"), "DUBAN_CONTACTS": str(DATA / "mini_contacts.csv"),
              "DUBAN_SECRET": "dry-run-secret", "DUBAN_CONFIG": str(tmp_path / "none.toml")}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    yield engine
    engine.dispose()


def _cli(*args: str) -> str:
    env = {**os.environ, "PREFECT_API_URL": f"http://127.0.0.1:{_dead_port()}/api"}
    done = subprocess.run([sys.executable, "-c", CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _outbox(engine) -> Counter:
    with engine.connect() as connection:
        return Counter(dict(connection.execute(select(NotificationRow.channel, func.count())
                                               .group_by(NotificationRow.channel)).all()))


def test_daily_dry_run_starts_no_prefect_and_counts_what_a_real_run_queues(deployment):
    out = _cli("run", "daily", "--dry-run", "--as-of", MOMENT)
    assert "prefect imported: False" in out
    would = re.search(r"would queue: (\d+) notification\(s\) to (\d+) recipient\(s\)（\2人，\1条）: (.*?); "
                      r"stages: (.*)", out)
    assert would, out
    assert _outbox(deployment) == Counter()  # a dry run writes nothing
    real = runbodies.daily_flow(MOMENT, None, False, sync=False)  # the same body, queueing for real
    queued = _outbox(deployment)
    assert int(would.group(1)) == sum(queued.values()) > 10
    assert would.group(3) == ", ".join(f"{channel} {n}" for channel, n in sorted(queued.items()))
    assert any(line.startswith("queued: ") and line.endswith(would.group(4)) for line in real["lines"])
    again = _cli("run", "daily", "--dry-run", "--as-of", MOMENT)
    assert "would queue: 0 notification(s)" in again  # nothing twice


def test_remind_sheets_and_dispatch_dry_runs_keep_nothing(deployment, tmp_path):
    out = _cli("run", "remind", "--dry-run", "--as-of", "2020-09-14T09:00+08:00")
    assert "prefect imported: False" in out and re.search(r"would queue: [1-9]\d* notification", out), out
    sheets = _cli("run", "sheets", "--dry-run", "--as-of", MOMENT)
    assert "prefect imported: False" in sheets and "(dry run: nothing kept)" in sheets
    assert not (tmp_path / "var" / "sheets").exists() and _outbox(deployment) == Counter()
    runbodies.notices_flow("remind", "2020-09-14T09:00+08:00", None, False)  # queued, not sent
    queued = _outbox(deployment)
    after = _cli("run", "dispatch", "--dry-run", "--as-of", "2020-09-14T09:00+08:00")
    assert "prefect imported: False" in after
    assert re.search(r"would send now: (.*)", after).group(1) == ", ".join(
        f"{channel} {n}" for channel, n in sorted(queued.items()))


def test_unknown_flows_are_not_dry_run_without_prefect():
    with pytest.raises(ValueError, match="no dry run without Prefect for flow 'nosuch'"):
        runbodies.dry_run("nosuch", as_of=None, plan=None)
