"""Shared fixtures: real SQLite files, the real PostgreSQL server, a real SMTP server on loopback."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
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


def at(text: str) -> datetime:
    """A fixed moment in Shanghai time, e.g. at('2020-10-09 09:00')."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


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
    sync(engine=engine, catalog=mini_catalog, catalog_text=text, people=mini_people, now=datetime(2020, 9, 1, tzinfo=UTC))
    return engine


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    """A real SMTP server on loopback that keeps every message it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.envelopes: list = []
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        from email import message_from_bytes, policy

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
