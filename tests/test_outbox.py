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
from conftest import ROOT, Clock, SmtpSink, free_port
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
    # One connection: one message in flight at the kill (a pool of n: at most n, tests/faults/test_dispatch_pool.py)
    process = subprocess.Popen([sys.executable, "-c", KILLED_DISPATCHER, store_url, smtp_sink.url + "&connections=1"],
                               env=env)
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


# --- issue 14: claim tokens, leases that end, bad rows, requeue ---------------------------------------------------


def test_a_row_is_marked_only_under_the_claim_that_holds_it(engine):
    put(engine, notes(2))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    lease = timedelta(seconds=10)
    first = outbox.claim(engine=engine, as_of=AS_OF, now=t0, lease=lease)
    second = outbox.claim(engine=engine, as_of=AS_OF, now=t0 + timedelta(seconds=11), lease=lease)  # lease over
    assert [r.id for r in first] == [r.id for r in second] and first[0].token != second[0].token
    old, new = first[0], second[0]
    assert not outbox.mark_sent(engine=engine, notification_id=old.id, token=old.token, now=t0)
    assert outbox.mark_failed(engine=engine, notification_id=first[1].id, token=first[1].token, attempts=0,
                              error="late", now=t0) == "lost"
    assert states(engine) == {"k0": "sending", "k1": "sending"}  # the late dispatcher changed nothing
    assert outbox.mark_sent(engine=engine, notification_id=new.id, token=new.token, now=t0)
    assert states(engine)["k0"] == "sent"


def test_a_dispatcher_whose_lease_ran_out_while_connecting_sends_nothing(engine, smtp_sink):
    put(engine, notes(3))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    lease = timedelta(seconds=10)
    late = outbox.claim(engine=engine, as_of=AS_OF, now=t0, lease=lease)
    taken = outbox.claim(engine=engine, as_of=AS_OF, now=t0 + timedelta(seconds=11), lease=lease)
    report = outbox.send_batch(engine=engine, rows=late, senders={"email": SmtpSender.from_url(smtp_sink.url)},
                               now=lambda: t0 + timedelta(seconds=11), lease=lease)
    assert sum(report.sent.values()) == 0 and smtp_sink.messages == []
    with engine.connect() as connection:
        tokens = set(connection.execute(select(NotificationRow.claim_token)).scalars())
    assert tokens == {taken[0].token}  # the rows stay with the dispatcher that holds them now


def test_a_batch_stops_before_its_lease_ends_and_gives_the_rest_back(engine, smtp_sink):
    put(engine, notes(10))
    put(engine, notes(1, prefix="retry"))
    _settle(engine, "retry0", "failed")  # a row that failed once before, due for its retry
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    original = smtp_sink.handle_DATA

    async def one_second_each(server, session, envelope):
        clock.now += timedelta(seconds=1)  # each message takes a second of the dispatcher's time
        return await original(server, session, envelope)

    smtp_sink.handle_DATA = one_second_each
    lease = timedelta(seconds=10)  # 1 s kept free at its end, 2 s for one send: nothing starts after 7 s
    rows = outbox.claim(engine=engine, as_of=AS_OF, now=clock(), lease=lease)
    sender = SmtpSender.from_url(smtp_sink.url + "&timeout=2")
    report = outbox.send_batch(engine=engine, rows=rows, senders={"email": sender}, now=clock, lease=lease)
    assert (sum(report.sent.values()), report.released) == (8, 3)
    with engine.connect() as connection:
        left = connection.execute(select(NotificationRow.state, NotificationRow.attempts, NotificationRow.claim_token)
                                  .where(NotificationRow.state != "sent").order_by(NotificationRow.id)).all()
    assert left == [("queued", 0, None)] * 2 + [("failed", 1, None)]  # as they were, ready for the next claim
    assert len(smtp_sink.messages) == 8


def test_the_send_timeout_is_cut_to_fit_the_lease(engine, smtp_sink):
    sender = SmtpSender.from_url(smtp_sink.url)  # 30 s by default
    put(engine, notes(1))
    outbox.dispatch(engine=engine, senders={"email": sender}, as_of=AS_OF, now=lambda: datetime.now(UTC),
                    lease=timedelta(seconds=5))
    assert sender.send_timeout == pytest.approx((5 - 0.5) / 2)
    with pytest.raises(ValueError, match="DUBAN_SEND_LEASE_SECONDS"):
        outbox.dispatch(engine=engine, senders={"email": sender}, as_of=AS_OF, now=lambda: datetime.now(UTC),
                        lease=timedelta(seconds=0))


def test_a_bad_row_fails_alone_with_its_reason_and_blocks_nothing(engine, smtp_sink):
    rows = notes(3)
    rows[1]["data"] = {"name": "王\n主任"}  # Alt+Enter in an Excel cell: the email header builder refuses it
    put(engine, rows)
    report = send_all(engine, smtp_sink.url)
    assert (sum(report.sent.values()), sum(report.given_up.values())) == (2, 1)
    assert states(engine) == {"k0": "sent", "k1": "given_up", "k2": "sent"}  # nothing left in `sending`
    bad = next(r for r in outbox.rows(engine=engine) if r["key"] == "k1")
    assert bad["last_error"].startswith("cannot build or send: ValueError:") and "CR or LF" in bad["last_error"]
    again = send_all(engine, smtp_sink.url)  # later dispatches do not trip over it
    assert again.claimed == 0 and len(smtp_sink.messages) == 2


def _settle(engine, key: str, state: str, attempts: int = 1) -> int:
    with engine.begin() as connection:
        connection.execute(NotificationRow.__table__.update().where(NotificationRow.key == key).values(
            state=state, attempts=attempts, last_error="550 throttled" if state != "sent" else ""))
        return connection.execute(select(NotificationRow.id).where(NotificationRow.key == key)).scalar_one()


def test_requeue_puts_failed_and_given_up_rows_back(engine, smtp_sink):
    put(engine, notes(5))
    ids = {key: _settle(engine, key, state) for key, state in
           (("k0", "given_up"), ("k1", "given_up"), ("k2", "failed"), ("k3", "sent"), ("k4", "given_up"))}
    now = datetime(2026, 1, 1, tzinfo=UTC)
    before = states(engine)
    for bad, message in (({}, "say which rows"), ({"ids": [ids["k3"]]}, "it is sent"),
                         ({"ids": [999]}, "--id 999: no such notification"),
                         ({"states": ["sent"]}, "cannot be put back")):
        with pytest.raises(ValueError, match=message):
            outbox.requeue(engine=engine, now=now, **bad)
    assert states(engine) == before  # refused: nothing changed
    assert outbox.requeue(engine=engine, now=now, ids=[ids["k0"]]) == {"given_up": 1}
    assert outbox.requeue(engine=engine, now=now, person_id="person4") == {"given_up": 1}
    assert outbox.requeue(engine=engine, now=now, states=["given_up", "failed"]) == {"given_up": 1, "failed": 1}
    with engine.connect() as connection:
        back = connection.execute(select(NotificationRow.state, NotificationRow.attempts)
                                  .where(NotificationRow.key != "k3")).all()
    assert set(back) == {("queued", 0)}  # a fresh retry budget
    report = send_all(engine, smtp_sink.url, now=now)
    assert sum(report.sent.values()) == 4 and set(states(engine).values()) == {"sent"}


def test_requeue_command_says_how_many(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from duban.cli import _load_commands
    from duban.cli.common import app

    url = f"sqlite:///{tmp_path / 'duban.sqlite'}"
    monkeypatch.setenv("DUBAN_DATABASE_URL", url)
    monkeypatch.setenv("DUBAN_CONFIG", str(tmp_path / "none.toml"))
    store = make_engine(url)
    migrate(store)
    put(store, notes(3))
    _settle(store, "k0", "given_up")
    _settle(store, "k1", "failed")
    _load_commands()
    runner = CliRunner()
    result = runner.invoke(app, ["outbox", "requeue", "--state", "given_up", "--state", "failed"])
    assert result.exit_code == 0, result.output
    assert "requeued 2 notification(s) (1 failed, 1 given_up)" in result.output
    refused = runner.invoke(app, ["outbox", "requeue", "--id", "42"])
    assert refused.exit_code == 1 and "duban: --id 42: no such notification" in refused.output
    assert "Traceback" not in refused.output
    store.dispose()




def test_a_claim_reads_the_rows_still_to_send_not_every_row_sent(store_url):
    """A year of sent rows must not slow each claim, nor a city's queue of 200,000 make each claim sort them all: the
    claim's query reads the rows still to send from an index, in id order where the store can (PostgreSQL: the
    partial index of migration 0016), never by walking the table."""
    from sqlalchemy import event, update

    engine = make_engine(store_url)
    migrate(engine)
    put(engine, notes(4000))
    with engine.begin() as connection:
        connection.execute(update(NotificationRow).where(NotificationRow.id <= 3000).values(state="sent"))
        connection.exec_driver_sql("ANALYZE")
    statements: list[tuple[str, object]] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, sql, params, context, many: statements.append((sql, params)))
    taken = outbox.claim(engine=engine, as_of=AS_OF, now=AS_OF, limit=50)
    assert [row.key for row in taken] == [f"k{n}" for n in range(3000, 3050)]
    (sql, params), = [(sql, params) for sql, params in statements if sql.lstrip().upper().startswith("UPDATE")]
    with engine.connect() as connection:
        plan = [str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN {sql}" if engine.dialect.name ==
                                                                    "postgresql" else f"EXPLAIN QUERY PLAN {sql}",
                                                                    params)]
    engine.dispose()
    if store_url.startswith("postgresql"):
        assert any("Index Scan using ix_notification_pending" in step for step in plan), "\n".join(plan)
        assert not any("Sort" in step for step in plan), "\n".join(plan)
    else:
        assert any("USING INDEX ix_notification_" in step for step in plan), plan
        assert "SCAN notification" not in plan, plan
