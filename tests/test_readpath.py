"""The light read path (duban.readpath) against the ORM path: the same rows and bytes, judged by one state rule."""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from duban import output
from duban.models import OccurrenceRow, PersonRow, TaskRow
from duban.readpath.command import read_calendar, read_status, status_from
from duban.readpath.connect import open_reader
from duban.readpath.front import OPTIONS, parse
from duban.status import STATES, status_at
from duban.views import pick_plan, store_rows
from tests.conftest import MINI_CAMPAIGN, ROOT, at, settle

# Text that JSON must escape, CSV must quote and the table must cut (more than 24 characters).
AWKWARD_TITLE = '所有扶贫项目"全面"开工, 含\\反斜杠与逗号，并且标题长得需要在表格里截断'
STAMP = datetime(2020, 11, 1, tzinfo=UTC)  # the ICS DTSTAMP


@pytest.fixture
def store(mini_store, store_url):
    """The small plan after its campaign, plus oddities: odd text, a missing person, odd states, an archived row,
    a deadline extended past the next period's."""
    for occurrence_id, values in MINI_CAMPAIGN.items():
        settle(mini_store, occurrence_id, **values)
    settle(mini_store, "visits/ql-cadre-1/2020-09-01", state="waived", waived_at="2020-11-20 09:00")  # waived later
    settle(mini_store, "visits/ql-cadre-1/2020-10-01", state="reported")  # reported, but no moment recorded
    settle(mini_store, "visits/ql-cadre-1/2020-11-01", state="waived")  # waived, but no moment recorded
    settle(mini_store, "teaching/qinglong/2020-09-28", archived=True)
    settle(mini_store, "leaders-study/leaders/2020-11-01", due=at("2020-12-20 23:59:59"))  # extended past its successor
    with mini_store.begin() as connection:
        connection.execute(update(TaskRow).where(TaskRow.id == "projects-started").values(title=AWKWARD_TITLE))
        connection.execute(delete(PersonRow).where(PersonRow.id == "sj-cadre-1"))  # its items show the bare id
    return store_url


@pytest.fixture
def reader(store):
    """One read-path connection to the store, for the tests that read it many times."""
    opened = open_reader(store)
    yield opened
    opened.close()


@pytest.fixture
def orm(store):
    """One ORM engine on the store."""
    from duban.store import make_engine

    engine = make_engine(store)
    yield engine
    engine.dispose()


def instants(url: str) -> list[datetime]:
    """Every instant the store holds, and a second either side: each edge of the rule, from both sides."""
    from duban.store import make_engine

    occ = OccurrenceRow.__table__.c
    columns = (occ.due, occ.first_reminder_at, occ.reported_at, occ.waived_at, occ.superseded_at)
    with make_engine(url).connect() as connection:
        found = {value for row in connection.execute(select(*columns)) for value in row if value is not None}
    second = timedelta(seconds=1)
    grid = {datetime(2020, 8, 25, tzinfo=UTC) + timedelta(hours=29 * n) for n in range(110)}
    return sorted(found | {m - second for m in found} | {m + second for m in found} | grid)


def fast_status(reader, fmt: str = "json", **options: str | None) -> tuple[bytes, str]:
    """(stdout, stderr) of `status` on the read path (fmt "csv-en": CSV with the field ids as headers)."""
    out, err = io.BytesIO(), io.StringIO()
    values = {"as_of": None, "owner": None, "state": None, "plan": None} | options
    fmt, _, header = fmt.partition("-")
    assert status_from(reader, **values, format=fmt, now=STAMP, out=out, err=err,  # type: ignore[arg-type]
                       header=header or "zh")
    return out.getvalue(), err.getvalue()


def orm_status(engine, fmt: str = "json", *, as_of: str, owner: str | None = None, state: str | None = None):
    """(stdout, stderr) of `status` as the ORM path makes them (duban.views + duban.output + emit)."""
    from collections import Counter

    from duban.timeutil import parse_moment

    plan_id, tz = pick_plan(engine, None)
    rows = list(store_rows(engine, plan_id, tz, None, None, owner, as_of=parse_moment(as_of, tz), state=state))
    counts = Counter(r["state"] for r in rows)
    err = "  ".join(f"{output.STATE_LABELS[s]} {counts[s]}" for s in STATES if counts[s]) + "\n"
    return _emitted(rows, fmt, output.STATUS_COLUMNS, plan_id), (err if fmt == "table" else "")


def _emitted(rows: list[dict], fmt: str, columns: list, plan_id: str) -> bytes:
    status = columns is output.STATUS_COLUMNS
    csv_columns = output.STATUS_CSV if status else output.CALENDAR_CSV
    keys = output.STATUS_KEYS if status else output.CALENDAR_KEYS
    text = {
        "json": lambda: output.as_json(rows),
        "csv": lambda: output.as_csv(rows, csv_columns, "zh", keys),
        "csv-en": lambda: output.as_csv(rows, csv_columns, "en", keys),
        "ics": lambda: output.as_ics(rows, plan_id, STAMP),
        "table": lambda: output.table(rows, columns),
    }[fmt]()
    return (text if text.endswith("\n") else text + "\n").encode()


def test_the_sql_rule_agrees_with_status_at_for_every_state_at_every_edge(store, reader, orm):
    with orm.connect() as connection:
        stored = {row.id: row for row in connection.execute(select(OccurrenceRow.__table__))}
    seen = set()
    moments = instants(store)
    for moment in moments:
        rows = json.loads(fast_status(reader, as_of=moment.isoformat())[0])
        assert len(rows) == sum(1 for row in stored.values() if not row.archived)
        for row in rows:
            occurrence = stored[row["id"]]
            expected = status_at(
                state=occurrence.state,
                due=occurrence.due,
                first_reminder_at=occurrence.first_reminder_at,
                reported_at=occurrence.reported_at,
                waived_at=occurrence.waived_at,
                as_of=moment,
                superseded_at=occurrence.superseded_at,
            )
            assert row["state"] == expected, (row["id"], moment)
            seen.add(expected)
    assert seen == set(STATES) and len(moments) > 150


def test_asking_for_one_state_gives_exactly_the_rows_in_that_state(store, reader):
    for moment in instants(store)[::4]:
        everything = json.loads(fast_status(reader, as_of=moment.isoformat())[0])
        for state in STATES:
            only = json.loads(fast_status(reader, as_of=moment.isoformat(), state=state)[0])
            assert only == [row for row in everything if row["state"] == state], (state, moment)


MOMENTS = ["2020-09-01T00:00", "2020-09-15T09:00", "2020-09-16T12:00+08:00", "2020-10-06T09:00",
           "2020-10-29T09:00", "2020-11-20T09:00", "2021-01-15T00:00"]


def test_status_is_byte_for_byte_the_orm_paths(reader, orm):
    for fmt, as_of in itertools.product(("json", "csv", "csv-en", "table", "ics"), MOMENTS):
        for state in (None, *STATES):
            assert fast_status(reader, fmt, as_of=as_of, state=state) == orm_status(orm, fmt, as_of=as_of, state=state)
        for owner in ("qinglong", "office", "sj-cadre-1", "ql-cadre-1"):
            assert fast_status(reader, fmt, as_of=as_of, owner=owner) == orm_status(orm, fmt, as_of=as_of, owner=owner)


def test_an_owner_that_is_no_id_is_left_to_the_full_command_which_reads_names(reader):
    out = io.BytesIO()
    values = {"as_of": None, "state": None, "plan": None, "format": "csv", "now": STAMP, "err": io.StringIO()}
    assert not status_from(reader, owner="nobody", out=out, **values)  # type: ignore[arg-type]
    assert not status_from(reader, owner="青龙镇", out=out, **values)  # type: ignore[arg-type]
    assert out.getvalue() == b""


def test_calendar_from_the_store_is_byte_for_byte_the_orm_paths(store, orm):
    from duban.timeutil import parse_day

    plan_id, tz = pick_plan(orm, None)
    for fmt, (start, end, owner) in itertools.product(("json", "csv", "csv-en", "table", "ics"), [
        (None, None, None), ("2020-09-15", "2020-10-01", None), (None, "2020-09-30", "office"),
        ("2020-10-12", "2020-10-12", "qinglong"), ("2021-01-01", None, None),
    ]):
        out = io.BytesIO()
        assert read_calendar(store, start=start, end=end, owner=owner, plan=None, format=fmt.partition("-")[0],
                             now=STAMP, out=out, header=fmt.partition("-")[2] or "zh")
        rows = list(store_rows(orm, plan_id, tz, start and parse_day(start), end and parse_day(end), owner))
        assert out.getvalue() == _emitted(rows, fmt, output.CALENDAR_COLUMNS, plan_id), (fmt, start, end, owner)


def test_odd_text_and_missing_names_come_out_as_the_orm_path_writes_them(reader):
    rows = json.loads(fast_status(reader, as_of="2020-09-20")[0])
    assert {r["title"] for r in rows if r["task"] == "projects-started"} == {AWKWARD_TITLE}
    assert {r["owner_name"] for r in rows if r["owner"] == "sj-cadre-1"} == {"sj-cadre-1"}
    assert {r["owner_name"] for r in rows if r["owner"] == "leaders"} == {"县委、县政府"}  # no short name
    assert "teaching/qinglong/2020-09-28" not in {r["id"] for r in rows}  # archived


def test_what_the_read_path_cannot_serve_is_left_to_the_full_command(store, tmp_path):
    missing = tmp_path / "never.sqlite"
    assert open_reader(f"sqlite:///{missing}") is None and not missing.exists()  # not created by a read
    assert open_reader("mysql://user@host/db") is None
    assert open_reader("sqlite:///:memory:") is None
    for options in ({"as_of": "yesterday-ish"}, {"state": "late"}, {"plan": "no-such-plan"}):
        out = io.BytesIO()
        values = {"as_of": None, "owner": None, "state": None, "plan": None} | options
        assert not read_status(store, **values, format="json", now=STAMP, out=out, err=io.StringIO())
        assert out.getvalue() == b""  # nothing written before handing over


@pytest.mark.parametrize("argv", [
    ["status", "--help"], ["status", "--as-of"], ["status", "--as-of", "--owner", "x"], ["status", "--bogus", "1"],
    ["status", "--as-of", "2020-10-01", "extra"], ["calendar", "tasks_catalog.yaml"], ["sync"], [],
])
def test_only_clean_reading_command_lines_take_the_front_door(argv):
    assert parse(argv) is None


def test_the_front_door_reads_options_as_the_full_command_does():
    assert parse(["status", "--as-of=2020-10-01", "--owner", "t001", "--format", "csv", "--format", "json"]) == (
        "status", {"--as-of": "2020-10-01", "--owner": "t001", "--format": "json"})
    assert parse(["calendar", "--from", "2020-10-01", "--to=2020-10-31"]) == (
        "calendar", {"--from": "2020-10-01", "--to": "2020-10-31"})


def test_the_front_door_knows_every_option_of_the_commands_it_serves():
    import typer

    from duban.cli import _load_commands
    from duban.cli.common import app

    _load_commands()
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for name, options in OPTIONS.items():
        declared = {opt for param in commands[name].params for opt in param.opts if opt.startswith("--")}
        assert declared - {"--help"} == set(options) | ({"--contacts"} if name == "calendar" else set())


def _duban(url: str, *args: str) -> subprocess.CompletedProcess:
    """`duban ARGS` in a fresh process; afterwards it prints to stderr which heavy modules it imported."""
    script = (
        "import sys, atexit\n"
        "heavy = ('sqlalchemy', 'sqlmodel', 'pydantic', 'typer', 'alembic', 'prefect')\n"
        "atexit.register(lambda: print('IMPORTED', sorted(m for m in heavy if m in sys.modules), file=sys.stderr))\n"
        "from duban.cli import main\n"
        f"sys.argv = ['duban', *{list(args)!r}]\n"
        "main()\n"
    )
    env = {**os.environ, "DUBAN_DATABASE_URL": url, "DUBAN_CONFIG": os.devnull, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, cwd=ROOT)


def test_duban_status_answers_without_orm_pydantic_or_typer_and_the_same_bytes(store, orm):
    for fmt in ("json", "table"):
        done = _duban(store, "status", "--as-of", "2020-10-29T09:00", "--state", "overdue", "--format", fmt)
        assert done.returncode == 0, done.stderr
        assert done.stdout == orm_status(orm, fmt, as_of="2020-10-29T09:00", state="overdue")[0]
        assert done.stderr.decode().splitlines()[-1] == "IMPORTED []"
    done = _duban(store, "calendar", "--owner", "office", "--format", "csv")
    assert done.returncode == 0 and done.stderr.decode().splitlines()[-1] == "IMPORTED []"


def test_a_mistake_still_gets_the_full_commands_one_line(store):
    done = _duban(store, "status", "--state", "late")
    assert done.returncode == 1
    assert done.stderr.decode().splitlines()[0].startswith("duban: --state: unknown state 'late' (use upcoming,")
