"""The outbox against a real SMTP server: once and only once, retries, two dispatchers, a killed dispatcher."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ROOT, SmtpSink, free_port
from sqlalchemy import select

from duban import outbox
from duban.models import NotificationRow
from duban.notify.email import SmtpSender
from duban.store import make_engine, migrate

AS_OF = datetime(2020, 10, 29, 1, 0, tzinfo=UTC)


def notes(count: int, prefix: str = "k", **extra) -> list[dict]:
    return [{"plan_id": "p", "key": f"{prefix}{n}", "person_id": f"person{n}", "channel": "email",
             "address": f"p{n}@example.org", "subject": f"督办提醒 {n}", "body_text": "正文", "as_of": AS_OF, **extra}
            for n in range(count)]


def put(engine, rows) -> int:
    with engine.begin() as connection:
        return outbox.enqueue(connection=connection, notifications=rows)


def states(engine) -> dict[str, str]:
    with engine.connect() as connection:
        return dict(connection.execute(select(NotificationRow.key, NotificationRow.state)).all())


def send_all(engine, url, now=None, **kwargs):
    clock = (lambda: now) if now else (lambda: datetime.now(UTC))
    return outbox.dispatch(engine=engine, senders={"email": SmtpSender.from_url(url)}, as_of=AS_OF, now=clock,
                           **kwargs)


def test_enqueue_is_insert_if_key_absent(engine):
    assert put(engine, notes(3)) == 3
    assert put(engine, notes(4)) == 1
    assert len(states(engine)) == 4 and set(states(engine).values()) == {"queued"}


def test_enqueue_refuses_rows_without_a_key(engine):
    with pytest.raises(ValueError, match="lacks key"):
        put(engine, [{"plan_id": "p", "person_id": "x", "channel": "email", "as_of": AS_OF}])


def test_dispatch_sends_each_once_and_rerun_sends_nothing(engine, smtp_sink):
    put(engine, notes(7))
    first = send_all(engine, smtp_sink.url, batch=3)
    assert sum(first.sent.values()) == 7 and first.batches == 3
    again = send_all(engine, smtp_sink.url)
    assert sum(again.sent.values()) == 0 and len(smtp_sink.messages) == 7
    assert set(states(engine).values()) == {"sent"}


def test_dispatch_sends_rows_someone_else_queued(engine, smtp_sink):
    # A weekly digest, queued by another part of duban with its own key and HTML.
    put(engine, [{"plan_id": "p", "key": "digest:p:2020-W44:leader", "person_id": "leader", "channel": "email",
                  "address": "zhao@example.org", "subject": "【督办周报】逾期事项", "body_text": "周报",
                  "body_html": "<p>周报</p>", "data": '{"name": "赵书记"}', "as_of": AS_OF, "not_before": AS_OF}])
    send_all(engine, smtp_sink.url)
    assert smtp_sink.messages[0]["To"].addresses[0].display_name == "赵书记"


def test_not_before_holds_rows(engine, smtp_sink):
    put(engine, notes(1, not_before=AS_OF + timedelta(hours=10)))
    assert sum(send_all(engine, smtp_sink.url).sent.values()) == 0
    later = outbox.dispatch(engine=engine, senders={"email": SmtpSender.from_url(smtp_sink.url)},
                            as_of=AS_OF + timedelta(hours=10), now=lambda: datetime.now(UTC))
    assert sum(later.sent.values()) == 1


def test_server_down_then_back(engine):
    put(engine, notes(3))
    port = free_port()
    url = f"smtp://127.0.0.1:{port}?from=duban@example.org&timeout=2"
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    down = send_all(engine, url, now=t0)
    assert sum(down.failed.values()) == 3 and "cannot connect" in down.errors[0]
    with engine.connect() as connection:
        rows = connection.execute(select(NotificationRow.state, NotificationRow.attempts,
                                         NotificationRow.last_error, NotificationRow.not_before)).all()
    assert {(r.state, r.attempts) for r in rows} == {("failed", 1)}
    assert all("cannot connect" in r.last_error and r.not_before == t0 + timedelta(seconds=60) for r in rows)
    assert sum(send_all(engine, url, now=t0 + timedelta(seconds=30)).failed.values()) == 0  # still backing off
    sink = SmtpSink()
    from aiosmtpd.controller import Controller

    sink.controller = Controller(sink, hostname="127.0.0.1", port=port)
    sink.controller.start()
    try:
        back = send_all(engine, url, now=t0 + timedelta(seconds=61))
    finally:
        sink.controller.stop()
    assert sum(back.sent.values()) == 3 and len(sink.messages) == 3
    assert set(states(engine).values()) == {"sent"}


def test_retry_budget_then_given_up(engine):
    put(engine, notes(1))
    url = f"smtp://127.0.0.1:{free_port()}?from=duban@example.org&timeout=2"
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(3):
        send_all(engine, url, now=moment, max_attempts=3)
        moment += timedelta(hours=3)
    with engine.connect() as connection:
        row = connection.execute(select(NotificationRow.state, NotificationRow.attempts)).one()
    assert (row.state, row.attempts) == ("given_up", 3)


def test_backoff_grows_and_is_capped():
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert outbox.backoff(30) == outbox.BACKOFF_CAP


def test_refused_recipient_is_given_up_at_once(engine, smtp_sink):
    async def refuse(server, session, envelope, address, rcpt_options):
        return "550 5.1.1 no such user" if address.startswith("p0@") else await _accept(envelope, address)

    async def _accept(envelope, address):
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp_sink.handle_RCPT = refuse
    put(engine, notes(2))
    report = send_all(engine, smtp_sink.url)
    assert sum(report.given_up.values()) == 1 and sum(report.sent.values()) == 1
    assert states(engine) == {"k0": "given_up", "k1": "sent"}


def test_two_dispatchers_at_once_send_each_exactly_once(pg_url, smtp_sink):
    engines = [make_engine(pg_url) for _ in range(3)]
    migrate(engines[0])
    put(engines[0], notes(120))
    barrier = threading.Barrier(len(engines))
    reports = []

    def work(engine) -> None:
        barrier.wait()
        reports.append(send_all(engine, smtp_sink.url, batch=7))

    threads = [threading.Thread(target=work, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keys = [m["X-Duban-Key"] for m in smtp_sink.messages]
    assert len(keys) == 120 and len(set(keys)) == 120
    assert sum(sum(r.sent.values()) for r in reports) == 120
    assert sum(1 for r in reports if r.claimed) >= 2  # the work was really shared
    for engine in engines:
        engine.dispose()


def test_sqlite_dispatchers_at_once_also_send_once(tmp_path, smtp_sink):
    url = f"sqlite:///{tmp_path / 'two.sqlite'}"
    engines = [make_engine(url) for _ in range(2)]
    migrate(engines[0])
    put(engines[0], notes(40))
    threads = [threading.Thread(target=send_all, args=(e, smtp_sink.url), kwargs={"batch": 3}) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keys = [m["X-Duban-Key"] for m in smtp_sink.messages]
    assert sorted(keys) == sorted(f"k{n}" for n in range(40))


KILLED_DISPATCHER = """
import sys
from datetime import UTC, datetime
from duban import outbox
from duban.notify.email import SmtpSender
from duban.store import make_engine
engine = make_engine(sys.argv[1])
outbox.dispatch(engine=engine, senders={"email": SmtpSender.from_url(sys.argv[2])},
                as_of=datetime(2020, 10, 29, 1, 0, tzinfo=UTC), now=lambda: datetime.now(UTC), batch=10)
"""


def test_a_dispatcher_killed_mid_way_loses_nothing(store_url, smtp_sink):
    engine = make_engine(store_url)
    migrate(engine)
    put(engine, notes(40))
    original = smtp_sink.handle_DATA

    async def slow(server, session, envelope):
        await asyncio.sleep(0.05)
        return await original(server, session, envelope)

    smtp_sink.handle_DATA = slow
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen([sys.executable, "-c", KILLED_DISPATCHER, store_url, smtp_sink.url], env=env)
    deadline = time.monotonic() + 30
    while len(smtp_sink.messages) < 12 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    delivered_before = len(smtp_sink.messages)
    assert 12 <= delivered_before < 40
    assert "sending" in states(engine).values()  # its claimed batch is left mid-way
    smtp_sink.handle_DATA = original
    now = datetime.now(UTC)
    assert sum(send_all(engine, smtp_sink.url, now=now).sent.values()) < 40 - delivered_before + 1
    send_all(engine, smtp_sink.url, now=now + outbox.LEASE + timedelta(seconds=1))  # the lease has run out
    keys = [m["X-Duban-Key"] for m in smtp_sink.messages]
    assert set(keys) == {f"k{n}" for n in range(40)}  # nothing lost
    assert len(keys) - len(set(keys)) <= 1  # at most the one message in flight at the kill is sent again
    assert set(states(engine).values()) == {"sent"}
    engine.dispose()
