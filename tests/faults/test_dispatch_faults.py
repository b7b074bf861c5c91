"""Dispatch under faults, against real peers: slow, hanging and flapping SMTP servers, a server refusing every
message, a slow and a hanging SMS gateway, two dispatcher processes with a short lease, a dispatcher killed with
kill -9. Each test counts, per notification, what the servers took responsibility for: sent, duplicated, lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ROOT
from servers import FaultyGateway, FaultySmtp, SilentServer
from sqlalchemy import select

from duban import outbox
from duban.models import NotificationRow
from duban.notify.email import SmtpSender
from duban.notify.sms import sms_sender

AS_OF = datetime(2020, 10, 29, 1, 0, tzinfo=UTC)
LEASE = 3.0  # seconds: short, so that a slow channel outlives it
# Two stores cost time: the slow server and the kill run on SQLite and PostgreSQL, the other faults on SQLite.
SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

DISPATCHER = """
import json, sys
from datetime import UTC, datetime, timedelta
from duban import outbox
from duban.notify.email import SmtpSender
from duban.notify.sms import sms_sender
from duban.store import make_engine
store, smtp, sms, lease, sms_timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
senders = {"email": SmtpSender.from_url(smtp), "sms": sms_sender(sms)}
if sms_timeout:
    senders["sms"].timeout = sms_timeout
engine = make_engine(store)
sys.stdin.readline()  # started early (imports take seconds on a busy machine); sends when told
report = outbox.dispatch(engine=engine, senders=senders, as_of=datetime(2020, 10, 29, 1, 0, tzinfo=UTC),
                         now=lambda: datetime.now(UTC), lease=timedelta(seconds=lease))
print(json.dumps({"sent": dict(report.sent), "failed": dict(report.failed), "given_up": dict(report.given_up)}))
"""


def rows(emails: int, sms: int) -> list[dict]:
    made = [{"plan_id": "p", "key": f"e{n}", "person_id": f"person{n}", "channel": "email",
             "address": f"p{n}@example.org", "subject": f"督办提醒 {n}", "body_text": "正文", "as_of": AS_OF}
            for n in range(emails)]
    return made + [{"plan_id": "p", "key": f"s{n}", "person_id": f"person{n}", "channel": "sms",
                    "address": f"1380000{n:04d}", "subject": "督办提醒", "body_text": "请按时完成", "as_of": AS_OF,
                    "data": {"sms_params": {"name": f"官员{n}", "count": "1"}}} for n in range(sms)]


@pytest.fixture
def smtp():
    server = FaultySmtp().start()
    yield server
    server.stop()


@pytest.fixture
def gateway():
    server = FaultyGateway().start()
    yield server
    server.stop()


def queue(engine, emails: int, sms: int, sms_first: bool = False) -> set[str]:
    notes = rows(emails, sms)
    if sms_first:  # queued first, so a batch that takes channels in turn would reach them first
        notes = notes[emails:] + notes[:emails]
    with engine.begin() as connection:
        outbox.enqueue(connection=connection, notifications=notes)
    return {n["key"] for n in notes}


def start_dispatcher(store_url: str, smtp_url: str, sms_url: str, sms_timeout: float = 0) -> subprocess.Popen:
    """A dispatcher process, loaded and waiting: `go(process)` sets it off."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen([sys.executable, "-c", DISPATCHER, store_url, smtp_url, sms_url, str(LEASE),
                             str(sms_timeout)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def go(process: subprocess.Popen) -> None:
    process.stdin.write("go\n")
    process.stdin.flush()


def claimed(engine) -> bool:
    with engine.connect() as connection:
        return connection.execute(select(NotificationRow.id).where(NotificationRow.state == "sending")).first() \
            is not None


def run_dispatchers(engine, store_url: str, smtp_url: str, sms_url: str, sms_timeout: float = 0,
                    limit: float = 60) -> list[dict]:
    """Two dispatcher processes, the second set off once the first's claim is older than the lease (the next
    scheduled run, while the first is still busy); each sends until nothing is left to claim (killed after
    `limit` s)."""
    processes = [start_dispatcher(store_url, smtp_url, sms_url, sms_timeout) for _ in range(2)]
    go(processes[0])
    deadline = time.monotonic() + 30
    while not claimed(engine) and processes[0].poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(LEASE + 0.3)
    go(processes[1])
    reports = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        assert process.returncode in (0, -signal.SIGKILL), err
        reports.append(json.loads(out) if out.strip() else {})
    return reports


def recover(engine, smtp_url: str, sms_url: str) -> outbox.DispatchReport:
    """The peers are well again: a dispatcher three hours later (past every backoff and lease) sends what is left."""
    later = datetime.now(UTC) + timedelta(hours=3)
    senders = {"email": SmtpSender.from_url(smtp_url + "&timeout=2"), "sms": sms_sender(sms_url)}
    return outbox.dispatch(engine=engine, senders=senders, as_of=AS_OF, now=lambda: later,
                           lease=timedelta(seconds=LEASE))


@dataclass
class Tally:
    """What the peers took responsibility for, per notification key."""

    sent: int
    duplicated: int
    lost: int
    states: dict[str, int]

    def line(self, fault: str) -> str:
        return f"{fault}: sent {self.sent}, duplicated {self.duplicated}, lost {self.lost}, outbox {self.states}"


def tally(engine, expected: set[str], *received: Counter) -> Tally:
    delivered = Counter()
    for counter in received:
        delivered.update(counter)
    with engine.connect() as connection:
        states = Counter(connection.execute(select(NotificationRow.state)).scalars())
    return Tally(sent=len(expected & set(delivered)), duplicated=sum(n - 1 for n in delivered.values() if n > 1),
                 lost=len(expected - set(delivered)), states=dict(states))


def check(fault: str, result: Tally, expected: set[str]) -> None:
    print(result.line(fault))
    assert (result.duplicated, result.lost) == (0, 0), result.line(fault)
    assert result.sent == len(expected) and result.states == {"sent": len(expected)}, result.line(fault)


def test_slow_smtp_two_dispatchers_send_each_once(store, smtp, gateway):
    store_url, engine = store
    expected = queue(engine, emails=16, sms=16)
    smtp.delay = 0.4  # seconds a message: 16 emails outlive the 3 s lease
    run_dispatchers(engine, store_url, smtp.url, gateway.url)
    smtp.delay = 0
    recover(engine, smtp.url, gateway.url)
    check("slow smtp", tally(engine, expected, smtp.accepted, gateway.answered), expected)


@SQLITE_ONLY
@pytest.mark.parametrize("where", ["greeting", "data"])
def test_hanging_smtp_holds_no_sms_and_sends_nothing_twice(store, smtp, gateway, where):
    store_url, engine = store
    expected = queue(engine, emails=8, sms=16)
    silent = SilentServer().start()
    smtp.mode = "hang"
    url = silent.url if where == "greeting" else smtp.url  # the default timeout (30 s) is longer than the lease
    try:
        run_dispatchers(engine, store_url, url, gateway.url)
    finally:
        silent.stop()
    assert sum(gateway.answered.values()) == 16, ("every SMS went out while the mail server hung", [
        (r["state"], r["last_error"]) for r in outbox.rows(engine=engine) if r["channel"] == "sms"][:4])
    smtp.mode = "ok"
    recover(engine, smtp.url, gateway.url)
    check(f"hanging smtp ({where})", tally(engine, expected, smtp.accepted, gateway.answered), expected)


@SQLITE_ONLY
def test_flapping_smtp_two_dispatchers(store, smtp, gateway):
    store_url, engine = store
    expected = queue(engine, emails=20, sms=16)
    smtp.mode, smtp.delay = "flap", 0.2
    run_dispatchers(engine, store_url, smtp.url, gateway.url)
    smtp.mode, smtp.delay = "ok", 0
    recover(engine, smtp.url, gateway.url)
    check("flapping smtp", tally(engine, expected, smtp.accepted, gateway.answered), expected)


@pytest.mark.parametrize("mode", ["refuse-data", "refuse-rcpt"])
def test_5xx_to_every_message_is_retried_and_to_one_address_is_final(store, smtp, gateway, mode):
    _, engine = store
    expected = queue(engine, emails=10, sms=0)
    smtp.mode = mode  # a throttling provider: 554 to every message, or 550 to every recipient
    now = datetime.now(UTC)
    first = outbox.dispatch(engine=engine, senders={"email": SmtpSender.from_url(smtp.url)}, as_of=AS_OF,
                            now=lambda: now)
    assert sum(first.given_up.values()) == 0 and sum(first.failed.values()) == 10, first.summary()
    smtp.mode = "ok"
    recover(engine, smtp.url, gateway.url)
    check(f"server-wide 5xx ({mode})", tally(engine, expected, smtp.accepted), expected)
    # One address refused while the others pass: that refusal is about the address, and final.
    with engine.begin() as connection:
        outbox.enqueue(connection=connection, notifications=[{**n, "key": f"later-{n['key']}"} for n in rows(4, 0)])
    smtp.mode, smtp.refused = "refuse-one", {"p1@example.org"}  # a plain 550: no enhanced status code to go by
    report = outbox.dispatch(engine=engine, senders={"email": SmtpSender.from_url(smtp.url)}, as_of=AS_OF,
                             now=lambda: now)
    assert (sum(report.sent.values()), sum(report.given_up.values())) == (3, 1), report.summary()
    with engine.connect() as connection:
        state = dict(connection.execute(select(NotificationRow.key, NotificationRow.state)).all())
    assert state["later-e1"] == "given_up"


@SQLITE_ONLY
def test_slow_sms_gateway_two_dispatchers_send_each_once(store, smtp, gateway):
    store_url, engine = store
    expected = queue(engine, emails=8, sms=24)
    gateway.delay = 0.2  # seconds an SMS: 24 outlive the 3 s lease
    run_dispatchers(engine, store_url, smtp.url, gateway.url)
    gateway.delay = 0
    recover(engine, smtp.url, gateway.url)
    check("slow sms gateway", tally(engine, expected, smtp.accepted, gateway.answered), expected)


@SQLITE_ONLY
def test_hanging_sms_gateway_holds_no_email(store, smtp, gateway):
    store_url, engine = store
    expected = queue(engine, emails=16, sms=8, sms_first=True)
    gateway.mode = "hang"  # with the default timeout (10 s), longer than the lease
    run_dispatchers(engine, store_url, smtp.url, gateway.url)
    assert sum(smtp.accepted.values()) == 16, "every email went out while the SMS gateway hung"
    gateway.mode = "ok"
    recover(engine, smtp.url, gateway.url)
    check("hanging sms gateway", tally(engine, expected, smtp.accepted, gateway.answered), expected)


def test_a_dispatcher_killed_mid_batch_loses_nothing_and_held_no_sms(store, smtp, gateway):
    store_url, engine = store
    expected = queue(engine, emails=10, sms=10)
    smtp.delay = 0.4
    # One connection: one email on the wire at the kill (test_dispatch_pool: a pool of n, at most n)
    process = start_dispatcher(store_url, smtp.url + "&connections=1", gateway.url)
    go(process)
    deadline = time.monotonic() + 60
    while (sum(gateway.answered.values()) < 10 and sum(smtp.accepted.values()) < 10
           and time.monotonic() < deadline):
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    emails_before = sum(smtp.accepted.values())
    assert emails_before < 10, "the kill came after the email batch: the SMS waited for it"
    assert sum(gateway.answered.values()) == 10
    smtp.delay = 0
    recover(engine, smtp.url, gateway.url)
    result = tally(engine, expected, smtp.accepted, gateway.answered)
    print(result.line("kill -9 mid-batch"))
    assert result.lost == 0 and result.states == {"sent": len(expected)}, result.line("kill -9")
    assert result.duplicated <= 1, result.line("kill -9")  # the one email on the wire when the process died


def test_one_bad_row_fails_alone_and_later_runs_do_not_trip_on_it(store, smtp, gateway, monkeypatch, tmp_path):
    store_url, engine = store
    notes = rows(6, 4)
    notes[2]["data"] = {"name": "王\n主任"}  # Alt+Enter in an Excel cell: the email header builder raises ValueError
    with engine.begin() as connection:
        outbox.enqueue(connection=connection, notifications=notes)
    from duban import runs

    senders = {"email": SmtpSender.from_url(smtp.url), "sms": sms_sender(gateway.url)}
    now = datetime.now(UTC)
    first = runs.send_step(engine, senders, AS_OF, lambda: now)  # the dispatch flow's task body
    assert (sum(first.sent.values()), sum(first.given_up.values())) == (9, 1), first.summary()
    assert runs.send_step(engine, senders, AS_OF, lambda: now).claimed == 0  # the next run: nothing, no crash
    monkeypatch.setenv("DUBAN_DATABASE_URL", store_url)
    monkeypatch.setenv("DUBAN_CONFIG", str(tmp_path / "none.toml"))
    from typer.testing import CliRunner

    from duban.cli import _load_commands
    from duban.cli.common import app

    _load_commands()
    shown = json.loads(CliRunner().invoke(app, ["outbox", "--state", "given_up", "--format", "json"]).stdout)
    assert [r["key"] for r in shown] == ["e2"]
    assert shown[0]["last_error"].startswith("cannot build or send: ValueError:")
    with engine.connect() as connection:
        left = Counter(connection.execute(select(NotificationRow.state)).scalars())
    assert left == {"sent": 9, "given_up": 1}  # nothing stuck in `sending`
    print(f"one bad row: sent {sum(first.sent.values())}, given up 1 (its reason in `duban outbox`), stuck 0")
