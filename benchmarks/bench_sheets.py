"""Time the status sheet, the monthly bulletin and the weekly digest on a county-scale store, next to `duban sync`.

    python benchmarks/bench_sheets.py                 # ~100k occurrences on SQLite
    python benchmarks/bench_sheets.py --copies 10     # ~1M (peak memory of `duban sheet` at 1M)
    python benchmarks/bench_sheets.py --postgres postgresql://postgres@127.0.0.1:5432/test
    python benchmarks/bench_sheets.py --copies 10 --only-memory --keep /tmp/county-1m   # build once, reuse after

A made-up county (benchmarks/scale.py) is synced (timed: the yardstick of issue 12's goal 2), the demo officials
report as in `duban demo` (about seven in ten on time, some late, some never) up to the end of the campaign, and
the sheet is rendered at the campaign's last evening, when every occurrence is due and shown. Each step is timed
in this process (wall and CPU seconds); `duban sheet` is also run as a whole process per format, with its peak
memory (max RSS). The summary page is printed by Chromium to A4 and its pages counted, when Playwright is there.
Goals (issue 12): HTML <= sync, XLSX <= 2 x sync, bulletin <= 3 s.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from scale import bench_store, write_county

CHROMIUM = "/usr/bin/chromium"


def timed(label: str, step: Callable[[], Any], rows: list[tuple[str, float, float, str]],
          note: Callable[[Any], str]) -> Any:
    start, cpu = time.perf_counter(), time.process_time()
    result = step()
    rows.append((label, time.perf_counter() - start, time.process_time() - cpu, note(result)))
    print(f"{label:<40} {rows[-1][1]:7.2f} s wall {rows[-1][2]:7.2f} s cpu  {rows[-1][3]}", flush=True)
    return result


def size(paths: list[Path]) -> str:
    return ", ".join(f"{'detail ' if p.stem.endswith('-detail') else ''}{p.suffix[1:]} {p.stat().st_size / 1e6:.1f} MB"
                     for p in paths)


def whole_process(url: str, var: Path, fmt: str, as_of: str) -> tuple[float, float, float]:
    """`duban sheet` as people run it: (wall seconds, CPU seconds, peak RSS in MB) of that process alone.

    The peak is GNU time's (%M): a child forked straight from this process would report this process's own
    high-water mark (after a 1M sync and replay, 1.8 GB) as its own."""
    env = {**os.environ, "DUBAN_DATABASE_URL": url, "DUBAN_VAR_DIR": str(var), "DUBAN_PROGRESS": "0"}
    report = var / f"time-{fmt}.txt"
    start = time.perf_counter()
    child = subprocess.Popen(["/usr/bin/time", "-f", "%M %U %S", "-o", str(report), sys.executable, "-m", "duban",
                              "sheet", "--as-of", as_of, "--format", fmt, "--out", str(var / "cli")], env=env,
                             stdout=subprocess.DEVNULL)
    if child.wait():
        raise SystemExit(f"duban sheet --format {fmt} failed ({child.returncode})")
    wall = time.perf_counter() - start
    peak_kb, user, system = report.read_text(encoding="utf-8").split()[-3:]
    return wall, float(user) + float(system), int(peak_kb) / 1024


def a4_pages(html: Path) -> int | None:
    """How many A4 pages Chromium prints the summary on (None without Playwright or Chromium)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(CHROMIUM).exists():
        return None
    pdf = html.with_suffix(".pdf")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(html.as_uri())
        page.pdf(path=str(pdf), format="A4", print_background=True)
        browser.close()
    return len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))


def build_store(engine: Any, catalog: Any, catalog_path: Path, contacts: Path,
                rows: list[tuple[str, float, float, str]]) -> None:
    """Sync the county into the empty store (timed: the yardstick) and replay the demo officials' reports."""
    from duban import demo
    from duban.directory import load_people
    from duban.schedule import calendar_for
    from duban.sync import sync

    plan, tz = catalog.plan, catalog.plan.tz
    timed("sync", lambda: sync(engine=engine, catalog=catalog, catalog_text=catalog_path.read_text(encoding="utf-8"),
                               people=load_people(contacts, catalog), now=datetime(2020, 9, 1, tzinfo=UTC)),
          rows, lambda report: report.summary()[:60])
    timed("replay reports to 2021-01-01", lambda: demo.report_due(
        engine=engine, plan_id=plan.id, as_of=datetime(2021, 1, 1, tzinfo=tz), calendar=calendar_for(catalog), tz=tz),
        rows, lambda n: f"{n} reported")


def main() -> None:
    from duban.bulletin import build_bulletin, write_bulletin
    from duban.catalog import load_catalog
    from duban.digest import build_digest
    from duban.sheets import write_status_sheet
    from duban.sheets.data import load_snapshot
    from duban.sheets.sheet import build_sheet
    from duban.store import make_engine, migrate

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=1, help="task copies: 1 gives ~100k occurrences")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL to use instead of SQLite")
    parser.add_argument("--schema", default="bench_sheets", help="the PostgreSQL schema to build in (emptied first)")
    parser.add_argument("--only-memory", action="store_true", help="skip the in-process timings (a 1M run)")
    parser.add_argument("--keep", type=Path, help="a folder to build the store in once and reuse on later runs "
                        "(SQLite only; sync and replay are then not timed again)")
    options = parser.parse_args()
    folder = options.keep or Path(tempfile.mkdtemp(prefix="duban-bench-sheets-"))
    built = options.keep is not None and (folder / "built").exists()
    if options.keep is not None and options.postgres:
        raise SystemExit("--keep: SQLite only (a PostgreSQL run starts from an empty schema)")
    catalog_path, contacts = write_county(folder, task_copies=options.copies, people=options.people)
    url = bench_store(folder, options.postgres, options.schema)
    engine = make_engine(url)
    migrate(engine)
    catalog = load_catalog(catalog_path)
    plan, tz = catalog.plan, catalog.plan.tz
    rows: list[tuple[str, float, float, str]] = []
    load_before = os.getloadavg()[0]
    print(f"store: {url.split('?')[0]}   output: {folder}   load average (1 min) {load_before:.2f}")
    if built:
        print("store built by an earlier run: sync and replay not timed")
    else:
        build_store(engine, catalog, catalog_path, contacts, rows)
        if options.keep is not None:
            (folder / "built").write_text("sync and replay done\n", encoding="utf-8")
    as_of = datetime(2020, 12, 31, 18, 0, tzinfo=tz)
    out = folder / "sheets"
    if not options.only_memory:
        snapshot = timed("load snapshot", lambda: load_snapshot(engine, plan.id, as_of), rows,
                         lambda s: f"{len(s.items)} occurrences")
        timed("arrange sheet (sections, units, charts)", lambda: build_sheet(snapshot), rows,
              lambda s: f"{s.tally.total} shown, {len(s.sections)} sections, {len(s.units)} units")
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
        del snapshot, monday
    engine.dispose()
    processes = {}
    for fmt in ("html", "xlsx", "md"):
        wall, cpu, peak = whole_process(url, folder, fmt, "2020-12-31T18:00")
        processes[fmt] = (wall, cpu, peak)
        print(f"{'duban sheet --format ' + fmt + ' (process)':<40} {wall:7.2f} s wall {cpu:7.2f} s cpu  "
              f"peak {peak:.0f} MB", flush=True)
    summary = folder / "cli" / f"status-{plan.id}-2020-12-31.html"
    pages = a4_pages(summary)
    print(f"summary on A4 (Chromium): {pages} page(s)" if pages is not None else "summary on A4: no Chromium")
    load_after = os.getloadavg()[0]
    print(f"\nload average (1 min) before {load_before:.2f}, after {load_after:.2f}")
    if not options.only_memory and not built:
        by = {label.split(" (")[0]: (wall, cpu) for label, wall, cpu, _ in rows}
        sync_wall, sync_cpu = by["sync"]
        html, xlsx, bulletin = by["sheet html"], by["sheet xlsx"], by["bulletin 2020-10 html + xlsx"]
        print(f"HTML / sync: {html[0] / sync_wall:.2f} wall, {html[1] / sync_cpu:.2f} cpu (goal <= 1)")
        print(f"XLSX / sync: {xlsx[0] / sync_wall:.2f} wall, {xlsx[1] / sync_cpu:.2f} cpu (goal <= 2)")
        print(f"bulletin: {bulletin[0]:.2f} s wall, {bulletin[1]:.2f} s cpu (goal <= 3 s)")


if __name__ == "__main__":
    main()
