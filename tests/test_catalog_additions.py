"""Catalog additions of issue 16: report_grace, done_at_load, owners_from, reported_with; checked with FILE:LINE:COL,
expanded by the schedule, and done_at_load recorded at sync (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from duban.catalog import CatalogError, parse_catalog
from duban.cli import _load_commands
from duban.cli.common import app
from duban.models import EventRow, OccurrenceRow
from duban.schedule import expand
from duban.sync import sync

DATA = Path(__file__).parent / "data"
MINI = (DATA / "mini.yaml").read_text(encoding="utf-8")
NOW = datetime(2020, 9, 2, tzinfo=UTC)
_load_commands()

EXTRA = """
  - id: sales-rank
    ref: 二（一）4
    title: 全年销售排名
    owner: office
    due: 2020-12-31
    report_grace: 15
    remind: [3, 0]
  - id: launch
    ref: 三（一）
    title: 动员部署会议
    owner: leaders
    due: 2020-09-05
    done_at_load: {by: leaders, date: 2020-09-04, note: 已召开}
  - id: launch-plan
    ref: 三（一）
    title: 实施方案
    owner: leaders
    due: 2020-09-05
    done_at_load: {by: leaders}
  - id: rectify
    ref: 二（四）1
    title: 整改
    owner: group:towns
    owners_from: problems
    due: 2020-10-31
  - id: study-duty
    ref: 二（一）
    title: 四个不摘
    owner: leaders
    every: semimonthly
    reported_with: leaders-study
"""


def catalog_text(extra: str = EXTRA) -> str:
    return MINI.rstrip("\n") + "\n" + extra


def problems(extra: str) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(catalog_text(extra), "plan.yaml")
    return [str(p) for p in caught.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_additions_expand_as_documented(mini_people):
    catalog = parse_catalog(catalog_text())
    planned = {o.task.id: o for o in expand(catalog, mini_people)}
    assert "rectify" not in planned and "study-duty" not in planned  # owners from a list; carried by another
    rank = planned["sales-rank"]
    assert rank.due.date() == date(2021, 1, 22)  # 15 workdays after 12-31 (元旦 off)
    assert [(s, m.date()) for s, m in rank.reminders] == [(3, date(2021, 1, 19)), (0, date(2021, 1, 22))]
    assert rank.period.end == date(2020, 12, 31)
    task = next(t for t in catalog.tasks if t.id == "sales-rank")
    assert task.schedule["report_grace"] == 15
    assert "report_grace" not in next(t for t in catalog.tasks if t.id == "launch").schedule  # others unchanged


@pytest.mark.parametrize(("extra", "needle", "message"), [
    ("  - {id: x, ref: 二, title: t, owner: office, due: 2020-12-31, report_grace: 0}\n", "id: x",
     "task 'x'.report_grace must be a whole number >= 1"),
    ("  - {id: x, ref: 二, title: t, owner: office, every: monthly, done_at_load: {by: office}}\n", "id: x",
     "task 'x'.done_at_load: only a one-off task (with 'due') can be done at load"),
    ("  - {id: x, ref: 二, title: t, owner: office, due: 2020-09-05, done_at_load: {by: nobody}}\n", "id: x",
     "task 'x'.done_at_load.by: unknown unit 'nobody'"),
    ("  - {id: x, ref: 二, title: t, owner: office, due: 2020-09-05, done_at_load: {by: office, on: 2020-09-04}}\n",
     "id: x", "unknown field 'True' in task 'x'.done_at_load (allowed: by, date, note)"),
    ("  - {id: x, ref: 二, title: t, owner: office, due: 2020-10-31, owners_from: lists}\n", "id: x",
     "task 'x'.owners_from: unknown list 'lists' (use problems)"),
    ("  - {id: x, ref: 二, title: t, owner: office, every: monthly, reported_with: nothing}\n", "id: x",
     "task 'x'.reported_with: no other task 'nothing'"),
    ("  - {id: x, ref: 二, title: t, owner: office, every: monthly, reported_with: leaders-study}\n", "id: x",
     "task 'x'.reported_with: 'leaders-study' is owned by leaders, not office"),
])
def test_check_names_the_place(extra, needle, message):
    found = problems(extra)
    line = line_of(catalog_text(extra), needle)
    assert [p for p in found if p.startswith(f"plan.yaml:{line}:") and p.endswith(message)], found


def test_grace_past_the_calendar_is_refused():
    text = catalog_text("  - {id: x, ref: 二, title: t, owner: office, due: 2020-12-31, report_grace: 15}\n")
    late = text.replace("start: 2020-09-01", "start: 2026-09-01").replace("end: 2020-12-31", "end: 2026-12-31")
    late = late.replace("2020-", "2026-")
    with pytest.raises(CatalogError) as caught:
        parse_catalog(late, "plan.yaml")
    (problem,) = caught.value.problems
    assert str(problem).startswith(f"plan.yaml:{line_of(late, 'id: x')}:") and "2027" in str(problem)


def test_duban_check_reports_the_line(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(catalog_text("  - {id: x, ref: 二, title: t, owner: office, due: 2020-10-31, owners_from: l}\n"),
                    encoding="utf-8")
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 1
    assert f"{path}:{line_of(path.read_text(encoding='utf-8'), 'id: x')}:" in result.output
    assert "owners_from: unknown list 'l'" in result.output and "Traceback" not in result.output


def test_done_at_load_is_recorded_at_sync_once(engine, mini_people):
    text = catalog_text()
    report = sync(engine=engine, catalog=parse_catalog(text), catalog_text=text, people=mini_people, now=NOW)
    assert report.done_at_load == 2
    occ, events = OccurrenceRow.__table__, EventRow.__table__
    with engine.connect() as connection:
        query = select(occ).where(occ.c.task_id.in_(("launch", "launch-plan")))
        rows = {r.task_id: r for r in connection.execute(query)}
        logged = connection.execute(select(events).where(events.c.kind == "verify")).all()
    assert {t: r.state for t, r in rows.items()} == {"launch": "verified", "launch-plan": "verified"}
    reported = {t: r.reported_at.replace(tzinfo=None) for t, r in rows.items()}
    assert reported == {"launch": datetime(2020, 9, 4, 15, 59, 59),  # end of 9-04 in Shanghai
                        "launch-plan": datetime(2020, 9, 2)}  # no date: the load, as it precedes the deadline
    assert sorted(e.note for e in logged) == ["载入方案时已完成（县委、县政府）",
                                             "载入方案时已完成（县委、县政府，9月4日）：已召开"]
    assert all(e.source == "sync" and e.actor == "system" and e.before == "open" for e in logged)
    assert json.loads(next(e.data for e in logged if "9月4日" in e.note))["done_at_load"]["by"] == "leaders"
    edited = text.replace("title: 动员部署会议", "title: 动员部署大会")
    again = sync(engine=engine, catalog=parse_catalog(edited), catalog_text=edited, people=mini_people, now=NOW)
    assert again.changed and again.done_at_load == 0  # settled items stay as they are: nothing recorded twice
    with engine.connect() as connection:
        assert len(connection.execute(select(events).where(events.c.kind == "verify")).all()) == 2


def test_done_at_load_added_later_settles_an_open_item(engine, mini_people):
    plain = catalog_text(EXTRA.replace("    done_at_load: {by: leaders}\n", ""))
    sync(engine=engine, catalog=parse_catalog(plain), catalog_text=plain, people=mini_people, now=NOW)
    text = catalog_text()
    report = sync(engine=engine, catalog=parse_catalog(text), catalog_text=text, people=mini_people,
                  now=datetime(2020, 9, 10, tzinfo=UTC))
    assert report.done_at_load == 1
    occ = OccurrenceRow.__table__
    with engine.connect() as connection:
        row = connection.execute(select(occ).where(occ.c.task_id == "launch-plan")).one()
    assert row.state == "verified"
    assert row.reported_at.replace(tzinfo=None) == datetime(2020, 9, 5, 15, 59, 59)  # loaded late: the deadline


def test_duban_tasks_says_how_each_is_reported(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(catalog_text(), encoding="utf-8")
    result = CliRunner().invoke(app, ["tasks", str(path)])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert lines["sales-rank"].rstrip().endswith("2020-12-31前（期后15个工作日内报送）")
    assert lines["rectify"].rstrip().endswith("2020-10-31前（责任单位见问题清单）")
    assert lines["study-duty"].rstrip().endswith("每半月（随leaders-study报送）")
    assert lines["launch"].rstrip().endswith("2020-09-05前")
