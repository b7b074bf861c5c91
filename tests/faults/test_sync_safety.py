"""The directory is kept unless a directory is given (issue 14, 1): a sync never quietly archives people or reports.

Real parts: the `duban` command line on a SQLite file and on PostgreSQL, the shipped plan and its made-up
directory, and the daily flow through Prefect's test server.
"""

from __future__ import annotations

import json

import pytest
from conftest import DATA, ROOT, at, settle
from sqlalchemy import func, select
from typer.testing import CliRunner

from duban.catalog import load_catalog, parse_catalog
from duban.cli import _load_commands
from duban.cli.common import app
from duban.models import EventRow, EvidenceRow, OccurrenceRow, PersonRow
from duban.store import make_engine

runner = CliRunner()
_load_commands()
SHIPPED = ROOT / "tasks_catalog.yaml"
EXAMPLE_CONTACTS = ROOT / "examples" / "contacts.csv"
MINI = DATA / "mini.yaml"
MINI_CONTACTS = DATA / "mini_contacts.csv"
SETTINGS = ("DUBAN_CONTACTS", "DUBAN_CATALOG", "DUBAN_ARCHIVE_MAX_PEOPLE_PCT", "DUBAN_ARCHIVE_MAX_REPORTED_PCT",
            "DUBAN_SMTP_URL", "DUBAN_SMS_URL")


@pytest.fixture
def cli_store(store_url, tmp_path, monkeypatch):
    """An engine on a fresh store that the `duban` commands of this test use too."""
    monkeypatch.setenv("DUBAN_DATABASE_URL", store_url)
    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DUBAN_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("DUBAN_SECRET", "sync-safety-" + "x" * 32)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


def duban(*args: object, code: int = 0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result


def tally(engine) -> dict[str, int]:
    """What must survive a sync: live items, live people, live reported items, report events, all events."""
    occ = OccurrenceRow.__table__
    live = occ.c.archived.is_(False)
    with engine.connect() as connection:
        def count(table, *where) -> int:
            return connection.execute(select(func.count()).select_from(table).where(*where)).scalar()

        return {
            "items": count(occ, live),
            "people": count(PersonRow.__table__, PersonRow.__table__.c.archived.is_(False)),
            "reported": count(occ, live, occ.c.state.not_in(("open", "acked"))),
            "report events": count(EventRow.__table__, EventRow.__table__.c.kind == "report"),
        }


def everything(engine) -> list:
    """Every row of the tables a sync writes (to show that a refused sync changed nothing)."""
    from sqlalchemy import MetaData

    meta = MetaData()
    names = ["plan", "unit", "unit_group", "person", "task", "occurrence", "event"]
    meta.reflect(engine, only=names)
    with engine.connect() as connection:
        return [sorted(map(repr, connection.execute(select(meta.tables[n])).all())) for n in names]


def report_demo(engine, moment: str) -> int:
    """The demo officials report what they would have reported by `moment` (each with a 'report' event)."""
    from duban.demo import report_due
    from duban.schedule import calendar_for

    catalog = load_catalog(SHIPPED)
    return report_due(engine=engine, plan_id=catalog.plan.id, as_of=at(moment), calendar=calendar_for(catalog),
                      tz=catalog.plan.tz)


def test_sync_without_contacts_keeps_people_and_reports_on_the_shipped_plan(cli_store):
    duban("sync", SHIPPED, "--contacts", EXAMPLE_CONTACTS)
    assert report_demo(cli_store, "2020-10-29 09:00") == 1469
    before = tally(cli_store)
    # the shipped plan after issue 16; 2 of the reported are done at load (mobilize-plan, -meeting)
    assert before == {"items": 6518, "people": 831, "reported": 1471, "report events": 1469}

    kept = duban("sync", SHIPPED)
    assert "kept the store's 831 people" in kept.stderr
    assert "already up to date" in kept.stdout
    assert tally(cli_store) == before
    duban("sync", SHIPPED, "--contacts", EXAMPLE_CONTACTS)
    assert tally(cli_store) == before
    rows = json.loads(duban("status", "--as-of", "2020-10-29", "--format", "json").stdout)
    assert len(rows) == 6518
    assert sum(r["state"] in ("done", "done_late") for r in rows) == 1471


def test_people_in_store_reads_the_directory_back(mini_store, mini_people):
    from duban.runs import people_in_store

    assert people_in_store(mini_store, "mini-2020") == sorted(mini_people, key=lambda p: p.id)


def test_a_contacts_file_with_no_people_is_refused(cli_store, tmp_path):
    duban("sync", MINI, "--contacts", MINI_CONTACTS)
    before = everything(cli_store)
    empty = tmp_path / "contacts.csv"
    empty.write_text("id,name,unit,roles,email,mobile\n", encoding="utf-8")
    refused = duban("sync", MINI, "--contacts", empty, code=1)
    assert f"{empty}:1:1: no people" in refused.stderr
    assert "Traceback" not in refused.output
    assert everything(cli_store) == before


def test_a_partial_directory_is_refused_until_forced(cli_store, tmp_path, monkeypatch):
    duban("sync", MINI, "--contacts", MINI_CONTACTS)
    before = everything(cli_store)
    partial = tmp_path / "contacts.csv"
    lines = MINI_CONTACTS.read_text(encoding="utf-8").splitlines()
    partial.write_text("\n".join(lines[:5]) + "\n", encoding="utf-8")  # the header and 4 of 9 people

    refused = duban("sync", MINI, "--contacts", partial, code=1)
    message = refused.stderr.strip()
    assert len(message.splitlines()) == 1 and "nothing changed" in message
    assert "5 of 9 people" in message and "周干部 (sj-cadre-1)" in message
    assert "--allow-archive" in message
    assert everything(cli_store) == before

    monkeypatch.setenv("DUBAN_ARCHIVE_MAX_PEOPLE_PCT", "60")  # a deployment that expects big directory changes
    allowed = duban("sync", MINI, "--contacts", partial)
    assert "people +0 ~0 -5" in allowed.stdout
    assert tally(cli_store)["people"] == 4


def test_archiving_reported_items_is_refused_until_forced_and_reversible(cli_store, tmp_path):
    duban("sync", MINI, "--contacts", MINI_CONTACTS)
    for day in ("09-28", "09-29", "09-30"):
        settle(cli_store, f"dispatch/office/2020-{day}", state="reported", reported_at=f"2020-{day} 18:00")
    settle(cli_store, "poverty-day/office/2020-09-01", state="verified", reported_at="2020-10-16 18:00",
           verified_at="2020-10-19 10:00", evidence=1)
    before, rows_before = tally(cli_store), everything(cli_store)
    text = MINI.read_text(encoding="utf-8")
    dropped = tmp_path / "plan.yaml"
    dropped.write_text(text[: text.index("  - id: dispatch")], encoding="utf-8")  # drops dispatch and poverty-day

    refused = duban("sync", dropped, "--contacts", MINI_CONTACTS, code=1)
    assert "4 of 4 reported items" in refused.stderr and "dispatch/office/2020-09-28" in refused.stderr
    assert "--allow-archive" in refused.stderr
    assert everything(cli_store) == rows_before

    duban("sync", dropped, "--contacts", MINI_CONTACTS, "--allow-archive")
    assert tally(cli_store)["reported"] == 0
    back = duban("sync", MINI, "--contacts", MINI_CONTACTS)
    assert "back from the archive" in back.stdout
    assert tally(cli_store) == before
    history = json.loads(duban("history", "poverty-day/office/2020-09-01", "--format", "json").stdout)
    assert [e["kind"] for e in history] == ["verified"]
    with cli_store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(EvidenceRow)).scalar() == 1


def test_a_person_who_returns_gets_their_reported_items_back(engine, mini_people):
    from duban.sync import ArchiveLimits, sync

    text = MINI.read_text(encoding="utf-8")
    catalog = parse_catalog(text)
    sync(engine=engine, catalog=catalog, catalog_text=text, people=mini_people, now=at("2020-09-01 08:00"))
    settle(engine, "visits/sj-cadre-1/2020-09-01", state="reported", reported_at="2020-09-29 15:00")
    settle(engine, "visits/sj-cadre-1/2020-10-01", state="waived", waived_at="2020-10-09 15:00")
    gone = [p for p in mini_people if p.id != "sj-cadre-1"]
    left = sync(engine=engine, catalog=catalog, catalog_text=text, people=gone, now=at("2020-11-02 08:00"),
                limits=ArchiveLimits(allow=True))
    assert left.kinds["occurrences"].archived == 4
    back = sync(engine=engine, catalog=catalog, catalog_text=text, people=mini_people, now=at("2020-11-03 08:00"))
    assert back.kinds["occurrences"].restored == 4 and back.kinds["people"].restored == 1
    with engine.connect() as connection:
        query = select(OccurrenceRow).where(OccurrenceRow.owner_id == "sj-cadre-1")
        rows = {r.id: r for r in connection.execute(query)}
    assert not any(r.archived for r in rows.values())
    assert rows["visits/sj-cadre-1/2020-09-01"].state == "reported"
    assert rows["visits/sj-cadre-1/2020-09-01"].reported_at == at("2020-09-29 15:00")
    assert rows["visits/sj-cadre-1/2020-10-01"].state == "waived"


def test_the_daily_flow_keeps_the_directory_and_fails_loudly_on_a_bad_one(prefect_harness, cli_store, monkeypatch,
                                                                          tmp_path):
    monkeypatch.setenv("DUBAN_CATALOG", str(MINI))  # the README's production settings: no DUBAN_CONTACTS
    duban("sync", "--contacts", MINI_CONTACTS)
    first = duban("run", "daily", "--as-of", "2020-10-09T09:00+08:00").stdout
    assert "queued: 0 notification(s)" not in first and "queued: " in first
    assert tally(cli_store)["people"] == 9
    before = everything(cli_store)

    partial = tmp_path / "contacts.csv"
    partial.write_text("\n".join(MINI_CONTACTS.read_text(encoding="utf-8").splitlines()[:3]) + "\n",
                       encoding="utf-8")
    monkeypatch.setenv("DUBAN_CONTACTS", str(partial))  # a directory export that lost most of its rows
    failed = duban("run", "daily", "--as-of", "2020-10-12T09:00+08:00", code=1)
    assert "sync refused" in failed.stderr and "7 of 9 people" in failed.stderr
    assert everything(cli_store) == before
