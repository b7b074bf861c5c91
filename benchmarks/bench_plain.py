"""Issue 13 parts 6-8 at county scale: what Excel CSV, a wrong --owner and the progress bar cost.

    python benchmarks/bench_plain.py [--copies 1] [--rounds 3] [--work /tmp/plain]

A county of `scale.py` (164 units, 10,000 people; --copies 1: ~100k occurrences) is synced twice into fresh SQLite
stores, once with stderr on a pseudo-terminal (the bar drawn) and once through a pipe (no bar); then `duban status`
is timed as CSV for people (Chinese headers), CSV for programs (--header en), JSON, and with an --owner that names
nobody. Each process is timed whole (wall and CPU of the child), as a user waits for it."""

from __future__ import annotations

import argparse
import os
import pty
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from scale import write_county

ROOT = Path(__file__).parent.parent


def timed(args: list[str], env: dict[str, str], terminal: bool = False) -> tuple[float, float, bytes, bytes]:
    """(wall s, CPU s, stdout, stderr) of `duban ARGS`; with `terminal`, stderr is a pseudo-terminal."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    if terminal:
        master, slave = pty.openpty()
        process = subprocess.Popen([sys.executable, "-m", "duban", *args], env=env, cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        shown = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            shown.append(data)
        out, err = process.communicate()[0], b"".join(shown)
        os.close(master)
    else:
        done = subprocess.run([sys.executable, "-m", "duban", *args], env=env, cwd=ROOT, capture_output=True)
        out, err = done.stdout, done.stderr
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out, err


def span(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_plain"))
    parser.add_argument("--before", type=Path, help="the src/ folder of an older duban, to time its CSV beside")
    options = parser.parse_args()
    catalog, contacts = write_county(options.work, task_copies=options.copies)
    base = {**os.environ, "DUBAN_CONFIG": os.devnull, "PYTHONPATH": str(ROOT / "src"), "TERM": "xterm"}
    base.pop("CI", None)
    base.pop("DUBAN_PROGRESS", None)
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    rows: dict[str, tuple[str, list[float], list[float]]] = {}

    def note(name: str, items: str, wall: float, cpu: float) -> None:
        rows.setdefault(name, (items, [], []))
        rows[name][1].append(wall)
        rows[name][2].append(cpu)

    store = options.work / "duban.sqlite"
    env = base | {"DUBAN_DATABASE_URL": f"sqlite:///{store}", "DUBAN_VAR_DIR": str(options.work / "var")}
    for _ in range(options.rounds):
        for terminal in (False, True):
            store.unlink(missing_ok=True)
            wall, cpu, out, err = timed(["sync", str(catalog), "--contacts", str(contacts)], env, terminal)
            assert out.startswith(b"c01"), (out, err[-400:])
            assert (b"\x1b[" in err) == terminal  # a bar on the terminal only
            items = out.decode().split("occurrences +")[1].split()[0]
            note("sync, bar drawn (stderr a terminal)" if terminal else "sync, piped (no bar)", items, wall, cpu)
    asks = {
        "status --format csv (Chinese headers)": ["--format", "csv"],
        "status --format csv --header en": ["--format", "csv", "--header", "en"],
        "status --format json": ["--format", "json"],
        "status --owner t001 --format csv": ["--owner", "t001", "--format", "csv"],
        "status --owner t0O1 (names nobody)": ["--owner", "t0O1"],
    }
    if options.before:  # e.g. `git archive 0463546 src | tar -x -C /tmp/before`: CSV as it was (ids, no BOM)
        asks = {"before: status --format csv (ids, no BOM)": ["--format", "csv"], **asks}
    for _ in range(options.rounds):
        for name, extra in asks.items():
            run_env = env | ({"PYTHONPATH": str(options.before)} if name.startswith("before") else {})
            wall, cpu, out, err = timed(["status", "--as-of", "2020-10-20T12:00", *extra], run_env)
            lines = out.count(b"\n") - (2 if "json" in name else 1 if "csv" in name else 0)  # ([ ] or a header)
            items = f"{lines:,}"
            if "nobody" in name:
                assert err.startswith(b"duban: --owner: no unit or person 't0O1'"), err
                items = "exit 2"
            note(name, items, wall, cpu)
    print(f"load average after: {os.getloadavg()[0]:.1f}\n")
    print("| command | items | wall s | CPU s |\n| --- | ---: | ---: | ---: |")
    for name, (items, walls, cpus) in rows.items():
        print(f"| {name} | {items} | {span(walls)} | {span(cpus)} |")


if __name__ == "__main__":
    main()
