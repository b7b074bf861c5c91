"""Shared fixtures: real SQLite files, the real PostgreSQL server, a real SMTP server on loopback."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from duban.catalog import load_catalog
from duban.directory import load_people
from duban.store import make_engine, migrate
from duban.sync import sync

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
PG_ENV = "DUBAN_TEST_POSTGRES_URL"
PG_SKIP = f"PostgreSQL tests need a server: set {PG_ENV}=postgresql://postgres@127.0.0.1:5432/test"

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session", autouse=True)
def prefect_home(tmp_path_factory) -> Iterator[Path]:
    """The session's own Prefect home: a kept Prefect server that a CLI test starts (duban.prefectserver) lives in
    it and is stopped when the session ends, instead of outliving the tests in ~/.prefect (and, should the session
    be killed, it stops itself after two idle minutes)."""
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.setdefault("DUBAN_PREFECT_KEEP_SECONDS", "120")
    yield home
    from duban import prefectserver

    prefectserver.stop(home)


def at(text: str) -> datetime:
    """A fixed moment in Shanghai time, e.g. at('2020-10-09 09:00')."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


class Clock:
    """A clock the tests move by hand (for code that takes `now` as a callable)."""

    def __init__(self, moment: datetime) -> None:
        self.now = moment

    def __call__(self) -> datetime:
        return self.now


def _pg_schema_url(base: str, schema: str) -> str:
    import psycopg

    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


def _pg_drop(base: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema on the PostgreSQL server, dropped afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = _pg_schema_url(base, schema)
    yield url
    _pg_drop(base, schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'duban.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(store_url: str):
    """An engine on a fresh, migrated store."""
    result = make_engine(store_url)
    migrate(result)
    yield result
    result.dispose()


@pytest.fixture
def store(store_url: str, engine):
    """The fresh store's URL and its engine, for tests that hand the URL to other processes."""
    return store_url, engine


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for a test module."""
    from browsing import launch

    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def mini_catalog():
    """The small test plan."""
    return load_catalog(DATA / "mini.yaml")


@pytest.fixture
def mini_people(mini_catalog):
    """The small test directory."""
    return load_people(DATA / "mini_contacts.csv", mini_catalog)


@pytest.fixture
def mini_store(engine, mini_catalog, mini_people):
    """A store synced with the small test plan and directory."""
    text = (DATA / "mini.yaml").read_text(encoding="utf-8")
    start = datetime(2020, 9, 1, tzinfo=UTC)
    sync(engine=engine, catalog=mini_catalog, catalog_text=text, people=mini_people, now=start)
    return engine


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(uvicorn: Any, wait: float = 10.0) -> Iterator[None]:
    """Run a uvicorn server (duban.web.server) in a thread until the block ends; it must start within `wait` s."""
    thread = threading.Thread(target=uvicorn.run, daemon=True)
    thread.start()
    deadline = time.time() + wait
    while not uvicorn.started:
        assert time.time() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield
    finally:
        uvicorn.should_exit = True
        thread.join(5)


class SmtpSink:
    """A real SMTP server on loopback that keeps every message it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.envelopes: list = []
        self.delay = 0.0  # seconds before answering each message: a slow server, to stop a sender mid-batch
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server, session, envelope) -> str:
        from email import message_from_bytes, policy

        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        self.envelopes.append(envelope)
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content, policy=policy.default))
        return "250 OK"

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?from=duban@example.org"


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A running loopback SMTP server; `.messages` holds what it received."""
    sink = SmtpSink()
    sink.controller.start()
    yield sink
    sink.controller.stop()


# --- Sheets, digests, bulletins (issue 6): the small plan with a replayed campaign of known states. ---

def settle(engine, occurrence_id: str, *, plan_id: str = "mini-2020", evidence: int = 0, **values) -> None:
    """Put an occurrence in a state directly (state, acked_at, reported_at, verified_at, waived_at, value, ...)
    with an event, and `evidence` fake evidence rows; instants may be given as at('...') text."""
    from sqlalchemy import insert, update

    from duban.models import EventRow, EvidenceRow, OccurrenceRow

    values = {k: at(v) if isinstance(v, str) and k.endswith("_at") else v for k, v in values.items()}
    if values.get("reported_at") is not None:
        values.setdefault("report_count", 1)
    moment = max((v for k, v in values.items() if k.endswith("_at") and v is not None), default=at("2020-09-01 09:00"))
    occ = OccurrenceRow.__table__
    with engine.begin() as connection:
        done = connection.execute(update(occ).where(occ.c.plan_id == plan_id, occ.c.id == occurrence_id)
                                  .values(updated_at=moment, **values))
        assert done.rowcount == 1, f"no occurrence {occurrence_id}"
        connection.execute(insert(EventRow.__table__).values(
            plan_id=plan_id, occurrence_id=occurrence_id, at=moment, actor="test", source="cli",
            kind=values.get("state", "edit"), after=values.get("state"), data="{}"))
        for n in range(evidence):
            connection.execute(insert(EvidenceRow.__table__).values(
                plan_id=plan_id, occurrence_id=occurrence_id, sha256=f"{n:064d}", name=f"证明{n + 1}.pdf",
                content_type="application/pdf", size=1000, uploaded_by="test", at=moment))


# At 2020-10-29 09:00 the sheet shows 21 items: 10 green, 3 blue, 4 red, 3 yellow, 0 grey, 1 waived.
MINI_CAMPAIGN = {
    "projects-started/shuangjiang/2020-09-01": dict(state="verified", acked_at="2020-09-02 10:00",
                                                    reported_at="2020-09-14 16:00", verified_at="2020-09-16 10:00",
                                                    value=100.0, evidence=2),
    "projects-started/qinglong/2020-09-01": dict(state="reported", reported_at="2020-09-20 11:00", value=95.0),
    "leaders-study/leaders/2020-09-06": dict(state="verified", reported_at="2020-09-15 17:00",
                                             verified_at="2020-09-17 09:00", evidence=1),
    "leaders-study/leaders/2020-10-01": dict(state="reported", reported_at="2020-10-20 10:00"),
    "visits/sj-cadre-1/2020-09-01": dict(state="reported", reported_at="2020-09-29 15:00"),
    "teaching/shuangjiang/2020-09-28": dict(state="reported", reported_at="2020-10-03 12:00"),
    "teaching/shuangjiang/2020-10-05": dict(state="reported", reported_at="2020-10-10 12:00"),
    "teaching/qinglong/2020-10-05": dict(state="waived", waived_at="2020-10-06 09:00"),
    "dispatch/office/2020-09-28": dict(state="reported", reported_at="2020-09-28 18:00"),
    "dispatch/office/2020-09-29": dict(state="reported", reported_at="2020-09-29 18:00"),
    "dispatch/office/2020-09-30": dict(state="reported", reported_at="2020-09-30 18:00"),
    "dispatch/office/2020-10-09": dict(state="reported", reported_at="2020-10-09 18:00"),
    "dispatch/office/2020-10-10": dict(state="reported", reported_at="2020-10-10 18:00"),
    "dispatch/office/2020-10-12": dict(state="acked", acked_at="2020-10-12 09:30"),
    "poverty-day/office/2020-09-01": dict(state="reported", reported_at="2020-10-26 10:00"),
}


@pytest.fixture
def mini_campaign(mini_store):
    """The small plan's store after a campaign replayed to the end of October 2020 (see MINI_CAMPAIGN)."""
    for occurrence_id, values in MINI_CAMPAIGN.items():
        settle(mini_store, occurrence_id, **values)
    return mini_store


# --- Closing the loop (issue 5): sign for, report, verify through web, CLI and import. ---

LOOP_TABLES = ("occurrence", "event", "evidence", "notification", "web_session", "link_use")


def store_snapshot(engine) -> dict:
    """Every row of the tables actions touch, to assert that a refused action changed nothing.
    (A session's `last_seen_at` is bookkeeping, not a change, and is left out.)"""
    from sqlalchemy import MetaData, select

    meta = MetaData()
    meta.reflect(engine, only=list(LOOP_TABLES))
    with engine.connect() as connection:
        return {name: sorted(map(tuple, connection.execute(select(
            *(c for c in meta.tables[name].columns if c.name != "last_seen_at"))).all()), key=repr)
            for name in LOOP_TABLES}


@pytest.fixture
def snapshot():
    """`snapshot(engine)`: the rows of every table actions touch (fixtures need no import path)."""
    return store_snapshot


@pytest.fixture
def loop_settings(store_url: str, tmp_path: Path):
    """Settings for the web app and CLI on the test store, with evidence under tmp_path/var."""
    from duban.config import Settings

    return Settings(database_url=store_url, var_dir=str(tmp_path / "var"), secret="test-secret-" + "x" * 20,
                    base_url="http://testserver", upload_max_mb=1)


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for the whole session (it takes 8-16 s to start): request it only in flow tests."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


class HttpRecorder(BaseHTTPRequestHandler):
    """Records each request as received (server.requests); answers with the server's canned (status, JSON) reply."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                     "body": body})
        status, reply = self.server.reply
        payload = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer  # http.server's hook names

    def log_message(self, *args) -> None:
        pass
