"""Sending speed: duban's dispatch next to a plain smtplib client, the same messages, the same loopback server.

    python benchmarks/bench_send.py                      # 5,000 emails, SQLite
    python benchmarks/bench_send.py --postgres postgresql://postgres@127.0.0.1:5432/test
    python benchmarks/bench_send.py --rounds 3 --pools 1,2,4
    python benchmarks/bench_send.py --profile            # cProfile of one in-process dispatch (top 25)

The messages are real: the shipped plan (tasks_catalog.yaml, examples/contacts.csv) is synced and its reminders
and escalations of 2020-10-28 09:00 rendered by the shipped templates; their emails are copied (each with its own
key and address) into N outbox rows. The SMTP server is aiosmtpd in its own process (in ours it would share our
GIL), answering 250 at once and counting what it took by each message's X-Duban-Key, so every run is checked:
each row sent exactly once, none lost.

Runs, interleaved in rounds so that ratios compare runs made moments apart:
  smtplib       one connection, `sendmail` of the exact bytes duban sends (built beforehand, not timed)
  duban core    `outbox.dispatch` in this process (claim, build, send, mark), SMTP pool of 1, 2, 4, ... connections
  duban CLI     `duban run dispatch` as a process (imports, Prefect, the flow), the default pool, three ways:
                  kept server        the one an earlier run left running (the last round's; its CPU during the
                                     run counted, read from /proc: it is no child of ours)
                  temporary server   DUBAN_PREFECT_KEEP_SECONDS=0: Prefect's temporary server started for the run
                                     (as before the kept server; the server process is the CLI's child, so counted)
                  starting the kept  no kept server running: this run starts it (all its CPU so far counted)
  empty         `outbox.dispatch` and `duban run dispatch` on an outbox with nothing due
  --serve       instead: `duban serve` with a dispatch deployment every minute; before each minute the outbox is
                refilled (smtplib sends the same messages just before), and the run is timed from its minute to its
                last message sent, its CPU that of `duban serve`, the flow-run processes it spawns and the kept server
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).parent))
from scale import bench_store
from sqlalchemy import delete, func, select, text

from duban import outbox, prefectserver, runs
from duban.catalog import load_catalog
from duban.config import ROOT, Settings
from duban.directory import load_people
from duban.models import NotificationRow
from duban.notices import write
from duban.notify.email import SmtpSender, message_bytes
from duban.sync import sync

TZ = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2020, 10, 28, 9, tzinfo=TZ)
SENDER = "duban@example.org"

# A sink that answers at once and counts each message's key; "report" on stdin prints the counts and starts over.
SINK = r"""
import json, sys
from collections import Counter
from aiosmtpd.controller import Controller

class Counting:
    def __init__(self):
        self.keys = Counter()
    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        start = data.find(b"X-Duban-Key: ") + 13
        self.keys[data[start:data.find(b"\r\n", start)].decode()] += 1
        return "250 OK"

handler = Counting()
controller = Controller(handler, hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
for line in sys.stdin:
    keys, handler.keys = handler.keys, Counter()
    print(json.dumps(keys), flush=True)
controller.stop()
"""


class Sink:
    """The loopback SMTP server process."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen([sys.executable, "-c", SINK, str(self.port)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "ready"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?from={SENDER}"

    def taken(self) -> Counter:
        """What the server accepted since the last call, by key."""
        self.process.stdin.write("report\n")
        self.process.stdin.flush()
        return Counter(json.loads(self.process.stdout.readline()))

    def cpu(self) -> float:
        """The server's CPU seconds so far (user + system)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def cpu_here() -> float:
    """CPU seconds of this process and of its finished children (the CLI runs)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def shipped_emails(folder: Path) -> list[dict]:
    """The emails of the shipped plan's 2020-10-28 run, rendered by the shipped templates."""
    settings = Settings(database_url=f"sqlite:///{folder / 'render.sqlite'}", var_dir=str(folder / "var"),
                        secret="bench")
    engine = runs.open_store(settings)
    catalog_path = ROOT / "tasks_catalog.yaml"
    catalog = load_catalog(catalog_path)
    people = load_people(ROOT / "examples" / "contacts.csv", catalog)
    sync(engine=engine, catalog=catalog, catalog_text=catalog_path.read_text(encoding="utf-8"), people=people,
         now=datetime(2020, 9, 1, tzinfo=UTC))
    ctx = runs.context(engine, settings, catalog.plan.id)
    for chunk in runs.plan_notices(engine, ctx, AS_OF, ("remind", "escalate")):
        write(engine=engine, ctx=ctx, chunk=chunk, as_of=AS_OF)
    c = NotificationRow.__table__.c
    with engine.connect() as connection:
        found = connection.execute(select(c.plan_id, c.person_id, c.subject, c.body_text, c.body_html, c.data)
                                   .where(c.channel == "email").order_by(c.id)).all()
    engine.dispose()
    return [dict(r._mapping) for r in found]


def notifications(emails: list[dict], count: int) -> list[dict]:
    """`count` outbox rows cycling through the rendered emails, each with its own key and address."""
    return [{**emails[n % len(emails)], "key": f"bench-{n}", "channel": "email", "address": f"p{n}@example.org",
             "as_of": AS_OF} for n in range(count)]


def refill(engine, notes: list[dict]) -> None:
    with engine.begin() as connection:
        connection.execute(delete(NotificationRow.__table__))
        outbox.enqueue(connection=connection, notifications=notes)


def check(label: str, taken: Counter, expected: int, engine) -> None:
    c = NotificationRow.__table__.c
    with engine.connect() as connection:
        states = Counter(connection.execute(select(c.state)).scalars())
    duplicated = sum(n - 1 for n in taken.values() if n > 1)
    if len(taken) != expected or duplicated or states != {"sent": expected}:
        raise SystemExit(f"{label}: server took {len(taken)} of {expected} ({duplicated} twice), outbox {states}")


def smtplib_run(sink: Sink, messages: list[tuple[str, bytes]]) -> float:
    """One connection, the prepared bytes; seconds."""
    start = time.perf_counter()
    client = smtplib.SMTP("127.0.0.1", sink.port)
    client.ehlo()
    for address, data in messages:
        client.sendmail(SENDER, [address], data)
    client.quit()
    return time.perf_counter() - start


def core_run(engine, sink: Sink, connections: int, profile: bool = False) -> float:
    sender = SmtpSender.from_url(f"{sink.url}&connections={connections}")
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    outbox.dispatch(engine=engine, senders={"email": sender}, as_of=AS_OF, now=lambda: datetime.now(UTC))
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return time.perf_counter() - start


def cli_env(url: str, sink: Sink, folder: Path, keep: int = 900) -> dict[str, str]:
    env = {**os.environ, "DUBAN_DATABASE_URL": url, "DUBAN_SMTP_URL": sink.url, "DUBAN_VAR_DIR": str(folder / "var"),
           "DUBAN_CONFIG": str(folder / "none.toml"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DUBAN_PREFECT_KEEP_SECONDS": str(keep)}
    env.pop("PREFECT_API_URL", None)
    return env


def process_cpu(pid: int) -> float:
    """CPU seconds of a live process (user + system), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class KeptServer:
    """The kept Prefect server of the default PREFECT_HOME: stop it, and the CPU it used during a run."""

    def __init__(self) -> None:
        self.home = prefectserver.prefect_home()

    def stop(self) -> None:
        found = prefectserver.stop(self.home)
        while found is not None and process_cpu(found.pid):
            time.sleep(0.1)

    def cpu(self) -> tuple[int, float]:
        found = prefectserver.read_record(self.home)
        return (0, 0.0) if found is None else (found.pid, process_cpu(found.pid))


def cli_run(url: str, sink: Sink, folder: Path, keep: int = 900) -> tuple[float, str]:
    env = cli_env(url, sink, folder, keep)
    start = time.perf_counter()
    # No --as-of: the store holds only the outbox (no plan to read a zone from); every row is due by now anyway.
    done = subprocess.run([sys.executable, "-m", "duban", "run", "dispatch"],
                          env=env, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"duban run dispatch failed: {done.stderr[-2000:]}")
    return elapsed, done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def _processes() -> dict[int, list[int]]:
    """Every process's children, by parent id."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    return children


def note_tree_cpu(root: int, seen: dict[int, float]) -> None:
    """The CPU so far of `root` and of every process under it, kept by id (a process's last reading stays when it
    ends, so sampling often loses at most the last interval of a short-lived one)."""
    children, stack = _processes(), [root]
    while stack:
        pid = stack.pop()
        used = process_cpu(pid)
        if used:
            seen[pid] = used
        stack += children.get(pid, [])


def serve_rounds(options, engine, notes: list[dict], url: str, sink: Sink, folder: Path,
                 messages: list[tuple[str, bytes]]) -> None:
    """`duban serve` dispatching every minute: smtplib, refill, then the scheduled run, timed from its minute."""
    spec = folder / "prefect.yaml"
    spec.write_text(f"deployments:\n  - name: dispatch\n    entrypoint: {ROOT / 'flows' / 'dispatch.py'}:dispatch\n"
                    f"    schedules:\n      - cron: '* * * * *'\n", encoding="utf-8")
    with engine.begin() as connection:
        connection.execute(delete(NotificationRow.__table__))
    kept = KeptServer()
    log = (folder / "serve.log").open("ab")
    serving = subprocess.Popen([sys.executable, "-m", "duban", "serve", "--file", str(spec)],
                               env=cli_env(url, sink, folder), cwd=ROOT, stdout=log, stderr=log)
    c = NotificationRow.__table__.c
    rows = []
    try:
        time.sleep(20)  # (it starts the kept server, or finds it, and registers the deployment)
        for _round in range(options.rounds):
            minute = (int(time.time()) // 60 + 1) * 60
            if minute - time.time() < 25:
                minute += 60
            time.sleep(max(0.0, minute - 25 - time.time()))
            base = options.n / smtplib_run(sink, messages)
            sink.taken()
            seen: dict[int, float] = {}
            note_tree_cpu(serving.pid, seen)
            before = dict(seen)
            server, server_cpu = kept.cpu()
            refill(engine, notes)
            while True:
                note_tree_cpu(serving.pid, seen)
                with engine.connect() as connection:
                    sent = connection.execute(select(func.count()).where(c.state == "sent")).scalar()
                if sent == options.n:
                    break
                time.sleep(0.1)
            done = time.time()
            pid, now_cpu = kept.cpu()
            used = sum(seen.values()) - sum(before.values()) + ((now_cpu - server_cpu) if pid == server else now_cpu)
            check("serve", sink.taken(), options.n, engine)
            rate = options.n / (done - minute)
            rows.append((base, rate, used))
            print(f"  smtplib {base:,.0f}/s; serve's run of {time.strftime('%H:%M', time.gmtime(minute))}: "
                  f"{done - minute:.1f} s from its minute, {rate:,.0f}/s, ratio {rate / base:.2f}, "
                  f"CPU {used:.1f} s (serve, its runs, the kept server); load {load():.2f}", flush=True)
    finally:
        serving.terminate()
        serving.wait()
        log.close()
        kept.stop()
    ratios = [rate / base for base, rate, _ in rows]
    print(f"\n| duban serve, run every minute | {span([r for _, r, _ in rows], ',.0f')} | {span(ratios, '.2f')} "
          f"(median {statistics.median(ratios):.2f}) | {span([u * 1000 / options.n for _, _, u in rows], '.2f')} |")


def span(values, spec: str) -> str:
    low, high = format(min(values), spec), format(max(values), spec)
    return low if low == high else f"{low}-{high}"


def empty_runs(engine, sink: Sink, url: str, folder: Path, no_cli: bool, when: str) -> str:
    """A dispatch on an outbox with nothing due: in process (5 times) and as `duban run dispatch` (3 times)."""
    core = []
    for _ in range(5):
        start = time.perf_counter()
        outbox.dispatch(engine=engine, senders={"email": SmtpSender.from_url(sink.url)}, as_of=AS_OF,
                        now=lambda: datetime.now(UTC))
        core.append((time.perf_counter() - start) * 1000)
    line = f"empty outbox, {when}: outbox.dispatch {span(core, '.1f')} ms"
    if not no_cli:
        walls, cpus = [], []
        for _ in range(3):
            before = cpu_here()
            wall, said = cli_run(url, sink, folder)
            walls.append(wall)
            cpus.append(cpu_here() - before)
        line += f"; duban run dispatch {span(walls, '.2f')} s whole process, {span(cpus, '.2f')} s CPU ('{said}')"
    return line


def load() -> float:
    return os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5000, help="emails per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pools", default="1,2,4", help="SMTP pool sizes for the in-process dispatch")
    parser.add_argument("--postgres", help="a PostgreSQL URL instead of SQLite")
    parser.add_argument("--no-cli", action="store_true", help="skip `duban run dispatch` (Prefect)")
    parser.add_argument("--cli", default="kept,temporary,starting",
                        help="which `duban run dispatch` runs: kept, temporary, starting (comma-separated)")
    parser.add_argument("--schema", default="bench_send", help="the PostgreSQL schema to use (made afresh)")
    parser.add_argument("--profile", action="store_true", help="profile one in-process dispatch and stop")
    parser.add_argument("--serve", action="store_true", help="time `duban serve`'s scheduled dispatch instead")
    options = parser.parse_args()
    pools = [int(p) for p in options.pools.split(",")]
    before = load()
    folder = Path(tempfile.mkdtemp(prefix="duban-bench-send-"))
    emails = shipped_emails(folder)
    notes = notifications(emails, options.n)
    url = bench_store(folder, options.postgres, options.schema)
    engine = runs.open_store(Settings(database_url=url, var_dir=str(folder / "var"), secret="bench"))
    sink = Sink()
    now = datetime.now(UTC)
    size = statistics.mean(len(message_bytes(outbox.Outgoing(0, n["key"], "p", "x", "email", n["address"],
                                                             n["subject"], n["body_text"], n["body_html"],
                                                             json.loads(n["data"] or "{}"), 0), sender=SENDER, now=now))
                           for n in notes[:len(emails)])
    print(f"{options.n:,} emails ({len(emails)} rendered by the shipped templates, {size / 1000:.1f} KB on the wire "
          f"on average), store {'PostgreSQL' if options.postgres else 'SQLite'}, load {before:.2f}")
    if options.profile:
        refill(engine, notes)
        core_run(engine, sink, pools[-1], profile=True)
        sink.stop()
        return
    refill(engine, notes)
    claimed = outbox.claim(engine=engine, as_of=AS_OF, now=now, limit=options.n)
    messages = [(row.address, message_bytes(row, sender=SENDER, now=now)) for row in claimed]
    if options.serve:
        serve_rounds(options, engine, notes, url, sink, folder, messages)
        sink.stop()
        print(f"load average (1 min): {before:.2f} before, {load():.2f} after; folder {folder}")
        return
    timings: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    cpu: dict[str, list[tuple[float, float]]] = {}  # ms a message: ours, the server's

    kept = KeptServer()

    def measure(label: str, run) -> float:
        ours, theirs, (server, server_cpu) = cpu_here(), sink.cpu(), kept.cpu()
        rate = options.n / run()
        pid, now_cpu = kept.cpu()  # the kept Prefect server is no child of ours: its CPU is read apart
        prefect_cpu = (now_cpu - server_cpu) if pid == server else now_cpu
        cpu.setdefault(label, []).append(((cpu_here() - ours + prefect_cpu) * 1000 / options.n,
                                          (sink.cpu() - theirs) * 1000 / options.n))
        timings.setdefault(label, []).append(rate)
        print(f"  {label}: {rate:,.0f}/s, CPU ms/email {cpu[label][-1][0]:.2f} here, {cpu[label][-1][1]:.2f} server",
              flush=True)
        return rate

    if not options.no_cli:  # a kept server for the first round's "kept server" run, as an earlier run leaves one
        refill(engine, notes[:10])
        cli_run(url, sink, folder)
        sink.taken()
    for _round in range(options.rounds):
        base = measure("smtplib, 1 connection", lambda: smtplib_run(sink, messages))
        if len(sink.taken()) != options.n:
            raise SystemExit("smtplib: the server did not take every message")
        runs_this_round = [(f"duban core, pool {p}", lambda p=p: core_run(engine, sink, p)) for p in pools]
        if not options.no_cli:
            def starting_kept() -> float:
                kept.stop()
                return cli_run(url, sink, folder)[0]

            chosen = options.cli.split(",")
            runs_this_round += [(label, run) for name, label, run in (  # (the kept server: the last round's)
                ("kept", "duban CLI, kept server", lambda: cli_run(url, sink, folder)[0]),
                ("temporary", "duban CLI, temporary server (KEEP_SECONDS=0)",
                 lambda: cli_run(url, sink, folder, keep=0)[0]),
                ("starting", "duban CLI, starting the kept server", starting_kept)) if name in chosen]
        for label, run in runs_this_round:
            refill(engine, notes)
            rate = measure(label, run)
            check(label, sink.taken(), options.n, engine)
            ratios.setdefault(label, []).append(rate / base)
    empties = [empty_runs(engine, sink, url, folder, options.no_cli, "right after the sends")]
    if options.postgres:  # the sends left dead row versions behind, which the index still points at
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE notification"))
        empties.append(empty_runs(engine, sink, url, folder, options.no_cli, "after VACUUM, as autovacuum would"))
    after = load()
    sink.stop()
    if not options.no_cli:
        kept.stop()
    print("\n| run | emails/s | ratio to smtplib | client CPU ms/email | server CPU ms/email |\n"
          "| --- | ---: | ---: | ---: | ---: |")
    for label, rates in timings.items():
        ratio = ratios.get(label)
        ratio_text = (f"{span(ratio, '.2f')} (median {statistics.median(ratio):.2f})" if ratio else "1")
        ours, theirs = zip(*cpu[label], strict=True)
        print(f"| {label} | {span(rates, ',.0f')} | {ratio_text} | {span(ours, '.2f')} | {span(theirs, '.2f')} |")
    print()
    for line in empties:
        print(line)
    print(f"load average (1 min): {before:.2f} before, {after:.2f} after; folder {folder}")


if __name__ == "__main__":
    main()
