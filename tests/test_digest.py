"""The weekly overdue digest: content, readers, one email per leader and week through the outbox."""

from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from duban.digest import Reader, build_digest, queue_digest, readers, render_notifications
from duban.models import NotificationRow
from duban.sheets.data import load_snapshot
from duban.sheets.render import templates
from tests.conftest import at

PLAN = "mini-2020"
MONDAY = at("2020-11-02 08:30")


def test_digest_overdue_by_unit_oldest_first(mini_campaign):
    digest = build_digest(load_snapshot(mini_campaign, PLAN, MONDAY))
    assert digest.week == "2020-W45"
    assert (digest.overdue, digest.new, len(digest.closed), digest.closed_late) == (4, 3, 1, 1)
    # September's visit and the first week of 送教上门 were superseded by later periods: missed, counted apart
    assert digest.missed == 3
    assert [(u.unit.id, u.missed) for u in digest.units] == [
        ("office", 0), ("qinglong", 2), ("leaders", 1), ("shuangjiang", 0)]
    office, qinglong = digest.units[:2]
    assert [(i.id, i.days) for i in office.items] == [("dispatch/office/2020-10-12", 21)]
    assert office.items[0].level_text == "三级（县扶贫办）"  # the last day of a daily task has no later one
    assert [(i.id, i.days, digest.is_new(i)) for i in qinglong.items] == [("visits/ql-cadre-1/2020-10-01", 2, True)]
    assert qinglong.items[0].level == 0  # the first level falls at 09:00 on the first workday after 10-31
    assert digest.closed[0].id == "poverty-day/office/2020-09-01"


def test_readers_are_leaders_and_digest_to_units(mini_campaign):
    with mini_campaign.connect() as connection:
        snapshot = load_snapshot(mini_campaign, PLAN, MONDAY)
        found = readers(connection, PLAN, snapshot.plan.catalog)
    # role leader: 赵书记 and 王主任; digest.to unit:leaders adds 赵书记 again, once only
    assert [(r.id, r.name, r.email) for r in found] == [("leaders-head", "赵书记", "zhao@example.org"),
                                                      ("office-head", "王主任", "wang@example.org")]


def test_email_bodies(mini_campaign):
    digest = build_digest(load_snapshot(mini_campaign, PLAN, MONDAY))
    reader = Reader("office-head", "王主任", "office", "wang@example.org")
    nobody = Reader("ql-in-charge", "郑副主任", "qinglong", "")
    [mail] = render_notifications(digest, [reader, nobody], templates(), MONDAY, lambda r: f"http://x/login/{r.id}")
    assert mail["key"] == "digest/mini-2020/office-head/2020-W45"
    assert (mail["channel"], mail["address"], mail["not_before"]) == ("email", "wang@example.org", MONDAY)
    assert mail["subject"] == "【督办周报】逾期未办结4项（本周新增3项），往期未按期3项｜2020年11月2日（星期一）"
    text = mail["body_text"]
    assert text.startswith("王主任同志：") and "本周办结1项（其中逾期办结1项）" in text
    assert "另有往期未按期事项3项（已过下一周期，不再单独催办）" in text
    assert text.index("县扶贫办：") < text.index("青龙街道") < text.index("县委、县政府") < text.index("双江街道")
    assert "2. 青龙街道：逾期1项，本周新增1项，最长逾期2天；往期未按期2项" in text
    assert text.count("［新增］") == 3 and "http://x/login/office-head" in text
    assert "10月12日截止，逾期21天，督办三级（县扶贫办）" in text
    assert "本周办结1项：县扶贫办1项。" in text
    assert "责任领导：分管：郑副主任；主要：吴书记" in text
    soup = BeautifulSoup(mail["body_html"], "html.parser")
    lines = soup.select(".item")
    assert [(r["data-count"], r["data-new"]) for r in lines] == [("1", "0"), ("1", "1"), ("1", "1"), ("1", "1")]
    assert len(soup.select("span.new")) == 3
    assert [h["data-unit"] for h in soup.select("h3.unit")] == ["office", "qinglong", "leaders", "shuangjiang"]
    assert [r.select_one(".days").text for r in lines[:2]] == ["逾期21天", "逾期2天"]


def test_queue_is_idempotent_per_week(mini_campaign):
    first = queue_digest(engine=mini_campaign, plan_id=PLAN, as_of=MONDAY, now=MONDAY)
    again = queue_digest(engine=mini_campaign, plan_id=PLAN, as_of=MONDAY + timedelta(hours=2), now=MONDAY)
    assert (first.queued, again.queued) == (2, 0)
    assert "queued 2 new of 2 email(s); 4 overdue (3 new), 3 missed, 1 closed this week" in first.summary()
    next_week = queue_digest(engine=mini_campaign, plan_id=PLAN, as_of=MONDAY + timedelta(days=7), now=MONDAY)
    assert next_week.queued == 2
    with mini_campaign.connect() as connection:
        keys = connection.execute(select(NotificationRow.key).order_by(NotificationRow.key)).scalars().all()
    assert keys == ["digest/mini-2020/leaders-head/2020-W45", "digest/mini-2020/leaders-head/2020-W46",
                    "digest/mini-2020/office-head/2020-W45", "digest/mini-2020/office-head/2020-W46"]


def test_dry_run_queues_nothing(mini_campaign):
    run = queue_digest(engine=mini_campaign, plan_id=PLAN, as_of=MONDAY, now=MONDAY, dry_run=True)
    assert len(run.notifications) == 2 and run.queued == 0 and "would queue 2" in run.summary()
    with mini_campaign.connect() as connection:
        assert connection.execute(select(func.count()).select_from(NotificationRow)).scalar() == 0


def test_a_quiet_week(mini_store):
    """Nothing overdue yet: the digest says so."""
    run = queue_digest(engine=mini_store, plan_id=PLAN, as_of=at("2020-09-07 08:30"), now=MONDAY, dry_run=True)
    assert run.notifications[0]["subject"] == "【督办周报】本周无逾期事项｜2020年9月7日（星期一）"
    assert "没有逾期未办结事项" in run.notifications[0]["body_text"]


@pytest.mark.slow
def test_digest_flow_twice_reaches_smtp_once(mini_campaign, smtp_sink, prefect_harness, tmp_path, monkeypatch):
    """The digest flow twice, then the dispatch flow (as `duban run` calls them): each leader gets one email."""
    from duban.cli.delivery import call_flow

    if mini_campaign.dialect.name != "sqlite":
        pytest.skip("flow tests run once, on SQLite (the engine below them runs on both)")
    for name, value in {"DATABASE_URL": mini_campaign.url.render_as_string(hide_password=False),
                        "SMTP_URL": smtp_sink.url, "VAR_DIR": str(tmp_path / "var"), "SECRET": "s" * 32,
                        "BASE_URL": "http://duban.test"}.items():
        monkeypatch.setenv(f"DUBAN_{name}", value)
    for name, moment in (("digest", "08:30"), ("digest", "09:30"), ("dispatch", "09:40"), ("dispatch", "10:00")):
        call_flow(name, as_of=f"2020-11-02T{moment}:00+08:00")
    received = sorted(m["To"].addresses[0].addr_spec for m in smtp_sink.messages)
    assert received == ["wang@example.org", "zhao@example.org"]
    message = smtp_sink.messages[0]
    assert message["Subject"] == "【督办周报】逾期未办结4项（本周新增3项），往期未按期3项｜2020年11月2日（星期一）"
    body = message.get_body(("plain",)).get_content()
    assert "http://duban.test/s/" in body and "/login/" not in body and "［新增］" in body  # a short link
