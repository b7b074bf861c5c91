"""Time the core commands at county scale and beyond: check, sync, calendar, status.

    python benchmarks/bench_core.py                  # 100k occurrences on SQLite
    python benchmarks/bench_core.py --copies 10      # ~1M occurrences
    python benchmarks/bench_core.py --postgres postgresql://postgres@127.0.0.1:5432/test

Each command runs as a user would run it (a fresh `duban` process), so times include start-up.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from scale import bench_store, write_county


def timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Seconds one `duban` command takes, and the last line it printed."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "duban", *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"duban {' '.join(args)} failed:\n{result.stderr}")
    lines = (result.stdout.strip() or result.stderr.strip()).splitlines()
    return elapsed, (lines[-1] if lines else "")[:100]



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=1, help="task copies: 1 gives ~100k occurrences, 10 ~1M")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL to sync into instead of SQLite")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="duban-bench-"))
    catalog, contacts = write_county(folder, task_copies=options.copies, people=options.people)
    url = bench_store(folder, options.postgres, "bench_core")
    env = {**os.environ, "DUBAN_DATABASE_URL": url, "DUBAN_CONTACTS": str(contacts)}
    edited = folder / "edited.yaml"
    edited.write_text(catalog.read_text(encoding="utf-8").replace("due: '2020-09-10'", "due: '2020-09-11'"), "utf-8")
    steps = [
        ("check", ["check", str(catalog)]),
        ("sync (empty store)", ["sync", str(catalog)]),
        ("sync again (no change)", ["sync", str(catalog)]),
        ("sync after an edit", ["sync", str(edited)]),
        (
            "status --state overdue (json)",
            ["status", "--as-of", "2020-10-29T09:00", "--state", "overdue", "--format", "json"],
        ),
        ("status --owner t001 (table)", ["status", "--as-of", "2020-10-29T09:00", "--owner", "t001"]),
        ("calendar (json, all)", ["calendar", "--format", "json"]),
        ("calendar from YAML (json, all)", ["calendar", str(catalog), "--format", "json"]),
    ]
    store = "PostgreSQL" if options.postgres else "SQLite"
    print(f"| step ({store}, copies={options.copies}, people={options.people}) | seconds | output |")
    print("| --- | ---: | --- |")
    for name, args in steps:
        seconds, last = timed(args, env)
        print(f"| {name} | {seconds:.2f} | {last.replace('|', '/')} |", flush=True)


if __name__ == "__main__":
    main()
