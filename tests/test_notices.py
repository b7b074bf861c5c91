"""Reminders and escalations from a real store into the outbox: who hears what, once, merged per person."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DATA, at
from sqlalchemy import func, select, update

from duban import outbox, runs
from duban.catalog import parse_catalog
from duban.config import Settings
from duban.directory import Person
from duban.models import DeliveryRow, NotificationRow, OccurrenceRow
from duban.store import make_engine, migrate
from duban.sync import sync

BOTH = ("remind", "escalate")

HOLIDAY_PLAN = """
plan: {id: hol-2020, title: 节日测试, timezone: Asia/Shanghai, start: 2020-09-01, end: 2021-03-31, office: office}
defaults:
  remind: [3, 1, 0]
  escalate:
    - {after: 1, to: [in_charge]}
    - {after: 3, to: [head], ack_pauses: true}
  repeat_every: 5
  channels: [email, sms]
units:
  - {id: office, name: 县扶贫办}
  - {id: town, name: 双江街道}
tasks:
  - {id: national, ref: 一（一）1, title: 国庆前报送台账, owner: town, due: 2020-10-09}
  - {id: autumn, ref: 一（一）2, title: 九月底完成核查, owner: town, due: 2020-09-30}
  - {id: spring, ref: 一（二）1, title: 春节前走访慰问, owner: town, due: 2021-02-10, channels: [email]}
"""
HOLIDAY_PEOPLE = [
    Person("t-head", "钱书记", "town", ("head",), "qian@example.org", "13800000004"),
    Person("t-charge", "孙副主任", "town", ("in_charge",), "sun@example.org", "13800000005"),
    Person("o-liaison", "李联络", "office", ("liaison",), "li@example.org", ""),
]


def settings_for(engine, tmp_path, **extra) -> Settings:
    return Settings(database_url=engine.url.render_as_string(hide_password=False), var_dir=str(tmp_path / "var"),
                    secret="test-secret", base_url="https://duban.example.gov.cn", **extra)


def run(engine, tmp_path, when: str, kinds=BOTH, collect=True, **extra):
    settings = settings_for(engine, tmp_path, **extra)
    ctx = runs.context(engine, settings, _plan(engine))
    return runs.notices(engine, ctx, at(when), kinds, collect=collect)


def _plan(engine) -> str:
    from duban.views import pick_plan

    return pick_plan(engine, None)[0]


@pytest.fixture
def holiday_store(engine):
    catalog = parse_catalog(HOLIDAY_PLAN, "holiday.yaml")
    sync(engine=engine, catalog=catalog, catalog_text=HOLIDAY_PLAN, people=HOLIDAY_PEOPLE,
         now=datetime(2020, 9, 1, tzinfo=UTC))
    return engine


def stages_by_day(engine, tmp_path, first: str, days: int) -> dict[str, list[str]]:
    result = {}
    start = at(first)
    for offset in range(days):
        moment = start + timedelta(days=offset)
        report = run(engine, tmp_path, moment.strftime("%Y-%m-%d %H:%M"))
        found = sorted({f"{what.split()[1].split('/')[0]}:{what.split()[0]}" for row in report.rows
                        for what in row["what"] if not what.startswith("group-")})  # items, not roll-up lines
        if found:
            result[moment.date().isoformat()] = found
    return result


def test_national_day_campaign_day_by_day(holiday_store, tmp_path):
    # 2020: Sunday Sept 27 and Saturday Oct 10 are worked, Oct 1-8 are off.
    got = stages_by_day(holiday_store, tmp_path, "2020-09-24 09:00", 30)
    assert got == {
        "2020-09-27": ["autumn:remind-3"],
        "2020-09-28": ["national:remind-3"],
        "2020-09-29": ["autumn:remind-1"],
        "2020-09-30": ["autumn:remind-0", "national:remind-1"],
        "2020-10-09": ["autumn:escalate-1", "national:remind-0"],
        "2020-10-10": ["national:escalate-1"],
        "2020-10-12": ["autumn:escalate-3"],
        "2020-10-13": ["national:escalate-3"],
        "2020-10-19": ["autumn:escalate-3-r1"],
        "2020-10-20": ["national:escalate-3-r1"],
    }


def test_spring_festival_2021(holiday_store, tmp_path):
    # 2021: Sunday Feb 7 and Saturday Feb 20 are worked, Feb 11-17 are off.
    got = {day: [s for s in stages if s.startswith("spring")]
           for day, stages in stages_by_day(holiday_store, tmp_path, "2021-02-05 09:00", 17).items()}
    got = {day: stages for day, stages in got.items() if stages}
    assert got == {"2021-02-07": ["spring:remind-3"], "2021-02-09": ["spring:remind-1"],
                   "2021-02-10": ["spring:remind-0"], "2021-02-18": ["spring:escalate-1"],
                   "2021-02-20": ["spring:escalate-3"]}


def test_one_message_per_person_and_channel_and_never_twice(mini_store, tmp_path):
    first = run(mini_store, tmp_path, "2020-09-29 09:00")
    keys = Counter((row["person"], row["channel"]) for row in first.rows)
    assert keys and max(keys.values()) == 1
    office = next(row for row in first.rows if row["person"] == "office-liaison" and row["channel"] == "email")
    # its own daily item, itemised; the towns' overdue work it supervises (level 3), as one roll-up line
    assert office["items"] >= 1 and "remind-0" in office["stages"]
    assert office["lines"] >= 1 and "group-3" in office["stages"]
    again = run(mini_store, tmp_path, "2020-09-29 09:00")
    later_same_day = run(mini_store, tmp_path, "2020-09-29 15:00")
    assert not again.rows and not later_same_day.rows
    with mini_store.connect() as connection:
        notifications = connection.execute(select(func.count()).select_from(NotificationRow)).scalar()
        linked = connection.execute(select(func.count()).select_from(DeliveryRow).where(
            DeliveryRow.notification_id.is_(None))).scalar()
    assert notifications == len(first.rows) and linked == 0


def test_recipients_and_rendered_message(mini_store, tmp_path):
    report = run(mini_store, tmp_path, "2020-09-08 09:00")
    assert {(r["person"], r["channel"]) for r in report.rows} == {
        ("office-liaison", "email"), ("office-liaison", "sms"), ("ql-cadre-1", "email"), ("ql-in-charge", "sms"),
        ("sj-in-charge", "email"), ("sj-in-charge", "sms")}
    with mini_store.connect() as connection:
        row = connection.execute(select(NotificationRow.__table__).where(NotificationRow.person_id == "sj-in-charge",
                                                               NotificationRow.channel == "email")).one()
        sms = connection.execute(select(NotificationRow.__table__).where(NotificationRow.person_id == "sj-in-charge",
                                                               NotificationRow.channel == "sms")).one()
    assert row.address == "sun@example.org"
    assert row.subject == "【督办提醒】「所有扶贫项目全面开工」将于2020年9月15日（星期二）到期"
    assert "二（二）3" in row.body_text and "还有5个工作日（7天）" in row.body_text
    assert "https://duban.example.gov.cn/s/" in row.body_text and "所有扶贫项目全面开工</b>" in row.body_html
    assert "/login/" not in row.body_text + row.body_html  # a short link, not a long-lived login token
    assert len(sms.body_text) <= 70 and "所有扶贫项目全面开工" in sms.body_text
    params = json.loads(sms.data)["sms_params"]
    assert params["name"] == "孙副主任" and params["count"] == "1" and params["due"] == "9月15日"


def test_the_personal_link_signs_in_that_person(mini_store, tmp_path):
    from duban import shortlinks

    run(mini_store, tmp_path, "2020-09-08 09:00")
    with mini_store.connect() as connection:
        bodies = dict(connection.execute(select(NotificationRow.person_id, NotificationRow.body_text).where(
            NotificationRow.person_id.in_(("sj-in-charge", "office-liaison")),
            NotificationRow.channel == "email")).all())
    for person, landing in (("sj-in-charge", "?next=/item/"), ("office-liaison", "?next=/all%3Ftask%3D")):
        body = bodies[person]
        code = body.split("/s/")[1].split()[0].split("?")[0]
        # an owner's item link lands on the item; the office's roll-up line on the overview filtered to its task
        assert "/s/" + code + landing in body
        with mini_store.connect() as connection:
            link = shortlinks.resolve(connection, code, now=at("2020-09-08 10:00"))
            # it lapses with the reminder, as the email says (链接14天内有效)
            with pytest.raises(shortlinks.ShortLinkError):
                shortlinks.resolve(connection, code, now=at("2020-09-22 09:00"))
        assert (link.person_id, link.plan_id) == (person, "mini-2020")


def test_escalation_text_names_level_and_overdue_days(holiday_store, tmp_path):
    report = run(holiday_store, tmp_path, "2020-10-12 09:00")
    subjects = {r["person"]: r["subject"] for r in report.rows if r["channel"] == "email"}
    assert subjects["t-charge"] == "【督办催办】2项工作已逾期"  # the owner (in charge): the items themselves
    assert subjects["t-head"] == "【督办汇总】双江街道「九月底完成核查」已逾期12天"  # the head: a roll-up line
    with holiday_store.connect() as connection:
        bodies = dict(connection.execute(select(NotificationRow.person_id, NotificationRow.body_text).where(
            NotificationRow.channel == "email")).all())
    assert "完成时限：2020年9月30日（星期三），已逾期3个工作日（12天）" in bodies["t-charge"]
    assert "督办级别：第2级（共2级），已报双江街道主要负责同志" in bodies["t-charge"]
    assert "【一（一）2】九月底完成核查（双江街道）" in bodies["t-head"] and "已逾期12天" in bodies["t-head"]
    assert "督办级别：第2级（共2级）" in bodies["t-head"]


def test_reporting_done_stops_reminders_and_escalations(holiday_store, tmp_path):
    run(holiday_store, tmp_path, "2020-09-28 09:00")
    with holiday_store.begin() as connection:
        connection.execute(update(OccurrenceRow).where(OccurrenceRow.task_id == "autumn").values(
            state="reported", reported_at=at("2020-09-29 10:00")))
    later = stages_by_day(holiday_store, tmp_path, "2020-09-29 09:00", 30)
    assert all(not s.startswith("autumn") for stages in later.values() for s in stages)


def test_signing_for_pauses_levels_marked_ack_pauses(holiday_store, tmp_path):
    with holiday_store.begin() as connection:
        connection.execute(update(OccurrenceRow).where(OccurrenceRow.task_id == "autumn").values(
            state="acked", acked_at=at("2020-09-30 10:00")))
    got = stages_by_day(holiday_store, tmp_path, "2020-10-09 09:00", 20)
    assert [s for stages in got.values() for s in stages if s.startswith("autumn")] == ["autumn:escalate-1"]


def test_waived_occurrences_are_silent(holiday_store, tmp_path):
    with holiday_store.begin() as connection:
        connection.execute(update(OccurrenceRow).values(state="waived", waived_at=at("2020-09-01 10:00")))
    assert stages_by_day(holiday_store, tmp_path, "2020-09-24 09:00", 30) == {}


def test_sms_in_quiet_hours_waits_for_morning_email_does_not(holiday_store, tmp_path):
    run(holiday_store, tmp_path, "2020-09-28 22:00")
    with holiday_store.connect() as connection:
        rows = {r.channel: r.not_before for r in connection.execute(
            select(NotificationRow.channel, NotificationRow.not_before).where(NotificationRow.person_id == "t-charge"))}
    assert rows["email"] == at("2020-09-28 22:00") and rows["sms"] == at("2020-09-29 08:00")
    due = outbox.pending(engine=holiday_store, as_of=at("2020-09-28 22:00"), now=at("2020-09-28 22:00"))
    assert {r["channel"] for r in due} == {"email"}


def test_sms_over_the_daily_cap_waits_for_the_next_morning(holiday_store, tmp_path):
    first = run(holiday_store, tmp_path, "2020-09-28 09:00", sms_daily_cap=1, kinds=("remind",))
    assert first.held == 0
    with holiday_store.begin() as connection:  # a new stage on the same day: something else for the same people
        connection.execute(update(OccurrenceRow).where(OccurrenceRow.task_id == "autumn").values(
            reminders=json.dumps([[0, "2020-09-28T15:00:00+08:00"]])))
    second = run(holiday_store, tmp_path, "2020-09-28 16:00", sms_daily_cap=1, kinds=("remind",))
    held = [r for r in second.rows if r["channel"] == "sms"]
    assert held and all(r["not_before"] == at("2020-09-29 08:00") for r in held) and second.held == len(held)


def test_dry_run_writes_nothing(mini_store, tmp_path):
    settings = settings_for(mini_store, tmp_path)
    ctx = runs.context(mini_store, settings, "mini-2020")
    report = runs.notices(mini_store, ctx, at("2020-09-29 09:00"), BOTH, dry_run=True, collect=True)
    assert report.rows
    with mini_store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(NotificationRow)).scalar() == 0
        assert connection.execute(select(func.count()).select_from(DeliveryRow)).scalar() == 0


def test_group_robot_gets_one_message_for_all(tmp_path):
    text = HOLIDAY_PLAN.replace("channels: [email, sms]", "channels: [email, dingtalk]")
    engine = make_engine(f"sqlite:///{tmp_path / 'robot.sqlite'}")
    migrate(engine)
    sync(engine=engine, catalog=parse_catalog(text, "robot.yaml"), catalog_text=text, people=HOLIDAY_PEOPLE,
         now=datetime(2020, 9, 1, tzinfo=UTC))
    report = run(engine, tmp_path, "2020-09-28 09:00")
    robots = [r for r in report.rows if r["channel"] == "dingtalk"]
    assert len(robots) == 1 and robots[0]["person"] == "robot" and robots[0]["items"] == 2
    assert not run(engine, tmp_path, "2020-09-28 09:00").rows


def test_two_runs_at_once_put_each_stage_once(store_url, mini_catalog, mini_people, tmp_path):
    engines = [make_engine(store_url) for _ in range(3)]
    migrate(engines[0])
    text = (DATA / "mini.yaml").read_text(encoding="utf-8")
    sync(engine=engines[0], catalog=mini_catalog, catalog_text=text, people=mini_people,
         now=datetime(2020, 9, 1, tzinfo=UTC))
    settings = settings_for(engines[0], tmp_path)
    contexts = [runs.context(e, settings, "mini-2020") for e in engines]
    barrier = threading.Barrier(len(engines))
    reports = []

    def work(index: int) -> None:
        messages = runs.plan_notices(engines[index], contexts[index], at("2020-09-29 09:00"), BOTH)
        barrier.wait()
        for chunk in messages:
            reports.append(runs.write(engine=engines[index], ctx=contexts[index], chunk=chunk,
                                      as_of=at("2020-09-29 09:00")))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engines[0].connect() as connection:
        items = [tuple(i) for data in connection.execute(select(NotificationRow.data)).scalars()
                 for i in json.loads(data)["items"]]
        persons = connection.execute(select(NotificationRow.person_id, NotificationRow.channel)).all()
    assert len(persons) == len(set(persons)) == 12
    assert sum(sum(r.notifications.values()) for r in reports) == 12
    assert items
    for e in engines:
        e.dispose()
