"""Time the status sheet, the monthly bulletin and the weekly digest on a county-scale store.

    python benchmarks/bench_sheets.py                 # ~100k occurrences on SQLite
    python benchmarks/bench_sheets.py --copies 2      # ~150k
    python benchmarks/bench_sheets.py --postgres postgresql://postgres@127.0.0.1:5432/test

A made-up county (benchmarks/scale.py) is synced, the demo officials report as in `duban demo`
(about seven in ten on time, some late, some never) up to the end of the campaign, and the sheet is
rendered at the campaign's last evening, when every occurrence is due and shown.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from scale import bench_store, write_county


def timed(label: str, step: Callable[[], Any], rows: list[tuple[str, float, str]], note: Callable[[Any], str]) -> Any:
    start = time.perf_counter()
    result = step()
    rows.append((label, time.perf_counter() - start, note(result)))
    print(f"{label:<34} {rows[-1][1]:7.2f} s  {rows[-1][2]}", flush=True)
    return result


def size(paths: list[Path]) -> str:
    return ", ".join(f"{p.suffix[1:]} {p.stat().st_size / 1e6:.1f} MB" for p in paths)


def main() -> None:
    from duban import demo
    from duban.bulletin import build_bulletin, write_bulletin
    from duban.catalog import load_catalog
    from duban.digest import build_digest
    from duban.directory import load_people
    from duban.schedule import calendar_for
    from duban.sheets import write_status_sheet
    from duban.sheets.data import load_snapshot
    from duban.sheets.sheet import build_sheet
    from duban.store import make_engine, migrate
    from duban.sync import sync

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=1, help="task copies: 1 gives ~100k occurrences")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL to use instead of SQLite")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="duban-bench-sheets-"))
    catalog_path, contacts = write_county(folder, task_copies=options.copies, people=options.people)
    url = bench_store(folder, options.postgres, "bench_sheets")
    engine = make_engine(url)
    migrate(engine)
    catalog = load_catalog(catalog_path)
    plan, tz = catalog.plan, catalog.plan.tz
    rows: list[tuple[str, float, str]] = []
    print(f"store: {url.split('?')[0]}   output: {folder}")
    timed("sync", lambda: sync(engine=engine, catalog=catalog, catalog_text=catalog_path.read_text(encoding="utf-8"),
                               people=load_people(contacts, catalog), now=datetime(2020, 9, 1, tzinfo=UTC)),
          rows, lambda report: report.summary()[:60])
    timed("replay reports to 2021-01-01", lambda: demo.report_due(
        engine=engine, plan_id=plan.id, as_of=datetime(2021, 1, 1, tzinfo=tz), calendar=calendar_for(catalog), tz=tz),
        rows, lambda n: f"{n} reported")
    as_of = datetime(2020, 12, 31, 18, 0, tzinfo=tz)
    snapshot = timed("load snapshot (5 queries)", lambda: load_snapshot(engine, plan.id, as_of), rows,
                     lambda s: f"{len(s.items)} occurrences")
    timed("arrange sheet (sections, units, charts)", lambda: build_sheet(snapshot), rows,
          lambda s: f"{s.tally.total} shown, {len(s.sections)} sections, {len(s.units)} units")
    out = folder / "sheets"
    for fmt in ("html", "xlsx", "md"):
        timed(f"sheet {fmt} (load + render + write)", lambda fmt=fmt: write_status_sheet(
            engine=engine, plan_id=plan.id, as_of=as_of, out_dir=out, formats=[fmt]), rows, size)
    october = date(2020, 10, 1)
    timed("bulletin 2020-10 html + xlsx", lambda: write_bulletin(
        engine=engine, plan_id=plan.id, month=october, out_dir=folder / "bulletins"), rows, size)
    timed("bulletin 2020-10 arrange only", lambda: build_bulletin(snapshot, october), rows,
          lambda b: f"{b.total.due} due, {len(b.overdue)} overdue or late")
    monday = load_snapshot(engine, plan.id, datetime(2020, 11, 2, 8, 30, tzinfo=tz))
    timed("digest 2020-W45 arrange", lambda: build_digest(monday), rows,
          lambda d: f"{d.overdue} overdue in {len(d.units)} units")
    engine.dispose()


if __name__ == "__main__":
    main()
