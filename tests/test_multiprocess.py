"""Run it for real: a Prefect server on PostgreSQL, a process work pool, two workers, a two-county store,
each county's daily run split in two shards.

Marked `multiprocess`: it starts `prefect server start` (10-30 s) and two `prefect worker` processes.
Needs DUBAN_TEST_POSTGRES_URL (the Prefect server and the store both live on that PostgreSQL server).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import pytest
from conftest import PG_ENV, PG_SKIP, ROOT, free_port
from sqlalchemy import select

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

sys.path.insert(0, str(ROOT / "benchmarks"))
COUNTIES = ("c01", "c02")
AS_OF = "2020-10-29T09:00+08:00"
NEXT_DAY = "2020-10-30T09:00+08:00"


def _database_url(base: str, database: str, scheme: str) -> str:
    parts = urlsplit(base)
    return urlunsplit((scheme, parts.netloc, f"/{database}", "", ""))


def _admin(base: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(sql)


def _wait_for(condition, timeout: float, what: str, poll: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """`prefect server start` on loopback, backed by its own PostgreSQL database."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP)
    import httpx

    database = f"duban_prefect_{uuid.uuid4().hex[:8]}"
    _admin(base, f'CREATE DATABASE "{database}"')
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_DATABASE_CONNECTION_URL": _database_url(base, database, "postgresql+asyncpg"),
           "PREFECT_LOGGING_LEVEL": "WARNING"}
    env.pop("PREFECT_API_URL", None)
    log = (home / "server.log").open("w")
    server = subprocess.Popen(["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"

    def healthy() -> bool:
        try:
            return httpx.get(f"{api}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return server.poll() is not None and pytest.fail((home / "server.log").read_text())

    _wait_for(healthy, 180, "the Prefect server")
    yield {"PREFECT_API_URL": api, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)
    _admin(base, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def city(pg_url, tmp_path):
    """A store on PostgreSQL holding two small counties' plans."""
    from scale import make_county

    from duban.catalog import parse_catalog
    from duban.directory import check_people
    from duban.store import make_engine, migrate
    from duban.sync import sync

    engine = make_engine(pg_url)
    migrate(engine)
    for county in COUNTIES:
        text, rows = make_county(county, towns=4, departments=4, people=60)
        catalog = parse_catalog(text, f"{county}.yaml")
        people = check_people(enumerate(rows, start=2), catalog, f"{county}.csv")
        sync(engine=engine, catalog=catalog, catalog_text=text, people=people, now=datetime(2020, 9, 1, tzinfo=UTC))
    return engine


def _prefect(env: dict, *args: str) -> str:
    result = subprocess.run(["prefect", "--no-prompt", *args], env={**os.environ, **env}, cwd=ROOT,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _trigger(env: dict, deployment: str, **parameters: str) -> str:
    args = ["deployment", "run", deployment]
    for key, value in parameters.items():
        args += ["--param", f"{key}={value}"]
    out = _prefect(env, *args)
    return re.search(r"UUID: ([0-9a-f-]{36})", out).group(1)


def _states(env: dict, run_ids: list[str]) -> dict[str, str]:
    import httpx

    response = httpx.post(f"{env['PREFECT_API_URL']}/flow_runs/filter",
                          json={"flow_runs": {"id": {"any_": run_ids}}}, timeout=10)
    return {run["id"]: run["state_type"] for run in response.json()}


def _wait_runs(env: dict, run_ids: list[str], timeout: float = 300) -> dict[str, str]:
    terminal = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
    return _wait_for(lambda: (s := _states(env, run_ids)) and all(v in terminal for v in s.values()) and s,
                     timeout, "the flow runs to finish", poll=1)


def _outbox_emails(engine) -> dict[str, str]:
    from duban.models import NotificationRow

    with engine.connect() as connection:
        rows = connection.execute(select(NotificationRow.key, NotificationRow.state)
                                  .where(NotificationRow.channel == "email")).all()
    return dict(rows)


def _outbox_states(engine) -> Counter:
    return Counter(_outbox_emails(engine).values())


def _children(pid: int) -> list[str]:
    result = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return result.stdout.split()


def _received_keys(sink) -> Counter:
    return Counter(str(message["X-Duban-Key"]).strip() for message in list(sink.messages))


@pytest.fixture
def workers(prefect_server, pg_url, smtp_sink, tmp_path):
    """A process work pool, the daily and dispatch deployments, and two workers serving them."""
    pool = "duban"  # the pool prefect.yaml names: plain `prefect deploy --all` is what is tested
    env = {**prefect_server, "DUBAN_DATABASE_URL": pg_url, "DUBAN_SMTP_URL": smtp_sink.url,
           "DUBAN_VAR_DIR": str(tmp_path / "var"), "DUBAN_SECRET": "multiprocess-secret",
           "DUBAN_CONFIG": str(tmp_path / "none.toml"), "DUBAN_SEND_LEASE_SECONDS": "5"}
    if pool not in _prefect(env, "work-pool", "ls"):
        _prefect(env, "work-pool", "create", pool, "--type", "process")
    _prefect(env, "deploy", "--all")
    processes = []
    for n in (1, 2):
        log = (tmp_path / f"worker{n}.log").open("w")
        processes.append(subprocess.Popen(
            ["prefect", "worker", "start", "--pool", pool, "--name", f"worker-{n}", "--limit", "2"],
            env={**os.environ, **env}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    yield env, processes
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def test_two_workers_deliver_every_message_once(city, workers, smtp_sink):
    env, _ = workers
    runs = [_trigger(env, "daily/daily", plan=f"{c}-2020", as_of=AS_OF, sync="false", shard=shard)
            for c in COUNTIES for shard in ("0/2", "1/2")]
    states = _wait_runs(env, runs)
    assert set(states.values()) == {"COMPLETED"}, states
    outbox = _outbox_emails(city)
    assert outbox and set(outbox.values()) == {"sent"}
    received = _received_keys(smtp_sink)
    assert set(received) == set(outbox)
    assert max(received.values()) == 1, [k for k, n in received.items() if n > 1]
    assert {key.split("/")[1] for key in outbox} >= {f"{c}-2020" for c in COUNTIES}

    again = [_trigger(env, "daily/daily", plan=f"{c}-2020", as_of=AS_OF, sync="false") for c in COUNTIES]
    assert set(_wait_runs(env, again).values()) == {"COMPLETED"}
    assert _received_keys(smtp_sink) == received


def test_a_worker_stopped_mid_run_loses_and_doubles_nothing(city, workers, smtp_sink):
    env, processes = workers
    smtp_sink.delay = 0.05
    runs = [_trigger(env, "daily/daily", plan=f"{c}-2020", as_of=NEXT_DAY, sync="false") for c in COUNTIES]
    _wait_for(lambda: len(smtp_sink.messages) >= 5, 240, "the first messages to arrive")
    busy = _wait_for(lambda: next((p for p in processes if _children(p.pid)), None), 60, "a worker running a flow")
    os.killpg(busy.pid, signal.SIGKILL)  # the worker and the flow run it started, mid-dispatch
    busy.wait(timeout=30)
    smtp_sink.delay = 0
    assert _outbox_states(city)["sending"] > 0, "the stopped run left claimed messages behind"
    # The office's remedy: run the day again for both counties on the surviving worker, then dispatch.
    redo = [_trigger(env, "daily/daily", plan=f"{c}-2020", as_of=NEXT_DAY, sync="false") for c in COUNTIES]
    assert set(_wait_runs(env, redo).values()) == {"COMPLETED"}
    time.sleep(6)  # past the send lease of what the stopped run had claimed
    final = _trigger(env, "dispatch/dispatch")
    assert set(_wait_runs(env, [final]).values()) == {"COMPLETED"}
    outbox = _outbox_emails(city)
    assert outbox and set(outbox.values()) == {"sent"}, Counter(outbox.values())
    received = _received_keys(smtp_sink)
    assert set(received) == set(outbox), "every queued message arrived"
    doubled = [key for key, n in received.items() if n > 1]
    # At most the messages on the wire when the process died (one per connection of the SMTP pool, 4 by default)
    # can arrive twice, with the same Message-ID.
    assert len(doubled) <= 4, doubled
    del runs
