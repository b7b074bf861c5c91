"""The daily run at city scale on PostgreSQL, with 1, 2 and 4 workers.

    python benchmarks/bench_city.py --postgres postgresql://postgres@127.0.0.1:5432/test
    python benchmarks/bench_city.py --postgres URL --counties 14 --people 7150 --workers 1,2,4

A city of `--counties` made-up counties (benchmarks/scale.py) in one store: with the defaults 14
counties, ~1.2M occurrences and 100,100 people. Each worker is a separate process running what the
daily flow's task runs run (the engine, without Prefect's few milliseconds per task run): for each
county, decide who must hear what at 2020-10-29 09:00 (this worker's shard i/W of the recipients),
render and queue the messages (--split counties: each worker takes every W-th county whole instead, as
workers of a pool take a city's flow runs, one per county); with --dispatch, then send its share of the
outbox to a null channel (claims are atomic; the null channel shows the outbox's own cost, not a mail
server's). Before each round the outbox and deliveries are emptied, so every round does the same work.
Timings per step are summed over workers ("where the time goes").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).parent))
from scale import make_county

AS_OF = datetime(2020, 10, 29, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


class NullSender:
    """A channel that accepts everything at once: the outbox's own cost."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def open(self) -> None:
        pass

    def send(self, row, now) -> None:
        pass

    def close(self) -> None:
        pass


def store_url(base: str, schema: str = "bench_city") -> str:
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"


def build_city(base: str, counties: int, people: int, schema: str) -> int:
    import psycopg

    from duban.catalog import parse_catalog
    from duban.directory import check_people
    from duban.store import make_engine, migrate
    from duban.sync import sync

    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.execute(f"CREATE SCHEMA {schema}")
    engine = make_engine(store_url(base, schema))
    migrate(engine)
    total = 0
    for n in range(1, counties + 1):
        county = f"c{n:02d}"
        text, rows = make_county(county, people=people)
        catalog = parse_catalog(text, f"{county}.yaml")
        directory = check_people(enumerate(rows, start=2), catalog, f"{county}.csv")
        report = sync(engine=engine, catalog=catalog, catalog_text=text, people=directory,
                      now=datetime(2020, 9, 1, tzinfo=UTC))
        total += report.kinds["occurrences"].created
    return total


def server_processes(engine) -> list[int]:
    """The ids of the PostgreSQL server processes serving this engine's connections, as they open."""
    from sqlalchemy import event

    found: list[int] = []

    @event.listens_for(engine, "connect")
    def remember(connection, _record) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            found.append(cursor.fetchone()[0])

    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process on this machine (0 when it is not here to read: a server elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker(base: str, schema: str, counties: int, index: int, count: int, send: bool, at_once: int,
           split: str = "recipients") -> dict:
    """One worker's share of the day: every county, shard index/count of its recipients; or (`split` "counties")
    every count-th county from the index-th, whole (each county's daily run is its own flow run)."""
    from duban import runs
    from duban.config import Settings
    from duban.notices import write
    from duban.outbox import claim, send_batch
    from duban.runbodies import write_batches
    from duban.shards import Shard
    from duban.store import make_engine

    engine = make_engine(store_url(base, schema))
    backends = server_processes(engine)
    settings = Settings(secret="bench", database_url=store_url(base, schema))
    spent: Counter = Counter()
    made: Counter = Counter()
    shard = Shard(index, count) if split == "recipients" else Shard()
    for n in range(1, counties + 1):
        if split == "counties" and (n - 1) % count != index:
            continue
        plan_id = f"c{n:02d}-2020"
        start = time.perf_counter()
        ctx = runs.context(engine, settings, plan_id)
        spent["load context"] += time.perf_counter() - start
        start = time.perf_counter()
        chunks = runs.plan_notices(engine, ctx, AS_OF, ("remind", "escalate"), shard)
        spent["decide"] += time.perf_counter() - start
        start = time.perf_counter()
        # as the flow body writes them (runbodies.queue_notices): WRITING_AT_ONCE batches at a time
        report = write_batches(chunks, lambda chunk, ctx=ctx: write(engine=engine, ctx=ctx, chunk=chunk, as_of=AS_OF),
                               at_once=at_once)
        made["notifications"] += sum(report.notifications.values())
        spent["render + queue"] += time.perf_counter() - start
    spent["worker CPU"] = time.process_time()  # this process's (PostgreSQL's own work is in its server processes)
    spent["PostgreSQL CPU"] = sum(cpu_seconds(pid) for pid in backends)  # the server processes serving this worker
    if not send:
        return {"spent": dict(spent), "made": dict(made)}
    start = time.perf_counter()
    senders = {channel: NullSender(channel) for channel in ("email", "sms", "dingtalk", "wecom")}
    while rows := claim(engine=engine, as_of=AS_OF, now=datetime.now(UTC), limit=500):
        report = send_batch(engine=engine, rows=rows, senders=senders, now=lambda: datetime.now(UTC))
        made["sent"] += sum(report.sent.values())
    spent["dispatch (claim + mark sent)"] += time.perf_counter() - start
    return {"spent": dict(spent), "made": dict(made)}


def empty_outbox(base: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f"TRUNCATE {schema}.notification, {schema}.delivery")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--counties", type=int, default=14)
    parser.add_argument("--people", type=int, default=7150, help="people per county")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--worker", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dispatch", action="store_true", help="also send the outbox to a null channel")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--schema", default="bench_city", help="the PostgreSQL schema the city is built in")
    parser.add_argument("--at-once", default="3", help="batches each worker writes at once, e.g. 2,3 to compare "
                        "(the flow writes runbodies.WRITING_AT_ONCE = 3)")
    parser.add_argument("--split", default="recipients", help="how workers share the city, e.g. recipients,counties: "
                        "each worker every county's shard i/N of the recipients (--shard i/N), or every N-th county "
                        "whole (a flow run per county, the workers taking them in turn)")
    options = parser.parse_args()
    if options.worker:
        print(json.dumps(worker(options.postgres, options.schema, options.counties, *options.worker, options.dispatch,
                                int(options.at_once), options.split)))
        return
    if not options.skip_build:
        start = time.perf_counter()
        occurrences = build_city(options.postgres, options.counties, options.people, options.schema)
        took = time.perf_counter() - start
        people = options.counties * options.people
        print(f"city: {options.counties} counties, {occurrences:,} occurrences, {people:,} people; "
              f"synced in {took:.0f} s", flush=True)
    else:  # a city built before the newest migrations gets them (as `duban` does when it opens a store)
        from duban.store import make_engine, migrate

        migrate(make_engine(store_url(options.postgres, options.schema)))
    print("\n| split | workers | batches at once | wall seconds | notifications | a second | sent "
          "| load before / after | where the time goes (summed over workers, s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    rounds = [(split, int(w), int(a)) for split in options.split.split(",") for w in options.workers.split(",")
              for a in options.at_once.split(",")]
    for split, count, at_once in rounds:
        empty_outbox(options.postgres, options.schema)
        load = os.getloadavg()[0]
        start = time.perf_counter()
        processes = [subprocess.Popen([sys.executable, __file__, "--postgres", options.postgres, "--counties",
                                       str(options.counties), "--schema", options.schema,
                                       "--worker", str(i), str(count), "--at-once", str(at_once), "--split", split]
                                      + (["--dispatch"] if options.dispatch else []),
                                      stdout=subprocess.PIPE, text=True, env=os.environ) for i in range(count)]
        results = [json.loads(p.communicate()[0]) for p in processes]
        wall = time.perf_counter() - start
        spent: Counter = Counter()
        made: Counter = Counter()
        for result in results:
            spent.update(result["spent"])
            made.update(result["made"])
        where = ", ".join(f"{k} {v:.0f}" for k, v in spent.items())
        print(f"| {split} | {count} | {at_once} | {wall:.0f} | {made['notifications']:,} | "
              f"{made['notifications'] / wall:,.0f} | {made['sent']:,} | {load:.1f} / {os.getloadavg()[0]:.1f} | "
              f"{where} |", flush=True)


if __name__ == "__main__":
    main()
