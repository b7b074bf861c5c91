"""Roll-ups: superiors hear of others' items per task, told again per line; messages keep their size whatever the
plan's; stale occurrences stop escalating alone and are counted as missed (未按期)."""

from __future__ import annotations

import re
import sys
import types
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from duban import runs
from duban.catalog import load_catalog, parse_catalog
from duban.config import Settings
from duban.digest import Reader, build_digest, render_notifications
from duban.directory import Person, load_people
from duban.models import DeliveryRow, NotificationRow, OccurrenceRow
from duban.notices import decide, write
from duban.notify.email import build_message
from duban.sheets.data import load_snapshot
from duban.sheets.render import templates
from duban.status import status_at
from duban.store import make_engine, migrate
from duban.sync import sync
from tests.conftest import at

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
from scale import write_county  # the benchmarks' made-up plans

MAX_EMAIL_BYTES = 30 * 1024
MAX_LIST = 30
ENTRY = re.compile(r"(?m)^\s*\(?(\d+)[.)] ")

WEEKLY_PLAN = """
plan: {id: weekly-2020, title: 送教测试, timezone: Asia/Shanghai, start: 2020-09-01, end: 2020-12-31, office: office}
roles:
  - {id: teacher, name: 送教教师}
defaults:
  remind: [1, 0]
  escalate:
    - {after: 1, to: [in_charge]}
    - {after: 3, to: [head]}
    - {after: 5, to: ["unit:office"]}
  repeat_every: 5
  channels: [email]
units:
  - {id: office, name: 县扶贫开发领导小组办公室, short: 县扶贫办, kind: department}
  - {id: edu, name: 县教委, kind: department}
tasks:
  - {id: teaching, ref: 二（三）3, title: 送教上门, owner: "role:teacher", every: weekly,
     from: 2020-10-05, to: 2020-11-15}
"""
WEEKLY_PEOPLE = [
    Person("o-head", "杨主任", "office", ("head", "leader"), "yang@example.org", ""),
    Person("o-liaison", "徐联络", "office", ("liaison",), "xu@example.org", ""),
    Person("e-head", "钱主任", "edu", ("head",), "qian@example.org", ""),
    Person("e-charge", "孙副主任", "edu", ("in_charge",), "sun@example.org", ""),
    *(Person(f"t{n}", f"教师{n}", "edu", ("teacher",), f"t{n}@example.org", "") for n in range(1, 5)),
]


def settings_for(engine, tmp_path) -> Settings:
    return Settings(database_url=engine.url.render_as_string(hide_password=False), var_dir=str(tmp_path / "var"),
                    secret="test-secret-" + "x" * 20, base_url="https://duban.example.gov.cn")


@pytest.fixture
def weekly(engine):
    catalog = parse_catalog(WEEKLY_PLAN, "weekly.yaml")
    sync(engine=engine, catalog=catalog, catalog_text=WEEKLY_PLAN, people=WEEKLY_PEOPLE,
         now=datetime(2020, 9, 1, tzinfo=UTC))
    return engine


def day_by_day(engine, tmp_path, days: list[str]) -> dict[str, dict[str, list[str]]]:
    """Each day's run at 09:00: per person, what their email carried (items and roll-up lines)."""
    ctx = runs.context(engine, settings_for(engine, tmp_path), "weekly-2020")
    found = {}
    for day in days:
        report = runs.notices(engine, ctx, at(f"{day} 09:00"), ("remind", "escalate"), collect=True)
        found[day] = {row["person"]: row["what"] for row in report.rows if row["channel"] == "email"}
    return found


def test_a_stale_week_stops_escalating_alone_and_is_counted_missed(weekly, tmp_path):
    # Teacher 1 never reports. The week of 10-05..10-11 (due Sunday 10-11) is superseded when 10-18's deadline passes.
    with weekly.begin() as connection:  # the other teachers report everything on time
        connection.execute(update(OccurrenceRow).where(OccurrenceRow.owner_id != "t1").values(
            state="reported", reported_at=OccurrenceRow.due))
    got = day_by_day(weekly, tmp_path, ["2020-10-16", "2020-10-19", "2020-10-20", "2020-10-23", "2020-10-26"])
    first_week = "teaching/t1/2020-10-05"
    # Fri 10-16: level 3 (office) for the first week, five workdays after it was due
    assert f"escalate-5 {first_week}" in got["2020-10-16"]["t1"]
    # from Mon 10-19 it is missed: nobody hears of it on its own again, though it is still not done
    for day in ("2020-10-19", "2020-10-20", "2020-10-23", "2020-10-26"):
        assert not any(first_week in what for whats in got[day].values() for what in whats), day
    with weekly.connect() as connection:
        row = connection.execute(select(OccurrenceRow.__table__).where(OccurrenceRow.id == first_week)).one()
        bodies = connection.execute(select(NotificationRow.body_text).where(
            NotificationRow.person_id == "t1", NotificationRow.as_of >= at("2020-10-19 09:00"))).scalars().all()
    assert status_at(state=row.state, due=row.due, first_reminder_at=row.first_reminder_at, reported_at=None,
                     waived_at=None, as_of=at("2020-10-19 09:00"), superseded_at=row.superseded_at) == "missed"
    assert row.superseded_at == at("2020-10-18 23:59:59")
    # the owner hears of the later weeks as before, and that the old ones are counted apart
    assert bodies and all("往期未报（下一周期已到期，不再单独催办，计为未按期）" in body for body in bodies)
    assert "另有2项往期未报" in bodies[-1]


def test_superseded_after_zero_keeps_escalating(engine, tmp_path):
    text = WEEKLY_PLAN.replace("  repeat_every: 5\n", "  repeat_every: 5\n  superseded_after: 0\n")
    sync(engine=engine, catalog=parse_catalog(text, "weekly.yaml"), catalog_text=text, people=WEEKLY_PEOPLE,
         now=datetime(2020, 9, 1, tzinfo=UTC))
    got = day_by_day(engine, tmp_path, ["2020-10-23"])
    assert "escalate-5-r1 teaching/t1/2020-10-05" in got["2020-10-23"]["t1"]  # never superseded: repeats


def test_superiors_hear_one_line_per_task_told_again_per_line(weekly, tmp_path):
    got = day_by_day(weekly, tmp_path, ["2020-10-12", "2020-10-13", "2020-10-14", "2020-10-15", "2020-10-16",
                                        "2020-10-19", "2020-10-20", "2020-10-21", "2020-10-22"])
    # the teachers own their weeks: itemised; the unit's in_charge, head and the office: one line for the task
    assert got["2020-10-12"]["t1"] == ["escalate-1 teaching/t1/2020-10-05"]
    assert got["2020-10-12"]["e-charge"] == ["group-1 @teaching"]
    # nothing new for the in_charge on 10-13 (the teachers' level 1 was told): no message
    assert "e-charge" not in got["2020-10-13"]
    # the head's level (3 workdays) comes on 10-14; the office's (5) on 10-16
    assert got["2020-10-14"]["e-head"] == ["group-2 @teaching"] and "e-head" not in got["2020-10-15"]
    assert got["2020-10-16"]["o-liaison"] == ["group-3 @teaching"] == got["2020-10-16"]["o-head"]
    # the second week (due 10-18) reaches level 1 on 10-19: the in_charge's line is told again only after its
    # interval (5 workdays from 10-12), not for each new member
    assert got["2020-10-19"]["e-charge"] == ["group-1 @teaching"]
    assert "e-charge" not in got["2020-10-20"] and "o-head" not in got["2020-10-20"]
    with weekly.connect() as connection:
        body = connection.execute(select(NotificationRow.body_text).where(
            NotificationRow.person_id == "o-head", NotificationRow.as_of == at("2020-10-16 09:00"))).scalar_one()
        subject = connection.execute(select(NotificationRow.subject).where(
            NotificationRow.person_id == "o-head", NotificationRow.as_of == at("2020-10-16 09:00"))).scalar_one()
        lines = connection.execute(select(DeliveryRow.occurrence_id, DeliveryRow.stage).where(
            DeliveryRow.person_id == "o-head")).all()
    assert subject == "【督办汇总】「送教上门」4名责任人逾期，最长5天"
    assert "4名责任人中4名逾期、4名即将到期，最长逾期5天" in body and "督办级别：第3级（共3级），已报县扶贫办" in body
    assert "逾期最久：教师1（县教委）5天、教师2（县教委）5天、教师3（县教委）5天" in body
    assert "next=/all%3Ftask%3Dteaching%26status%3Doverdue" in body  # the office's view of exactly that set
    assert "teaching/t" not in body  # no item of the teachers', one by one
    assert lines == [("@teaching", "group-03-2020-10-16")]


def test_the_same_run_twice_tells_a_line_once(weekly, tmp_path):
    ctx = runs.context(weekly, settings_for(weekly, tmp_path), "weekly-2020")
    first = runs.notices(weekly, ctx, at("2020-10-16 09:00"), ("remind", "escalate"), collect=True)
    again = runs.notices(weekly, ctx, at("2020-10-16 09:00"), ("remind", "escalate"), collect=True)
    later = runs.notices(weekly, ctx, at("2020-10-16 15:00"), ("remind", "escalate"), collect=True)
    assert any(row["lines"] for row in first.rows) and not again.rows and not later.rows


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    """A made-up county (benchmarks/scale.py): 42 towns, 30 departments, 69 tasks, 1,000 people, ~24,000
    occurrences; nobody reports anything (the worst case)."""
    folder = tmp_path_factory.mktemp("county")
    catalog_path, contacts = write_county(folder, towns=42, departments=30, people=1000)
    catalog = load_catalog(catalog_path)
    engine = make_engine(f"sqlite:///{folder / 'duban.sqlite'}")
    migrate(engine)
    sync(engine=engine, catalog=catalog, catalog_text=catalog_path.read_text(encoding="utf-8"),
         people=load_people(contacts, catalog), now=datetime(2020, 9, 1, tzinfo=UTC))
    yield engine, folder
    engine.dispose()


def _bytes(row: dict) -> int:
    fields = {key: row[key] for key in ("subject", "address", "key", "body_text", "body_html")}
    message = build_message(types.SimpleNamespace(**fields, data=row["data"]), sender="duban@example.gov.cn",
                            now=at("2020-10-28 09:00"))
    return len(message.as_bytes())


def _longest_list(text: str) -> int:
    return max((int(n) for n in ENTRY.findall(text)), default=0)


@pytest.mark.slow
def test_messages_fit_a_phone_at_county_scale(county, tmp_path):
    engine, _ = county
    ctx = runs.context(engine, settings_for(engine, tmp_path), "c01-2020")
    moment = at("2020-10-28 09:00")
    messages = decide(engine=engine, ctx=ctx, as_of=moment)
    # the biggest messages of each kind: the most own items, the most roll-up lines, and both
    heavy = {m.person_id for key in (lambda m: len(m.items), lambda m: len(m.lines), lambda m: len(m.items)
                                     + len(m.lines)) for m in sorted(messages, key=key, reverse=True)[:6]}
    chosen = [m for m in messages if m.person_id in heavy]
    assert max(len(m.items) for m in chosen) > 80 and max(len(m.lines) for m in chosen) > 40
    write(engine=engine, ctx=ctx, chunk=chosen, as_of=moment)
    with engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(select(NotificationRow.__table__))]
    emails = [r | {"data": __import__("json").loads(r["data"])} for r in rows if r["channel"] == "email"]
    texts = [r["body_text"] for r in rows if r["channel"] == "sms"]
    assert emails and texts
    sizes = {r["person_id"]: _bytes(r) for r in emails}
    assert max(sizes.values()) <= MAX_EMAIL_BYTES, sizes
    assert max(_longest_list(r["body_text"]) for r in emails) <= MAX_LIST
    assert max(len(text) for text in texts) <= 70, max(texts, key=len)  # one SMS, its short link included
    # the counts carry the rest: the office liaison's email says how many it did not list
    office = next(r["body_text"] for r in emails if r["person_id"] == "c01-p000005")
    assert "项逾期工作未列出" in office and "项工作未列出" in office and "往期未报" in office
    # the weekly digest to leaders keeps its size too
    digest = build_digest(load_snapshot(engine, "c01-2020", moment))
    [mail] = render_notifications(digest, [Reader("c01-p000000", "干部000000", "leaders", "l@example.org")],
                                  templates(), moment, lambda r: "https://duban.example.gov.cn/login/x")
    assert len(digest.units) > 50
    assert _bytes(mail | {"key": "digest/x"}) <= MAX_EMAIL_BYTES and _longest_list(mail["body_text"]) <= MAX_LIST
