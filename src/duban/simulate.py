"""Replaying a campaign: day by day on a copy of the store, every notification each day would send.

`simulate` never touches the real store or outbox: it copies the plan's rows into a throwaway SQLite
file and runs the engine there (no Prefect), assuming nobody reports anything done meanwhile.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, insert, select

from duban.config import Settings
from duban.models import DeliveryRow, GroupRow, NotificationRow, OccurrenceRow, PersonRow, PlanRow, TaskRow, UnitRow
from duban.notices import WriteReport
from duban.store import make_engine, migrate

TABLES = (PlanRow, UnitRow, GroupRow, PersonRow, TaskRow, OccurrenceRow, DeliveryRow, NotificationRow)
COLUMNS = [("day", "日期"), ("name", "收件人"), ("person", "编号"), ("channel", "渠道"), ("stages", "阶段"),
           ("items", "事项数"), ("subject", "内容")]


def copy_plan(source: Engine, target: Engine, plan_id: str, chunk: int = 5000) -> None:
    """Copy one plan's rows (not its events or evidence) into another, migrated store."""
    with source.connect() as reading, target.begin() as writing:
        for model in TABLES:
            table = model.__table__
            key = table.c.id if model is PlanRow else table.c.plan_id
            result = reading.execution_options(yield_per=chunk).execute(select(table).where(key == plan_id))
            for rows in result.partitions(chunk):
                writing.execute(insert(table), [dict(r._mapping) for r in rows])


def _throwaway(connection, _record) -> None:  # noqa: ANN001 - DB-API objects
    # A copy thrown away afterwards need not survive a power cut: no syncing to disk.
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def days(start: date, end: date) -> Iterator[date]:
    """Every day from start to end."""
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def simulate(
    *, engine: Engine, settings: Settings, plan_id: str, start: date, end: date, workdir: str | Path | None = None,
    render: bool = False,
) -> Iterator[tuple[datetime, WriteReport]]:
    """(moment, what was queued) for each day's run at the plan's reminder time, on a copy of the store
    (`render`: through the real templates, slower; else a one-line summary of each message)."""
    from duban import runs

    with tempfile.TemporaryDirectory(prefix="duban-simulate-", dir=workdir) as folder:
        copy = make_engine(f"sqlite:///{Path(folder) / 'copy.sqlite'}")
        event.listen(copy, "connect", _throwaway)
        migrate(copy)
        copy_plan(engine, copy, plan_id)
        quiet_settings = replace(settings, database_url=str(copy.url), var_dir=folder)
        ctx = runs.context(copy, quiet_settings, plan_id, secret="simulate-only")
        at = ctx.clock.at
        try:
            for day in days(start, end):
                moment = datetime.combine(day, at, tzinfo=ctx.tz)
                yield moment, runs.notices(copy, ctx, moment, ("remind", "escalate"), collect=True, render=render)
        finally:
            copy.dispose()


def rows_of(moment: datetime, report: WriteReport) -> list[dict[str, Any]]:
    """One row per notification, for a table or JSON."""
    return [{"day": moment.date().isoformat(), **{k: v for k, v in row.items() if k != "not_before"},
             "not_before": row["not_before"].isoformat()} for row in report.rows]
