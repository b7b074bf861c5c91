"""Time the daily delivery run at county scale, and the dispatch rate to a loopback SMTP server.

    python benchmarks/bench_delivery.py                    # ~100k occurrences, 10k people, SQLite
    python benchmarks/bench_delivery.py --postgres postgresql://postgres@127.0.0.1:5432/test
    python benchmarks/bench_delivery.py --reported 0.8     # 80% of what fell due was reported on time

Steps (the engine called directly, as the flows' task runs call it; Prefect's own overhead is a few
tenths of a second per task run on top):
  first daily run   decide + queue at 2020-10-28 09:00 on a store nobody ran before (every overdue
                    occurrence's current level at once: the worst day)
  next daily run    the same for 2020-10-29 09:00 (a steady day), then the same moment again (nothing new)
  dispatch          every queued email to an aiosmtpd server on loopback, one SMTP connection per batch;
                    every SMS to the local JSON-lines file
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).parent))
from scale import bench_store, write_county
from sqlalchemy import func, select, update

from duban import outbox, runs
from duban.catalog import load_catalog
from duban.config import Settings
from duban.directory import load_people
from duban.models import OccurrenceRow
from duban.notify import local_senders
from duban.notify.email import SmtpSender
from duban.sync import sync

TZ = ZoneInfo("Asia/Shanghai")



def report_some(engine, share: float, before: datetime) -> int:
    """Mark a share of the occurrences due before `before` reported on time (chosen by a hash of the id)."""
    if share <= 0:
        return 0
    occ = OccurrenceRow.__table__
    with engine.begin() as connection:
        rows = connection.execute(select(occ.c.id, occ.c.due).where(occ.c.due < before)).all()
        chosen = [r for r in rows if int(hashlib.sha1(r.id.encode()).hexdigest()[:6], 16) / 0xFFFFFF < share]
        for start in range(0, len(chosen), 5000):
            ids = [r.id for r in chosen[start:start + 5000]]
            connection.execute(update(occ).where(occ.c.id.in_(ids)).values(state="reported", reported_at=occ.c.due))
    return len(chosen)


def daily(engine, ctx, moment: datetime) -> tuple[float, float, float, object]:
    """Decide, then render and queue every batch: (decide s, queue s, queue CPU s, report). CPU time is this
    process's (SQLite works in it; PostgreSQL's own work is not counted): on a busy machine it is the steadier."""
    from duban.notices import write
    from duban.runbodies import write_batches, writing_at_once

    start = time.perf_counter()
    chunks = runs.plan_notices(engine, ctx, moment, ("remind", "escalate"))
    decided = time.perf_counter() - start
    cpu = time.process_time()
    # as the flow body writes them (runbodies.queue_notices)
    report = write_batches(chunks, lambda chunk: write(engine=engine, ctx=ctx, chunk=chunk, as_of=moment),
                           writing_at_once(engine))
    return decided, time.perf_counter() - start - decided, time.process_time() - cpu, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--copies", type=int, default=1, help="task copies: 1 gives ~100k occurrences")
    parser.add_argument("--postgres", help="a PostgreSQL URL instead of SQLite")
    parser.add_argument("--reported", type=float, default=0.0, help="share of past-due occurrences reported")
    parser.add_argument("--batch", type=int, default=200, help="dispatch batch size")
    parser.add_argument("--queue-only", action="store_true", help="the daily runs only, no dispatch")
    parser.add_argument("--schema", default="bench_delivery", help="the PostgreSQL schema (made afresh)")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="duban-bench-delivery-"))
    catalog_path, contacts_path = write_county(folder, people=options.people, task_copies=options.copies)
    url = bench_store(folder, options.postgres, options.schema)
    settings = Settings(database_url=url, var_dir=str(folder / "var"), secret="bench")
    engine = runs.open_store(settings)
    catalog = load_catalog(catalog_path)
    people = load_people(contacts_path, catalog)
    start = time.perf_counter()
    sync(engine=engine, catalog=catalog, catalog_text=catalog_path.read_text(encoding="utf-8"), people=people,
         now=datetime(2020, 9, 1, tzinfo=UTC))
    with engine.connect() as connection:
        occurrences = connection.execute(select(func.count()).select_from(OccurrenceRow)).scalar()
    print(f"store: {'PostgreSQL' if options.postgres else 'SQLite'}, {occurrences:,} occurrences, "
          f"{len(people):,} people (sync {time.perf_counter() - start:.1f} s); load average {os.getloadavg()[0]:.1f}",
          flush=True)
    reported = report_some(engine, options.reported, datetime(2020, 10, 28, tzinfo=TZ))
    if reported:
        print(f"reported on time beforehand: {reported:,}")
    ctx = runs.context(engine, settings, catalog.plan.id)
    for label, moment in (("first daily run, 2020-10-28", datetime(2020, 10, 28, 9, tzinfo=TZ)),
                          ("next daily run, 2020-10-29", datetime(2020, 10, 29, 9, tzinfo=TZ)),
                          ("same moment again", datetime(2020, 10, 29, 9, tzinfo=TZ))):
        decided, written, cpu, report = daily(engine, ctx, moment)
        items = sum(report.items.values())
        made = sum(report.notifications.values())
        rate = f" ({made / written:,.0f}/s; {made / cpu:,.0f} per CPU-second)" if made else ""
        print(f"{label}: decide {decided:.2f} s, queue {written:.2f} s, CPU {cpu:.2f} s -> "
              f"{made:,} notifications ({items:,} items){rate}", flush=True)
    if options.queue_only:
        print(f"load average {os.getloadavg()[0]:.1f}; folder: {folder}")
        return
    import socket
    import subprocess

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The SMTP server in its own process, as a real one would be (in-process it would share our GIL).
    server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                               "-c", "aiosmtpd.handlers.Sink"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    senders = {**local_senders(settings), "email": SmtpSender.from_url(f"smtp://127.0.0.1:{port}?from=d@example.org")}
    from duban.models import NotificationRow

    with engine.connect() as connection:
        size = connection.execute(select(func.avg(func.length(NotificationRow.body_text) + func.length(
            NotificationRow.body_html))).where(NotificationRow.channel == "email")).scalar()
    print(f"average email: {size / 1000:.1f} k characters of text and HTML (superiors get up to 50 items listed)")
    as_of = datetime(2020, 10, 29, 9, tzinfo=TZ)
    for channel, where in (("email", "an aiosmtpd server on loopback"), ("sms", "the local JSON-lines log")):
        start = time.perf_counter()
        result = outbox.dispatch(engine=engine, senders=senders, as_of=as_of, now=lambda: datetime.now(UTC),
                                 batch=options.batch, channels=[channel])
        elapsed = time.perf_counter() - start
        sent = result.sent[channel]
        print(f"dispatch {channel}: {sent:,} to {where} in {elapsed:.1f} s ({sent / elapsed:,.0f}/s, "
              f"batches of {options.batch}); failed {sum(result.failed.values())}")
    server.terminate()
    server.wait()
    print(f"folder: {folder}")


if __name__ == "__main__":
    main()
