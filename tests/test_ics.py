"""Calendar feeds as Google Calendar, Outlook and phones read them: parsed back with the `icalendar` library."""

import json
import re
import warnings
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from conftest import Clock, at
from sqlalchemy import select

from duban import ics
from duban.links import make_token
from duban.models import OccurrenceRow
from duban.web import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PLAN = "mini-2020"
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def store_url(tmp_path):
    return f"sqlite:///{tmp_path / 'duban.sqlite'}"


@pytest.fixture
def signed_in(mini_store, loop_settings):
    clock = Clock(at("2020-09-08 10:00"))
    client = TestClient(create_app(loop_settings, now=clock, engine=mini_store), base_url="http://testserver")
    token = make_token(secret=loop_settings.secret, person_id="sj-head", plan_id=PLAN, now=clock())
    assert client.get(f"/login/{token}", follow_redirects=False).status_code == 303
    return client, clock


def feed_path(client):
    return re.search(r'href="http://testserver(/ics/[^"]+\.ics)"', client.get("/").text).group(1)


def parse(body: str) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(body)


def test_one_all_day_event_per_deadline_with_an_alarm_per_reminder_stage(signed_in, mini_store):
    client, _ = signed_in
    response = client.get(feed_path(client))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    calendar = parse(response.text)
    assert str(calendar["X-WR-CALNAME"]) == "督办：钱书记的事项"
    events = calendar.walk("VEVENT")
    assert not calendar.walk("VTODO") and len(events) == 3
    with mini_store.connect() as connection:
        rows = {r.id: r for r in connection.execute(select(OccurrenceRow.__table__).where(
            OccurrenceRow.plan_id == PLAN, OccurrenceRow.unit_id == "shuangjiang"))}
    for event in events:
        occurrence = rows[str(event["UID"]).removesuffix(f"@{PLAN}.duban")]
        day = occurrence.due.astimezone(TZ).date()
        assert event.decoded("DTSTART") == day and event.decoded("DTEND") == day + timedelta(days=1)
        reminders = [datetime.fromisoformat(moment) for _, moment in json.loads(occurrence.reminders)]
        alarms = event.walk("VALARM")
        assert len(alarms) == len(reminders) >= 1
        start = datetime.combine(day, time(0), tzinfo=TZ)
        assert sorted(start + a.decoded("TRIGGER") for a in alarms) == sorted(r.astimezone(TZ) for r in reminders)
        assert all(str(a["ACTION"]) == "DISPLAY" and str(a["DESCRIPTION"]).startswith("督办提醒：") for a in alarms)


def test_uids_are_stable_and_lines_fold_within_75_octets(signed_in):
    client, clock = signed_in
    first = client.get(feed_path(client)).text
    clock.now = at("2020-09-20 10:00")
    later = client.get(feed_path(client)).text
    assert [str(e["UID"]) for e in parse(first).walk("VEVENT")] == [str(e["UID"]) for e in parse(later).walk("VEVENT")]
    assert all(len(line.encode()) <= 75 for line in first.split("\r\n"))
    assert first.endswith("END:VCALENDAR\r\n")


def test_a_person_revokes_their_feed_and_gets_a_new_one(signed_in, loop_settings):
    client, clock = signed_in
    old = feed_path(client)
    signed = make_token(secret=loop_settings.secret, person_id="sj-head", plan_id=PLAN, now=clock(),
                        purpose="ics", valid_for=timedelta(days=400))
    assert client.get(old).status_code == 200 and client.get(f"/ics/{signed}.ics").status_code == 200
    csrf = re.search(r'action="/ics/revoke"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)"',
                     client.get("/").text).group(1)
    clock.now = at("2020-09-08 10:05")
    stopped = client.post("/ics/revoke", data={"csrf": csrf})
    assert stopped.status_code == 200 and "已停用" in stopped.text
    assert client.get(old).status_code == 403
    assert client.get(f"/ics/{signed}.ics").status_code == 403  # an older signed feed link stops too
    new = feed_path(client)
    assert new != old and client.get(new).status_code == 200
    assert client.post("/ics/revoke", data={"csrf": "wrong"}).status_code == 403  # a form from elsewhere


def test_finished_items_keep_their_event_without_alarms():
    row = {"id": "t/u/2020-09-01", "title": "报送台账", "owner_name": "双江街道", "ref": "一（一）1",
           "due": "2020-09-15T23:59:59+08:00", "state": "done",
           "reminders": [{"stage": "remind-1", "at": "2020-09-14T09:00:00+08:00"}]}
    event = parse(ics.calendar([row], PLAN, at("2020-09-16 10:00"))).walk("VEVENT")[0]
    assert event.decoded("DTSTART") == date(2020, 9, 15) and str(event["SUMMARY"]).startswith("【已办结】")
    assert not event.walk("VALARM")
    assert [ics.duration(d) for d in (timedelta(hours=-15), timedelta(hours=9), timedelta(days=-2, hours=-15),
                                      timedelta(0))] == ["-PT15H", "PT9H", "-P2DT15H", "P0D"]
