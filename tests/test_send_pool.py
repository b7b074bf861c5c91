"""Sending fast and still once: the message written directly equals the email package's, a pool of SMTP connections
reused across batches, marks in groups, two dispatchers with several connections each on a real aiosmtpd server."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from duban.notify.email import SmtpSender, build_message, message_bytes, parse_smtp_url
from duban.outbox import Outgoing

NOW = datetime(2020, 10, 29, 1, 0, tzinfo=UTC)


def outgoing(n: int = 1, **changes) -> Outgoing:
    data = {"name": "王主任（扶贫办）", "from_name": "县扶贫办督办"}
    fields = {"id": n, "key": f"notice/yunyang-2020/20201029T010000/p{n:04d}/email/{'ab' * 8}", "plan_id": "p",
              "person_id": f"p{n}", "channel": "email", "address": f"p{n}@example.org",
              "subject": "【督办汇总】督办2项工作，涉及2个逾期单位（人）" * 2,
              "body_text": "王主任同志：\n\n请按时完成。\r\n" + "一项工作，" * 300 + "\n",
              "body_html": "<p>王主任同志：</p>\n<p>请按时完成。</p>" + "<td>一项</td>" * 500, "data": data,
              "attempts": 0}
    fields.update(changes)
    return Outgoing(**fields)


@pytest.mark.parametrize("changes", [{}, {"body_html": ""}, {"body_text": ""}, {"data": {}},
                                     {"data": {"name": "Wang \"Jr\", Director"}}, {"key": "键/中文"}])
def test_the_message_written_directly_reads_as_the_email_packages(changes):
    row = outgoing(**changes)
    built = build_message(row, sender="duban@example.gov.cn", now=NOW, from_name=row.data.get("from_name", ""))
    fast = message_from_bytes(message_bytes(row, sender="duban@example.gov.cn", now=NOW), policy=policy.default)
    slow = message_from_bytes(built.as_bytes(), policy=policy.default)
    for name in ("Subject", "From", "To", "Date", "Message-ID", "X-Duban-Key", "MIME-Version"):
        assert str(fast[name]).strip() == str(slow[name]).strip(), name
    assert fast["To"].addresses[0].display_name == slow["To"].addresses[0].display_name
    assert fast.get_content_type() == slow.get_content_type()
    for kind in ("plain", "html"):
        part_fast, part_slow = fast.get_body((kind,)), slow.get_body((kind,))
        assert (part_fast is None) == (part_slow is None)
        if part_slow is not None:
            assert part_fast.get_payload(decode=True) == part_slow.get_payload(decode=True)  # the same bytes
    lines = message_bytes(row, sender="duban@example.gov.cn", now=NOW).split(b"\r\n")
    assert max(len(line) for line in lines) <= 998 and all(b"\n" not in line for line in lines)
    head = lines[:lines.index(b"")]
    assert max(len(line) for line in head if not line.startswith(b"X-Duban-Key")) <= 78  # folded as RFC 5322 asks


@pytest.mark.parametrize(("changes", "reason"), [({"data": {"name": "王\n主任"}}, "CR or LF"),
                                                 ({"subject": "a\rb"}, "CR or LF"),
                                                 ({"address": "no-domain"}, None), ({"address": "a@b@c"}, None)])
def test_the_direct_message_refuses_what_the_email_package_refuses(changes, reason):
    row = outgoing(**changes)
    with pytest.raises(Exception) as refused:  # whatever the email package raises, the same type here
        build_message(row, sender="duban@example.gov.cn", now=NOW).as_bytes()
    with pytest.raises(type(refused.value), match=reason):
        message_bytes(row, sender="duban@example.gov.cn", now=NOW)


@pytest.mark.parametrize("body", ["正文", "a line\n.starting with a dot"])
def test_the_lean_sendmail_says_what_smtplib_says(smtp_sink, body):
    import smtplib

    from duban.notify.email import sendmail

    data = message_bytes(outgoing(body_text=body), sender="duban@example.org", now=NOW)
    if "." in body:  # (message_bytes never starts a line with a dot; bytes that do go through smtplib's own path)
        data = data.replace(b"\r\nMIME-Version", b"\r\n.MIME-Version")
    client = smtplib.SMTP("127.0.0.1", smtp_sink.port)
    client.sendmail("duban@example.org", ["p1@example.org"], data)
    sendmail(client, "duban@example.org", "p1@example.org", data)
    client.quit()
    first, second = smtp_sink.envelopes
    assert (first.mail_from, first.rcpt_tos, first.mail_options, first.original_content) == (
        second.mail_from, second.rcpt_tos, second.mail_options, second.original_content)
    assert second.mail_options == [f"SIZE={len(data)}"]


def test_the_lean_sendmail_raises_smtplibs_refusals(smtp_sink):
    import smtplib

    from duban.notify.email import sendmail

    async def refuse(server, session, envelope, address, options):
        if address.startswith("nobody"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp_sink.handle_RCPT = refuse
    data = message_bytes(outgoing(), sender="duban@example.org", now=NOW)
    client = smtplib.SMTP("127.0.0.1", smtp_sink.port)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        sendmail(client, "duban@example.org", "nobody@example.org", data)
    assert refused.value.recipients == {"nobody@example.org": (550, b"5.1.1 no such mailbox")}
    sendmail(client, "duban@example.org", "p1@example.org", data)  # the session was reset: the next one goes
    client.quit()
    assert [e.rcpt_tos for e in smtp_sink.envelopes] == [["p1@example.org"]]


def test_the_pool_size_is_an_smtp_url_option():
    assert parse_smtp_url("smtp://h?from=a@b.org").connections == 4
    assert parse_smtp_url("smtp://h?from=a@b.org&connections=1").connections == 1
    for bad in ("0", "x", "51", "-2"):
        with pytest.raises(ValueError, match=f"smtp_url: connections={bad}"):
            parse_smtp_url(f"smtp://h?from=a@b.org&connections={bad}")


def watchdogs() -> int:
    return sum(thread.name == "duban-smtp-watchdog" for thread in threading.enumerate())


def test_one_watchdog_thread_per_open_connection_and_none_after(smtp_sink):
    before = set(threading.enumerate())
    sender = SmtpSender.from_url(smtp_sink.url)
    sender.open()
    for n in range(20):
        sender.send(outgoing(n), NOW)
    started = [t for t in set(threading.enumerate()) - before if t.name == "duban-smtp-watchdog"]
    assert len(started) == 1  # one thread for the connection's life, not one per message
    sender.close()
    started[0].join(timeout=5)
    assert not started[0].is_alive() and len(smtp_sink.messages) == 20


def test_a_dispatch_leaves_no_connection_or_watchdog_behind_even_after_a_bad_row(engine, smtp_sink):
    from duban import outbox

    with engine.begin() as connection:
        outbox.enqueue(connection=connection, notifications=[
            {"plan_id": "p", "key": f"k{n}", "person_id": f"x{n}", "channel": "email", "address": f"x{n}@example.org",
             "subject": "督办", "as_of": NOW, "data": {"name": "王\n主任"} if n == 3 else {}} for n in range(30)])
    before = watchdogs()
    report = outbox.dispatch(engine=engine, senders={"email": SmtpSender.from_url(smtp_sink.url + "&connections=3")},
                             as_of=NOW, now=lambda: datetime.now(UTC), batch=5)
    assert (sum(report.sent.values()), sum(report.given_up.values())) == (29, 1), report.summary()
    for thread in [t for t in threading.enumerate() if t.name == "duban-smtp-watchdog"]:
        thread.join(timeout=5)
    assert watchdogs() <= before


def test_a_step_with_a_time_budget_ends_after_the_batches_in_hand_and_the_next_sends_the_rest(engine, smtp_sink):
    from duban import outbox

    with engine.begin() as connection:
        outbox.enqueue(connection=connection, notifications=[
            {"plan_id": "p", "key": f"k{n}", "person_id": f"x{n}", "channel": "email", "address": f"x{n}@example.org",
             "subject": "督办", "as_of": NOW} for n in range(40)])
    sender = SmtpSender.from_url(smtp_sink.url + "&connections=2")
    first = outbox.dispatch(engine=engine, senders={"email": sender}, as_of=NOW, now=lambda: datetime.now(UTC),
                            batch=5, seconds=0)  # the time is up at once: each connection sends one batch
    assert (first.batches, sum(first.sent.values()), first.more) == (2, 10, True), first.summary()
    rest = outbox.dispatch(engine=engine, senders={"email": sender}, as_of=NOW, now=lambda: datetime.now(UTC),
                           batch=5, seconds=60)
    assert (rest.batches, sum(rest.sent.values()), rest.more) == (6, 30, False), rest.summary()  # none left
    assert sorted(m["X-Duban-Key"] for m in smtp_sink.messages) == sorted(f"k{n}" for n in range(40))


def test_the_light_due_check_agrees_with_dispatch(engine, store_url):
    from datetime import timedelta

    from sqlalchemy import update

    from duban import outbox
    from duban.models import NotificationRow
    from duban.sendcheck import anything_due

    table = NotificationRow.__table__
    lease = timedelta(minutes=10)
    base = datetime(2020, 10, 29, 1, 0, tzinfo=UTC)
    moments = [base + timedelta(minutes=m) for m in (-61, -60, -1, 0, 1, 9, 10, 11, 59, 60, 61, 600)]

    def agree(label: str) -> None:
        for as_of in moments:
            for now in moments:
                due = bool(outbox.due_channels(engine=engine, as_of=as_of, now=now, lease=lease))
                assert anything_due(store_url, as_of=as_of, now=now, lease=lease) is due, (label, as_of, now)

    assert anything_due(store_url, as_of=base, now=base, lease=lease) is False  # an empty outbox
    with engine.begin() as connection:
        outbox.enqueue(connection=connection, notifications=[{
            "plan_id": "p", "key": "k", "person_id": "x", "channel": "email", "address": "x@example.org",
            "subject": "s", "as_of": base, "not_before": base}])
    agree("queued")
    for state, values in (("failed", {"not_before": base + timedelta(minutes=1)}),
                          ("sending", {"claimed_at": base - timedelta(minutes=1)}), ("sent", {}), ("given_up", {})):
        with engine.begin() as connection:
            connection.execute(update(table).values(state=state, **values))
        agree(state)


def test_the_light_due_check_steps_aside_for_a_store_it_cannot_read(tmp_path):
    from datetime import timedelta

    from duban.sendcheck import anything_due

    missing = f"sqlite:///{tmp_path / 'none.sqlite'}"
    assert anything_due(missing, as_of=NOW, now=NOW, lease=timedelta(minutes=10)) is None
    (tmp_path / "empty.sqlite").write_bytes(b"")  # a file with no outbox table yet
    empty = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    assert anything_due(empty, as_of=NOW, now=NOW, lease=timedelta(minutes=10)) is None


CLI_PROBE = """
import sys
from duban.cli import main
sys.argv = ["duban", "run", "dispatch", *sys.argv[1:]]
try:
    main()
except SystemExit as done:
    assert not done.code, done.code
print("prefect loaded:", any(name == "prefect" or name.startswith("prefect.") for name in sys.modules))
print("sqlalchemy loaded:", "sqlalchemy" in sys.modules)
"""


@pytest.mark.parametrize("as_of", [None, "2020-10-29T09:00+08:00"])
def test_run_dispatch_with_nothing_due_answers_without_prefect_or_the_orm(engine, store_url, tmp_path, as_of):
    import os
    import subprocess
    import sys
    from datetime import date

    from conftest import ROOT

    from duban import outbox
    from duban.models import PlanRow

    with engine.begin() as connection:  # a plan (whose zone reads --as-of) and a row due only tomorrow
        connection.execute(PlanRow.__table__.insert().values(
            id="p", title="t", timezone="Asia/Shanghai", start=date(2020, 9, 1), end=date(2020, 12, 31),
            catalog_sha="0", catalog_text="", synced_at=datetime(2020, 9, 1, tzinfo=UTC)))
        outbox.enqueue(connection=connection, notifications=[{
            "plan_id": "p", "key": "k", "person_id": "x", "channel": "email", "address": "x@example.org",
            "subject": "s", "as_of": datetime(2020, 10, 30, tzinfo=UTC)}])
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "DUBAN_DATABASE_URL": store_url,
           "DUBAN_VAR_DIR": str(tmp_path / "var"), "DUBAN_CONFIG": str(tmp_path / "none.toml")}
    env.pop("DUBAN_SMTP_URL", None)
    args = ["--as-of", as_of] if as_of else []
    moment = as_of or "2020-10-29T09:00+08:00"
    if as_of is None:  # no --as-of: now, which is long after the row's day; move the row past the far future
        from sqlalchemy import update

        from duban.models import NotificationRow

        with engine.begin() as connection:
            connection.execute(update(NotificationRow.__table__).values(not_before=datetime(9000, 1, 1, tzinfo=UTC)))
    done = subprocess.run([sys.executable, "-c", CLI_PROBE, *args], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == "dispatch: nothing due (Prefect not started)", (moment, done.stdout)
    assert "prefect loaded: False" in lines and "sqlalchemy loaded: False" in lines


def test_the_flow_body_takes_no_step_after_one_that_found_nothing_left(engine, store_url, smtp_sink, tmp_path):
    from duban import outbox, runbodies
    from duban.config import Settings

    with engine.begin() as connection:
        outbox.enqueue(connection=connection, notifications=[
            {"plan_id": "p", "key": f"k{n}", "person_id": f"x{n}", "channel": "email", "address": f"x{n}@example.org",
             "subject": "督办", "as_of": NOW} for n in range(12)])
    settings = Settings(database_url=store_url, smtp_url=smtp_sink.url, var_dir=str(tmp_path / "var"), secret="s" * 32)
    steps: list[outbox.DispatchReport] = []

    def step(*args) -> outbox.DispatchReport:
        steps.append(runbodies.dispatch_step(*args))
        return steps[-1]

    total = runbodies.send_queued(settings, datetime.now(UTC), False, batch=5, steps=runbodies.Steps(dispatch=step))
    assert (len(steps), sum(total.sent.values()), len(smtp_sink.messages)) == (1, 12, 12), total.summary()
