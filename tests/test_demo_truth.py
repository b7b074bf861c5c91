"""The demo tells the truth: its reports are made by people, no bulletin for a month before the plan, its closing
links are the short links messages carry, `duban history` writes CSV for Excel, and run summaries count people and
messages apart. On the small test plan (the shipped plan is not needed)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from duban import demo, runbodies
from duban.actions import history
from duban.bulletin import outside_plan, parse_month
from duban.cli import _load_commands
from duban.cli.common import app
from duban.config import Settings
from duban.models import EventRow, OccurrenceRow, PersonRow
from duban.schedule import calendar_for
from duban.sheets.data import load_plan

TZ = ZoneInfo("Asia/Shanghai")
DATA = Path(__file__).parent / "data"
runner = CliRunner()
_load_commands()


def _replay_reports(engine, catalog, until: datetime) -> int:
    return demo.report_due(engine=engine, plan_id="mini-2020", as_of=until, calendar=calendar_for(catalog), tz=TZ)


def test_demo_reports_are_made_by_people_as_the_policy_finds_them(mini_store, mini_catalog):
    made = _replay_reports(mini_store, mini_catalog, datetime(2020, 12, 31, 18, tzinfo=TZ))
    assert made > 10
    occ, event, person = OccurrenceRow.__table__, EventRow.__table__, PersonRow.__table__
    with mini_store.connect() as connection:
        people = set(connection.execute(select(person.c.id).where(person.c.plan_id == "mini-2020")).scalars())
        rows = connection.execute(select(event.c.actor, event.c.data, event.c.at, occ.c.owner_kind, occ.c.owner_id,
                                         occ.c.unit_id, occ.c.due, occ.c.report_count, occ.c.times, occ.c.acked_at)
                                  .join(occ, (occ.c.plan_id == event.c.plan_id) & (occ.c.id == event.c.occurrence_id))
                                  .where(event.c.kind == "report")).all()
        first = connection.execute(select(event.c.occurrence_id).where(event.c.kind == "report").limit(1)).scalar()
        shown = history(connection, plan_id="mini-2020", occurrence_id=first)
    assert len(rows) == made and {r.actor for r in rows} <= people  # never a unit acting as a whole
    # liaison, else in_charge, else head (the policy's fallback); a person owner reports themself
    expected = {"qinglong": "ql-cadre-1", "shuangjiang": "sj-in-charge", "leaders": "leaders-head",
                "office": "office-liaison"}
    seen_units = set()
    for row in rows:
        if row.owner_kind == "person":
            assert row.actor == row.owner_id
        elif row.unit_id in expected:
            assert row.actor == expected[row.unit_id], row
            seen_units.add(row.unit_id)
        assert row.report_count == row.times and row.acked_at is not None
    assert seen_units == set(expected), seen_units
    assert any(r.owner_kind == "person" for r in rows)
    data = [json.loads(r.data) for r in rows]
    assert all(d["demo"] and d["count"] == d["times"] for d in data)
    assert {d["late"] for d in data} == {True, False}  # the demo's late officials are recorded late
    with_figure = [d for d in data if "value" in d]  # a task with a target: reported with its figure, as a real one
    assert with_figure and all(d["met"] and d["value"] == 100 for d in with_figure)
    reported = next(e for e in shown if e["kind"] == "report")
    assert reported["actor_name"] in {"李联络", "孙副主任", "冯干部", "赵书记", "周干部"}, reported


def _flow_env(monkeypatch, store_url: str, tmp_path: Path) -> Path:
    monkeypatch.setenv("DUBAN_DATABASE_URL", store_url)
    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DUBAN_CONFIG", str(tmp_path / "none.toml"))
    return tmp_path / "var" / "bulletins"


def test_no_bulletin_for_a_month_before_the_plan_began(mini_store, store_url, tmp_path, monkeypatch):
    folder = _flow_env(monkeypatch, store_url, tmp_path)
    august = runbodies.bulletin_flow("2020-09-01T08:00+08:00", None, False)
    assert august["files"] == [] and not folder.exists()
    assert august["lines"] == ["bulletin mini-2020 2020-08: 2020年8月：方案2020年9月1日才开始，不出通报"]
    december = runbodies.bulletin_flow("2021-01-01T08:00+08:00", None, False)  # the plan's last month: made
    assert december["month"] == "2020-12" and len(december["files"]) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["bulletin-mini-2020-2020-12.html",
                                                       "bulletin-mini-2020-2020-12.xlsx"]
    after = runbodies.bulletin_flow("2021-01-01T08:00+08:00", None, True, month="2021-01")
    assert after["lines"] == ["bulletin mini-2020 2021-01: 2021年1月：方案已于2020年12月31日结束，不出通报"]
    with mini_store.connect() as connection:
        plan = load_plan(connection, "mini-2020")
    assert outside_plan(plan, parse_month("2020-09")) is None and outside_plan(plan, parse_month("2020-12")) is None


def test_the_demo_closing_links_are_short_and_sign_in_at_the_replayed_moment(mini_store, mini_catalog, store_url,
                                                                            tmp_path):
    from duban.web.app import create_app

    settings = Settings(database_url=store_url, var_dir=str(tmp_path / "var"), secret="test-secret-" + "x" * 20,
                        base_url="http://testserver")
    moment = datetime(2020, 10, 29, 10, tzinfo=TZ)
    lines = demo.finale(settings, mini_store, mini_catalog.plan, moment)
    links = re.findall(r"^  (乡镇联络员|督办室|县领导) (\S+): (\S+)$", "\n".join(lines), re.M)
    assert [seat for seat, _, _ in links] == ["乡镇联络员", "督办室", "县领导"]
    for seat, name, link in links:
        assert re.fullmatch(r"http://testserver/s/[2-9a-z]{10}", link), link
        with TestClient(create_app(settings, now=lambda: moment + timedelta(days=13), engine=mini_store,
                                   replay=True)) as client:
            landed = client.get(link.removeprefix("http://testserver"), follow_redirects=False)
            assert landed.status_code == 303, seat
            assert name in client.get("/").text, seat
    late = moment + timedelta(days=14, minutes=1)  # 14 days of the replayed clock, no more
    with TestClient(create_app(settings, now=lambda: late, engine=mini_store, replay=True)) as client:
        refused = client.get(links[0][2].removeprefix("http://testserver"), follow_redirects=False)
        assert refused.status_code != 303 and "链接已过期" in refused.text


def test_history_csv_opens_in_excel_and_reads_back_for_programs(mini_store, store_url, monkeypatch):
    monkeypatch.setenv("DUBAN_DATABASE_URL", store_url)
    with mini_store.begin() as connection:
        occurrence = connection.execute(select(OccurrenceRow.id).where(
            OccurrenceRow.owner_id == "qinglong").order_by(OccurrenceRow.due).limit(1)).scalar()
    done = runner.invoke(app, ["done", occurrence, "--by", "ql-cadre-1", "--note", "=HYPERLINK(\"http://x/\")",
                               "--value", "100", "--as-of", "2020-09-02T10:00+08:00"])
    assert done.exit_code == 0, done.output
    people = runner.invoke(app, ["history", occurrence, "--format", "csv"])
    assert people.exit_code == 0, people.output
    assert people.stdout.startswith("\ufeff")
    cells = list(csv.reader(io.StringIO(people.stdout.removeprefix("\ufeff"))))
    assert cells[0] == ["时间", "人员", "动作", "状态", "来源", "说明"]
    report = next(row for row in cells[1:] if row[2] == "报告办结")
    assert report[1] == "冯干部" and report[4] == "命令行" and report[3].endswith("→已报告办结，待销号")
    assert report[5].startswith("'=HYPERLINK")  # kept text: Excel does not run it
    programs = runner.invoke(app, ["history", occurrence, "--format", "csv", "--header", "en"])
    assert programs.exit_code == 0, programs.output
    rows = list(csv.DictReader(io.StringIO(programs.stdout.removeprefix("\ufeff"))))
    assert programs.stdout.startswith("\ufeff") and list(rows[0])[:4] == ["id", "at", "actor", "actor_name"]
    mine = next(row for row in rows if row["kind"] == "report")
    assert mine["actor"] == "ql-cadre-1" and mine["note"].startswith("'=") and '"count": 1' in mine["data"]
    wrong = runner.invoke(app, ["history", occurrence, "--format", "csv", "--header", "fr"])
    assert wrong.exit_code != 0 and "--header: 'fr'" in wrong.output


def test_run_summaries_count_people_and_messages_apart(mini_store, store_url, tmp_path, monkeypatch):
    _flow_env(monkeypatch, store_url, tmp_path)
    with mini_store.begin() as connection:  # reachable two ways: everyone gets an email and an SMS
        connection.execute(update(PersonRow.__table__).where(PersonRow.__table__.c.email == "").values(
            email="nobody@example.org"))
    result = runbodies.daily_flow("2020-09-28T09:00+08:00", None, True, sync=False)
    line = next(line for line in result["lines"] if line.startswith("would queue: "))
    found = re.search(r"would queue: (\d+) notification\(s\) to (\d+) recipient\(s\)（(\d+)人，(\d+)条）", line)
    assert found, line
    messages, people = int(found.group(1)), int(found.group(2))
    assert (int(found.group(3)), int(found.group(4))) == (people, messages)
    assert 0 < people < messages, line  # one person with an email and an SMS is one person, two messages


@pytest.mark.parametrize("month", ["2020-07", "2020-08"])
def test_months_before_the_start_are_outside(mini_store, month):
    with mini_store.connect() as connection:
        plan = load_plan(connection, "mini-2020")
    assert "才开始，不出通报" in outside_plan(plan, parse_month(month))


def test_duban_bulletin_says_so_for_a_month_outside_the_plan(mini_store, store_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DUBAN_DATABASE_URL", store_url)
    out = tmp_path / "out"
    result = runner.invoke(app, ["bulletin", "--month", "2020-08", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2020年8月：方案2020年9月1日才开始，不出通报" and not out.exists()
    made = runner.invoke(app, ["bulletin", "--month", "2020-09", "--out", str(out), "--format", "html"])
    assert made.exit_code == 0 and (out / "bulletin-mini-2020-2020-09.html").exists(), made.output


def test_the_closing_summary_shows_different_example_subjects(tmp_path):
    from email.message import EmailMessage
    from mailbox import Maildir

    box = Maildir(tmp_path / "maildir")
    for subject in ["【督办周报】本周无逾期事项"] * 4 + ["【督办提醒】1项工作即将到期", "【督办周报】本周无逾期事项",
                                                   "【督办催办】1项工作已逾期", "【督办提醒】2项工作即将到期"]:
        message = EmailMessage()
        message["Subject"] = subject
        box.add(message)
    shown = demo._example_subjects(box)
    assert len(shown) == 3 and len(set(shown)) == 3  # (Maildir keys order the messages only to the second)
    assert set(shown) <= {"【督办周报】本周无逾期事项", "【督办提醒】1项工作即将到期", "【督办催办】1项工作已逾期",
                          "【督办提醒】2项工作即将到期"}
