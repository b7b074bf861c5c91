"""Prefect's local server kept between commands (duban.prefectserver): reused while it answers and was started with
this process's Prefect settings, idle only while no request or connection is open, and the runs recorded in it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
from conftest import ROOT

from duban import prefectserver
from duban.prefectserver import IdleWatch, Kept, fingerprint, running


def test_idle_counts_only_while_no_request_or_connection_is_open():
    started, release = asyncio.Event(), asyncio.Event()

    async def app(scope, receive, send):
        if scope["type"] == "http":
            started.set()
            await release.wait()

    watch = IdleWatch(app)

    async def scenario():
        request = asyncio.ensure_future(watch({"type": "http"}, None, None))
        await started.wait()
        assert watch.open == 1 and watch.idle_for() == 0.0  # a request in progress: never idle, however long
        watch.last -= 3600
        assert watch.idle_for() == 0.0
        release.set()
        await request
        assert watch.open == 0 and 0.0 <= watch.idle_for() < 60  # idle counts from the end of the last one
        await watch({"type": "lifespan"}, None, None)  # the app's start and stop are not a client
        assert watch.open == 0

    asyncio.run(scenario())


def test_a_server_is_reused_only_with_the_settings_it_was_started_with():
    mine = fingerprint({"PREFECT_HOME": "/srv/prefect", "PATH": "/bin"})
    assert mine == fingerprint({"PREFECT_HOME": "/srv/prefect", "PATH": "/usr/bin", "PREFECT_API_URL": "http://x/api"})
    assert mine == fingerprint({"PREFECT_HOME": "/srv/prefect", "PREFECT_LOGGING_LEVEL": "WARNING",
                                "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"})  # a client's own
    assert mine != fingerprint({"PREFECT_HOME": "/srv/other"})
    assert mine != fingerprint({"PREFECT_HOME": "/srv/prefect",
                                "PREFECT_API_DATABASE_CONNECTION_URL": "postgresql+asyncpg://p@127.0.0.1/prefect"})


class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_record_names_a_server_only_while_it_is_alive_answers_and_matches(tmp_path):
    server = HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"http://127.0.0.1:{server.server_address[1]}"
    ended = subprocess.Popen([sys.executable, "-c", "pass"])  # a process id nobody has now
    ended.wait()

    def record(**values):
        (tmp_path / prefectserver.RECORD).write_text(json.dumps(values), encoding="utf-8")

    try:
        assert running(tmp_path, "f") is None  # no record yet
        record(address=address, pid=os.getpid(), fingerprint="f")
        assert running(tmp_path, "f") == Kept(address, os.getpid(), "f")
        assert running(tmp_path, "other settings") is None
        record(address=address, pid=ended.pid, fingerprint="f")
        assert running(tmp_path, "f") is None  # its process is gone
        record(address="http://127.0.0.1:9", pid=os.getpid(), fingerprint="f")
        assert running(tmp_path, "f") is None  # alive, but nothing answers there
        (tmp_path / prefectserver.RECORD).write_text("{not json", encoding="utf-8")
        assert running(tmp_path, "f") is None
    finally:
        server.shutdown()


def _due_email(store_url: str) -> None:
    from duban import outbox
    from duban.models import NotificationRow, PlanRow
    from duban.store import make_engine, migrate

    engine = make_engine(store_url)
    migrate(engine)
    with engine.begin() as connection:
        if not connection.execute(PlanRow.__table__.select()).first():
            connection.execute(PlanRow.__table__.insert().values(
                id="p", title="t", timezone="Asia/Shanghai", start=date(2020, 9, 1), end=date(2020, 12, 31),
                catalog_sha="0", catalog_text="", synced_at=datetime(2020, 9, 1, tzinfo=UTC)))
        n = len(connection.execute(NotificationRow.__table__.select()).all())
        outbox.enqueue(connection=connection, notifications=[{
            "plan_id": "p", "key": f"k{n}", "person_id": "x", "channel": "email", "address": "x@example.org",
            "subject": f"s{n}", "as_of": datetime(2020, 10, 28, tzinfo=UTC)}])
    engine.dispose()


def test_run_starts_prefects_server_once_and_the_next_run_reuses_it(tmp_path, smtp_sink):
    """Two `duban run dispatch`: the first starts the kept server, the second finds it; both runs are in it."""
    store_url = f"sqlite:///{tmp_path / 'duban.sqlite'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "DUBAN_DATABASE_URL": store_url, "DUBAN_SMTP_URL":
           smtp_sink.url, "DUBAN_VAR_DIR": str(tmp_path / "var"), "DUBAN_CONFIG": str(tmp_path / "none.toml"),
           "DUBAN_PREFECT_KEEP_SECONDS": "120", "PREFECT_LOGGING_LEVEL": "WARNING"}
    env.pop("PREFECT_API_URL", None)
    home = Path(subprocess.run([sys.executable, "-c", "from duban.prefectserver import prefect_home; "
                                "print(prefect_home())"], env=env, capture_output=True, text=True,
                               check=True).stdout.strip())
    before = prefectserver.read_record(home)
    kept = []
    for as_of in ("2020-10-29T09:00+08:00", "2020-10-29T09:05+08:00"):
        _due_email(store_url)
        done = subprocess.run([sys.executable, "-m", "duban", "run", "dispatch", "--as-of", as_of], env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        assert "dispatch: sent 1 (email 1)" in done.stdout, done.stdout
        kept.append(prefectserver.read_record(home))
    try:
        assert kept[0] is not None and kept[0] == kept[1]  # started once (or found running), then reused
        assert prefectserver.answers(kept[0].address)
        assert len(smtp_sink.messages) == 2
        found = httpx.post(f"{kept[0].api_url}/flow_runs/filter", json={
            "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}, "sort": "START_TIME_DESC", "limit": 50},
            timeout=30).json()
        moments = {run["parameters"].get("as_of") for run in found}
        assert {"2020-10-29T09:00:00+08:00", "2020-10-29T09:05:00+08:00"} <= moments  # recorded as flow runs
    finally:
        if before is None or before.pid != kept[0].pid:  # (stop only the server this test started)
            prefectserver.stop(home)
