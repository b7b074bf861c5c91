"""duban's reading next to what people would pick instead, Taskwarrior and remind, on the same occurrences.

    python benchmarks/peers.py                                # the county: 100,262 occurrences, SQLite
    python benchmarks/peers.py --copies 10                    # ~1M occurrences
    python benchmarks/peers.py --work /tmp/peers --rounds 5   # keep the store and the peers' files, and reuse them

Every tool answers as a fresh process, as a person would run it, output to a file:
- overdue at AS_OF: `duban status --as-of AS_OF --state overdue --format json`; Taskwarrior `+OVERDUE export` under
  faketime (an item missed, past its successor's deadline, is left out by a `superseded` date attribute); remind,
  each open item a reminder that nags daily from the day after its deadline until its successor's deadline;
- one town's items: `duban status --owner TOWN` (a table); Taskwarrior `project:TOWN export`.
The answers are checked equal before any time is printed. The tools run interleaved in rounds, so each ratio
compares runs made moments apart on a shared, loaded machine; ranges over the rounds are printed.
Peers that are not installed are skipped: apt-get install taskwarrior remind faketime.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).parent))
from scale import bench_store, write_county

INSTALL = "apt-get install taskwarrior remind faketime"
TW_TIME = "%Y%m%dT%H%M%SZ"
# The full command with the read path turned away: what `duban status` did before it (typer, pydantic, the ORM).
ORM_PATH = (
    "import sys\n"
    "import duban.readpath.command as command\n"
    "command.read_status = lambda *args, **kwargs: False\n"
    "from duban.cli import main\n"
    "main()\n"
)


@dataclass
class Run:
    """One process: wall seconds, CPU seconds (user + system), peak memory (MB), and what it wrote."""

    wall: float
    cpu: float
    peak_mb: float
    output: Path


def run(command: list[str], env: dict[str, str], output: Path) -> Run:
    """Run a command with its output in a file: its wall and CPU time (wait4), its peak memory (GNU time).

    (A child's own peak cannot be read from here: Linux counts into it what this process held when it forked.
    GNU time forks the command from a small process, so its figure is the command's.)"""
    err_path, peak_path = output.with_suffix(".err"), output.with_suffix(".peak")
    gnu_time = ["/usr/bin/time", "-f", "%M", "-o", str(peak_path)] if Path("/usr/bin/time").exists() else []
    with output.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        process = subprocess.Popen([*gnu_time, *command], env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{err_path.read_text()}")
    peak = int(peak_path.read_text().split()[-1]) / 1024 if gnu_time else float("nan")
    return Run(wall, usage.ru_utime + usage.ru_stime, peak, output)


def duban_command() -> list[str]:
    """The `duban` console script of this Python, as a user runs it."""
    script = Path(sys.executable).parent / "duban"
    return [str(script)] if script.exists() else [sys.executable, "-m", "duban"]


# --- the same occurrences, for each tool ---


def occurrences(url: str) -> tuple[str, ZoneInfo, list[tuple]]:
    """(plan id, zone, rows) of the store's live occurrences, read with the read path's own connection."""
    from duban.readpath.connect import open_reader

    reader = open_reader(url)
    assert reader is not None, f"cannot read {url}"
    plan_id, zone = reader.all("SELECT id, timezone FROM plan", {})[0]
    sql = (
        "SELECT o.id, o.unit_id, o.state, o.due, o.superseded_at, o.reported_at, o.waived_at, o.period_start,"
        " t.title FROM occurrence o JOIN task t ON t.plan_id = o.plan_id AND t.id = o.task_id"
        f" WHERE o.plan_id = {reader.param('plan')} AND NOT o.archived"
    )
    rows = []
    for batch in reader.batches(sql, {"plan": plan_id}):
        for occ_id, unit, state, due, superseded, reported, waived, start, title in batch:
            instants = [reader.read_instant(v) if v is not None else None for v in (due, superseded, reported, waived)]
            rows.append((occ_id, unit, state, *instants, reader.read_day(start), title))
    reader.close()
    return plan_id, ZoneInfo(zone), rows


def taskwarrior_tasks(plan_id: str, rows: list[tuple]) -> list[dict]:
    """The occurrences as Taskwarrior tasks: due, project = unit, done or waived ones closed, `duban` = the id."""
    tasks = []
    for occ_id, unit, state, due, superseded, reported, waived, start, title in rows:
        task = {
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"duban:{plan_id}:{occ_id}")),
            "description": title,
            "entry": f"{start.replace('-', '')}T000000Z",
            "due": due.strftime(TW_TIME),
            "project": unit,
            "duban": occ_id,
            "status": "pending",
        }
        if superseded is not None:
            task["superseded"] = superseded.strftime(TW_TIME)
        if state in ("reported", "verified") and reported is not None:
            task.update(status="completed", end=reported.strftime(TW_TIME))
        elif state == "waived" and waived is not None:
            task.update(status="deleted", end=waived.strftime(TW_TIME))
        tasks.append(task)
    return tasks


def remind_lines(rows: list[tuple], zone: ZoneInfo) -> list[str]:
    """Each open occurrence as a reminder that nags daily from the day after its deadline until its successor's.

    Deadlines are the end of a day, so at a moment before the day's end an item is overdue on the days from the
    one after its deadline through the one of its successor's deadline. (Done and waived items are deleted, as a
    remind user deletes what is done: the county made by scale.py has none.)"""
    lines = []
    for occ_id, _unit, state, due, superseded, *_ in rows:
        if state in ("reported", "verified", "waived"):
            continue
        first = due.astimezone(zone).date() + timedelta(days=1)
        until = f" UNTIL {superseded.astimezone(zone).date().isoformat()}" if superseded is not None else ""
        lines.append(f"REM {first.isoformat()} *1{until} MSG {occ_id}\n")
    return lines


@dataclass
class Peers:
    """Where each tool's copy of the occurrences lives, and the environment to run the tools in."""

    folder: Path
    taskrc: Path | None
    reminders: Path | None

    def env(self) -> dict[str, str]:
        """The tools' environment: UTC, so faketime's moment reads the same everywhere."""
        return {**os.environ, "TZ": "UTC", "TASKRC": str(self.taskrc or "")}


def prepare_peers(folder: Path, url: str) -> tuple[Peers, int]:
    """Export the store's occurrences to the peers that are installed (once per work folder)."""
    have_tw = bool(shutil.which("task") and shutil.which("faketime"))
    have_remind = bool(shutil.which("remind"))
    peers = Peers(folder, folder / "taskrc" if have_tw else None, folder / "duban.rem" if have_remind else None)
    marker = folder / "peers.json"
    if marker.exists():
        return peers, json.loads(marker.read_text())["occurrences"]
    plan_id, zone, rows = occurrences(url)
    if peers.taskrc is not None:
        data = folder / "task"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir()
        peers.taskrc.write_text(
            f"data.location={data}\nconfirmation=off\nverbose=nothing\njson.array=on\nhooks=off\n"
            "uda.duban.type=string\nuda.duban.label=duban\nuda.superseded.type=date\nuda.superseded.label=Superseded\n"
        )
        export = folder / "taskwarrior.json"
        export.write_text(json.dumps(taskwarrior_tasks(plan_id, rows), ensure_ascii=False))
        started = time.perf_counter()
        subprocess.run(["task", "import", str(export)], env=peers.env(), check=True, capture_output=True)
        print(f"taskwarrior: imported {len(rows)} tasks in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if peers.reminders is not None:
        peers.reminders.write_text("".join(remind_lines(rows, zone)), encoding="utf-8")
    marker.write_text(json.dumps({"occurrences": len(rows)}))
    return peers, len(rows)


# --- the questions, and their answers as sets of occurrence ids ---


def duban_ids(run_: Run) -> set[str]:
    """The ids in duban's JSON."""
    return {row["id"] for row in json.loads(run_.output.read_bytes())}


def table_ids(run_: Run) -> set[str]:
    """The ids in duban's table (the last column, after the two header lines)."""
    return {line.split()[-1] for line in run_.output.read_text(encoding="utf-8").splitlines()[2:]}


def taskwarrior_ids(run_: Run) -> set[str]:
    """The `duban` ids of the tasks Taskwarrior exported."""
    return {task["duban"] for task in json.loads(run_.output.read_bytes())}


def remind_ids(run_: Run) -> set[str]:
    """The messages remind printed for the day."""
    lines = run_.output.read_text(encoding="utf-8").splitlines()
    return {line for line in lines[1:] if line.strip()}


@dataclass
class Question:
    """One tool answering one question."""

    name: str
    command: list[str]
    env: dict[str, str]
    ids: Callable[[Run], set[str]]


def questions(args: argparse.Namespace, url: str, peers: Peers, as_of: datetime) -> list[Question]:
    """Every tool's command for both questions, those of missing peers left out."""
    duban = duban_command()
    env = {**os.environ, "DUBAN_DATABASE_URL": url}
    overdue = ["status", "--as-of", args.as_of, "--state", "overdue", "--format", "json"]
    town = ["status", "--as-of", args.as_of, "--owner", args.town]
    found = [
        Question("duban overdue (json)", [*duban, *overdue], env, duban_ids),
        Question("duban town (table)", [*duban, *town], env, table_ids),
    ]
    if args.all_rows:  # the memory of a streamed output as the rows grow
        every = ["status", "--as-of", args.as_of, "--format", "json"]
        found.append(Question("duban every row (json)", [*duban, *every], env, duban_ids))
    if args.orm:
        orm = [sys.executable, "-c", ORM_PATH]
        found += [
            Question("ORM path overdue (json)", [*orm, *overdue], env, duban_ids),
            Question("ORM path town (table)", [*orm, *town], env, table_ids),
        ]
    if peers.taskrc is not None:
        fake = ["faketime", as_of.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")]
        missed = ["(", "superseded.none:", "or", "superseded.after:now", ")"]
        found += [
            Question("Taskwarrior overdue", [*fake, "task", "+OVERDUE", *missed, "export"], peers.env(),
                     taskwarrior_ids),
            Question("Taskwarrior town", ["task", f"project:{args.town}", "export"], peers.env(), taskwarrior_ids),
        ]
    if peers.reminders is not None:
        day = as_of.date().isoformat()
        found.append(Question("remind overdue", ["remind", "-q", "-r", str(peers.reminders), day], peers.env(),
                              remind_ids))
    return found


RATIOS = [  # (what, numerator, denominator, target)
    ("overdue: duban / Taskwarrior", "duban overdue (json)", "Taskwarrior overdue", "<= 0.33"),
    ("overdue: duban / remind", "duban overdue (json)", "remind overdue", "<= 2"),
    ("town: duban / Taskwarrior", "duban town (table)", "Taskwarrior town", ""),
    ("overdue: duban / ORM path", "duban overdue (json)", "ORM path overdue (json)", ""),
    ("town: duban / ORM path", "duban town (table)", "ORM path town (table)", ""),
]


def span(values: list[float], digits: int = 2) -> str:
    """min-max of some figures."""
    low, high = min(values), max(values)
    return f"{low:.{digits}f}" if f"{low:.{digits}f}" == f"{high:.{digits}f}" else f"{low:.{digits}f}-{high:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=1, help="task copies: 1 gives ~100k occurrences, 10 ~1M")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--as-of", default="2020-10-20T12:00+08:00", help="the moment of the overdue question")
    parser.add_argument("--town", default="t001")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--orm", action="store_true", help="also time the full command's ORM path, for reference")
    parser.add_argument("--all-rows", action="store_true", help="also time every row as JSON (memory as rows grow)")
    parser.add_argument("--work", type=Path, help="a folder to keep the store and peers' files in, and reuse")
    parser.add_argument("--postgres", help="a PostgreSQL URL to hold duban's store instead of SQLite")
    args = parser.parse_args()
    folder = args.work or Path(tempfile.mkdtemp(prefix="duban-peers-"))
    folder.mkdir(parents=True, exist_ok=True)
    as_of = datetime.fromisoformat(args.as_of)
    url = prepare_store(folder, args)
    peers, count = prepare_peers(folder, url)
    if peers.taskrc is None:
        print(f"Taskwarrior skipped (needs task and faketime): {INSTALL}", file=sys.stderr)
    if peers.reminders is None:
        print(f"remind skipped: {INSTALL}", file=sys.stderr)
    asked = questions(args, url, peers, as_of)
    load_before = os.getloadavg()
    results: dict[str, list[Run]] = {q.name: [] for q in asked}
    for _ in range(args.rounds):
        for question in asked:
            results[question.name].append(run(question.command, question.env, _output(folder, question.name)))
    load_after = os.getloadavg()
    answers = check_answers(asked, results)
    report(args, count, answers, results, load_before, load_after)


def prepare_store(folder: Path, args: argparse.Namespace) -> str:
    """The county synced into duban's store (once per work folder)."""
    url = bench_store(folder, args.postgres, "bench_peers") if not (folder / "store.url").exists() else None
    if url is None:
        return (folder / "store.url").read_text()
    catalog, contacts = write_county(folder, task_copies=args.copies, people=args.people)
    started = time.perf_counter()
    subprocess.run([*duban_command(), "sync", str(catalog), "--contacts", str(contacts)], check=True,
                   env={**os.environ, "DUBAN_DATABASE_URL": url}, capture_output=True)
    print(f"duban sync: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    (folder / "store.url").write_text(url)
    return url


def _output(folder: Path, name: str) -> Path:
    """Where a question's answer is written (each round overwrites the last)."""
    return folder / ("".join(ch if ch.isalnum() else "_" for ch in name) + ".out")


def check_answers(asked: list[Question], results: dict[str, list[Run]]) -> dict[str, int]:
    """How many items each tool answered; stops when two tools disagree on a question."""
    answers = {q.name: q.ids(results[q.name][-1]) for q in asked}
    counts = {name: len(ids) for name, ids in answers.items()}
    for topic in ("overdue", "town"):
        named = {name: ids for name, ids in answers.items() if f" {topic}" in name}
        first = next(iter(named))
        for name, ids in named.items():
            if ids != named[first]:
                raise SystemExit(f"{name} and {first} disagree: {len(ids ^ named[first])} items differ "
                                 f"(e.g. {sorted(ids ^ named[first])[:3]})")
    orm = [q.name for q in asked if q.name.startswith("ORM path")]
    for name in orm:  # the ORM path is the reference for bytes, not only for ids
        fast = name.replace("ORM path", "duban")
        if results[name][-1].output.read_bytes() != results[fast][-1].output.read_bytes():
            raise SystemExit(f"{name} and {fast} printed different bytes")
    return counts


def report(args: argparse.Namespace, count: int, answers: dict[str, int], results: dict[str, list[Run]],
           load_before: tuple[float, ...], load_after: tuple[float, ...]) -> None:
    """The figures as Markdown tables."""
    store = "PostgreSQL" if args.postgres else "SQLite"
    print(f"{count:,} occurrences ({store}), as of {args.as_of}, {args.rounds} rounds; "
          f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after, on {os.cpu_count()} cores\n")
    print("| process | items | wall s | CPU s | peak MB |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, runs in results.items():
        print(f"| {name} | {answers[name]:,} | {span([r.wall for r in runs])} | {span([r.cpu for r in runs])} "
              f"| {span([r.peak_mb for r in runs], 0)} |")
    print("\n| ratio (per round) | wall | wall, median | CPU | CPU, median | target |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for what, top, bottom, target in RATIOS:
        if top in results and bottom in results:
            pairs = list(zip(results[top], results[bottom], strict=True))
            walls, cpus = [a.wall / b.wall for a, b in pairs], [a.cpu / b.cpu for a, b in pairs]
            print(f"| {what} | {span(walls)} | {median(walls):.2f} | {span(cpus)} | {median(cpus):.2f} | {target} |")


if __name__ == "__main__":
    main()
