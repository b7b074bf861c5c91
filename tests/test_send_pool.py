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


@pytest.mark.parametrize(("changes", "reason"), [({"data": {"name": "王\n主任"}}, "CR or LF"),
                                                 ({"subject": "a\rb"}, "CR or LF"),
                                                 ({"address": "no-domain"}, None), ({"address": "a@b@c"}, None)])
def test_the_direct_message_refuses_what_the_email_package_refuses(changes, reason):
    row = outgoing(**changes)
    with pytest.raises(Exception) as refused:  # whatever the email package raises, the same type here
        build_message(row, sender="duban@example.gov.cn", now=NOW).as_bytes()
    with pytest.raises(type(refused.value), match=reason):
        message_bytes(row, sender="duban@example.gov.cn", now=NOW)


def test_the_pool_size_is_an_smtp_url_option():
    assert parse_smtp_url("smtp://h?from=a@b.org").connections == 4
    assert parse_smtp_url("smtp://h?from=a@b.org&connections=1").connections == 1
    for bad in ("0", "x", "51", "-2"):
        with pytest.raises(ValueError, match=f"smtp_url: connections={bad}"):
            parse_smtp_url(f"smtp://h?from=a@b.org&connections={bad}")


def watchdogs() -> int:
    return sum(thread.name == "duban-smtp-watchdog" for thread in threading.enumerate())


def test_one_watchdog_thread_per_open_connection_and_none_after(smtp_sink):
    before = watchdogs()
    sender = SmtpSender.from_url(smtp_sink.url)
    sender.open()
    for n in range(20):
        sender.send(outgoing(n), NOW)
    assert watchdogs() == before + 1  # one thread for the connection's life, not one per message
    sender.close()
    for thread in [t for t in threading.enumerate() if t.name == "duban-smtp-watchdog"]:
        thread.join(timeout=5)
    assert watchdogs() == 0 and len(smtp_sink.messages) == 20
