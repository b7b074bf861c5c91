"""Sync: idempotent, keeps history, archives instead of deleting; on SQLite and PostgreSQL."""

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, update
from typer.testing import CliRunner

from duban.catalog import parse_catalog
from duban.cli import _load_commands
from duban.cli.common import app
from duban.models import EventRow, OccurrenceRow, PersonRow, TaskRow
from duban.sync import sync

DATA = Path(__file__).parent / "data"
MINI = (DATA / "mini.yaml").read_text(encoding="utf-8")
NOW = datetime(2020, 9, 2, tzinfo=UTC)
_load_commands()


def run(engine, text: str, people):
    return sync(engine=engine, catalog=parse_catalog(text), catalog_text=text, people=people, now=NOW)


def snapshot(engine) -> list:
    with engine.connect() as connection:
        occurrences = connection.execute(select(OccurrenceRow).order_by(OccurrenceRow.id)).all()
        events = connection.execute(select(func.count()).select_from(EventRow)).scalar()
    return [tuple(row) for row in occurrences] + [events]


def test_second_sync_changes_nothing(engine, mini_people):
    first = run(engine, MINI, mini_people)
    assert first.kinds["occurrences"].created == 29
    before = snapshot(engine)
    second = run(engine, MINI, mini_people)
    assert not second.changed
    assert "nothing changed" in second.summary()
    assert snapshot(engine) == before


def test_edit_updates_pending_keeps_reports_archives_dropped(engine, mini_people):
    run(engine, MINI, mini_people)
    reported = datetime(2020, 9, 14, 8, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            update(OccurrenceRow)
            .where(OccurrenceRow.id == "projects-started/qinglong/2020-09-01")
            .values(state="reported", reported_at=reported, report_count=1)
        )
        connection.execute(
            EventRow.__table__.insert().values(
                plan_id="mini-2020",
                occurrence_id="projects-started/qinglong/2020-09-01",
                at=reported,
                actor="ql-head",
                source="cli",
                kind="report",
                before="open",
                after="reported",
            )
        )
    edited = MINI.replace("due: 2020-09-15", "due: 2020-09-18")
    edited = edited[: edited.index("  - id: teaching")] + edited[edited.index("  - id: dispatch") :]
    report = run(engine, edited, mini_people)
    occurrences = report.kinds["occurrences"]
    assert (occurrences.updated, occurrences.archived) == (1, 4)
    assert report.kinds["tasks"].archived == 1
    with engine.connect() as connection:
        rows = {r.id: r for r in connection.execute(select(OccurrenceRow))}
        events = connection.execute(select(EventRow.kind)).scalars().all()
    assert rows["projects-started/shuangjiang/2020-09-01"].due.isoformat() == "2020-09-18T15:59:59+00:00"
    kept = rows["projects-started/qinglong/2020-09-01"]
    assert kept.state == "reported" and kept.due.isoformat() == "2020-09-15T15:59:59+00:00"
    assert kept.reported_at == reported
    teaching = [r for r in rows.values() if r.task_id == "teaching"]
    assert len(teaching) == 4 and all(r.archived for r in teaching)
    assert events.count("report") == 1 and events.count("sync") == 2

    restored = run(engine, MINI.replace("due: 2020-09-15", "due: 2020-09-18"), mini_people)
    assert restored.kinds["occurrences"].updated == 4
    with engine.connect() as connection:
        archived = connection.execute(select(func.count()).where(OccurrenceRow.archived.is_(True))).scalar()
        task = connection.execute(select(TaskRow).where(TaskRow.id == "teaching")).one()
    assert archived == 0 and not task.archived


def test_person_leaving_the_directory_archives_their_items(engine, mini_people):
    run(engine, MINI, mini_people)
    remaining = [p for p in mini_people if p.id != "sj-cadre-1"]
    report = run(engine, MINI, remaining)
    assert report.kinds["people"].archived == 1
    assert report.kinds["occurrences"].archived == 4
    with engine.connect() as connection:
        person = connection.execute(select(PersonRow).where(PersonRow.id == "sj-cadre-1")).one()
    assert person.archived


def test_bad_catalog_changes_nothing(tmp_path, monkeypatch, store_url):
    monkeypatch.setenv("DUBAN_DATABASE_URL", store_url)
    runner = CliRunner()
    first = runner.invoke(app, ["sync", str(DATA / "mini.yaml"), "--contacts", str(DATA / "mini_contacts.csv")])
    assert first.exit_code == 0, first.output
    from duban.store import make_engine

    engine = make_engine(store_url)
    before = snapshot(engine)
    broken = tmp_path / "plan.yaml"
    broken.write_text(MINI.replace("every: monthly", "every: fortnightly"), encoding="utf-8")
    result = runner.invoke(app, ["sync", str(broken), "--contacts", str(DATA / "mini_contacts.csv")])
    assert result.exit_code == 1
    assert "unknown frequency 'fortnightly'" in result.stderr
    assert snapshot(engine) == before
    again = runner.invoke(app, ["sync", str(DATA / "mini.yaml"), "--contacts", str(DATA / "mini_contacts.csv")])
    assert "already up to date" in again.output
