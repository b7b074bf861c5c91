"""Several SMTP connections at once, kept from batch to batch, still send each row once: two dispatcher processes
with a pool of three connections each, on SQLite and PostgreSQL, against a real aiosmtpd server that counts what it
took by each message's key; a server that hangs up now and then; a slow server past the lease with a pool."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ROOT
from servers import FaultySmtp
from sqlalchemy import select

from duban import outbox
from duban.models import NotificationRow
from duban.notify.email import SmtpSender

AS_OF = datetime(2020, 10, 29, 1, 0, tzinfo=UTC)
LEASE = 3.0

DISPATCHER = """
import json, sys
from datetime import UTC, datetime, timedelta
from duban import outbox
from duban.notify.email import SmtpSender
from duban.store import make_engine
store, smtp, lease, batch = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
engine = make_engine(store)
sys.stdin.readline()  # loaded; sends when told
report = outbox.dispatch(engine=engine, senders={"email": SmtpSender.from_url(smtp)}, as_of=datetime.fromisoformat(
    sys.argv[5]), now=lambda: datetime.now(UTC), lease=timedelta(seconds=lease), batch=batch)
print(json.dumps({"sent": sum(report.sent.values()), "batches": report.batches, "lost": sum(report.lost.values()),
                  "released": report.released}))
"""


class Sessions(FaultySmtp):
    """The fault server, also counting SMTP sessions (connections) and, with `hang_up_every`, closing the connection
    right after answering 250 to every n-th message (a server that limits messages per connection)."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[int, object] = {}  # kept, so that no id is reused by a later session
        self.hang_up_every = 0
        self._taken = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        self.sessions[id(session)] = session
        answer = await super().handle_DATA(server, session, envelope)
        self._taken += 1
        if self.hang_up_every and self._taken % self.hang_up_every == 0:
            asyncio.get_running_loop().call_soon(server.transport.close)  # after the 250 is written
        return answer


@pytest.fixture
def smtp():
    server = Sessions().start()
    yield server
    server.stop()


def queue(engine, count: int) -> set[str]:
    notes = [{"plan_id": "p", "key": f"e{n}", "person_id": f"person{n}", "channel": "email",
              "address": f"p{n}@example.org", "subject": f"督办提醒 {n}", "body_text": "请按时完成。" * 50,
              "body_html": "<p>请按时完成。</p>" * 50, "as_of": AS_OF} for n in range(count)]
    with engine.begin() as connection:
        outbox.enqueue(connection=connection, notifications=notes)
    return {n["key"] for n in notes}


def states(engine) -> Counter:
    with engine.connect() as connection:
        return Counter(connection.execute(select(NotificationRow.state)).scalars())


def test_two_dispatchers_with_three_connections_each_send_every_row_once(store, smtp):
    store_url, engine = store
    expected = queue(engine, 400)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    processes = [subprocess.Popen([sys.executable, "-c", DISPATCHER, store_url, smtp.url + "&connections=3",
                                   "600", "15", AS_OF.isoformat()], env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for process in processes:  # both set off together: their connections claim side by side
        process.stdin.write("go\n")
        process.stdin.flush()
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        reports.append(json.loads(out))
    print(f"two dispatchers x 3 connections: {reports}, server sessions {len(smtp.sessions)}")
    assert set(smtp.accepted) == expected  # nothing lost
    assert max(smtp.accepted.values()) == 1  # nothing twice
    assert states(engine) == {"sent": 400}
    assert sum(r["sent"] for r in reports) == 400 and not any(r["lost"] for r in reports)
    assert 2 < len(smtp.sessions) <= 6  # several connections at once, each kept across its batches
    assert sum(r["batches"] for r in reports) > len(smtp.sessions)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_server_hanging_up_every_few_messages_is_reconnected_to_and_nothing_is_sent_twice(store, smtp):
    _url, engine = store
    expected = queue(engine, 60)
    smtp.hang_up_every = 7
    sender = SmtpSender.from_url(smtp.url + "&connections=2")
    report = outbox.dispatch(engine=engine, senders={"email": sender}, as_of=AS_OF, now=lambda: datetime.now(UTC),
                             batch=10)
    assert sum(report.sent.values()) == 60 and not report.failed, report.summary()
    assert set(smtp.accepted) == expected and max(smtp.accepted.values()) == 1
    assert len(smtp.sessions) >= 60 // 7  # a new session after each hang-up
    assert states(engine) == {"sent": 60}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_pool_on_a_slow_server_stops_at_its_lease_and_gives_the_rest_back(store, smtp):
    _url, engine = store
    expected = queue(engine, 40)
    smtp.delay = 0.3
    sender = SmtpSender.from_url(smtp.url + "&connections=2&timeout=1")
    lease = timedelta(seconds=LEASE)
    first = outbox.dispatch(engine=engine, senders={"email": sender}, as_of=AS_OF, now=lambda: datetime.now(UTC),
                            lease=lease, batch=20, max_batches=1)
    sent_first = sum(first.sent.values())
    assert 0 < sent_first < 40 and first.released == 40 - sent_first, first.summary()
    assert sent_first == sum(smtp.accepted.values())  # every accepted message is marked before the rows go back
    assert states(engine) == {"sent": sent_first, "queued": 40 - sent_first}
    smtp.delay = 0
    later = datetime.now(UTC) + timedelta(hours=1)
    rest = outbox.dispatch(engine=engine, senders={"email": SmtpSender.from_url(smtp.url)}, as_of=AS_OF,
                           now=lambda: later, lease=lease)
    assert sum(rest.sent.values()) == 40 - sent_first
    assert set(smtp.accepted) == expected and max(smtp.accepted.values()) == 1


def test_a_dispatcher_with_a_pool_killed_mid_send_loses_nothing_and_resends_at_most_one_per_connection(store, smtp):
    store_url, engine = store
    expected = queue(engine, 30)
    smtp.delay = 0.4
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen([sys.executable, "-c", DISPATCHER, store_url, smtp.url + "&connections=3", "600", "10",
                                AS_OF.isoformat()], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdin.write("go\n")
    process.stdin.flush()
    deadline = time.monotonic() + 60
    while sum(smtp.accepted.values()) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    before = sum(smtp.accepted.values())
    assert before < 30, "the kill came after the last message"
    smtp.delay = 0
    later = datetime.now(UTC) + timedelta(hours=1)  # past the lease of the dead dispatcher's claims
    outbox.dispatch(engine=engine, senders={"email": SmtpSender.from_url(smtp.url)}, as_of=AS_OF, now=lambda: later)
    duplicated = sum(n - 1 for n in smtp.accepted.values() if n > 1)
    print(f"kill -9 with 3 connections: accepted {before} before the kill, duplicated {duplicated}, lost "
          f"{len(expected - set(smtp.accepted))}")
    assert set(smtp.accepted) == expected and states(engine) == {"sent": 30}
    assert duplicated <= 3  # the messages the three connections had on the wire
