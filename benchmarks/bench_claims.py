"""How long the outbox takes to claim and mark a large queue, batch by batch, without sending anything.

    python benchmarks/bench_claims.py [--postgres URL --schema NAME] [--sent 100000] [--queued 100000]

Fills a fresh store with `--sent` rows already sent (a history) and `--queued` rows waiting, then claims batches of
200 with `outbox.claim` and marks each batch sent in one UPDATE until nothing is left: what a dispatch costs the store
before any mail server is involved (issue 12: a city's 200,116 queued notifications).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime

from sqlalchemy import update

from duban import outbox
from duban.models import NotificationRow
from duban.store import make_engine, migrate

AS_OF = datetime(2020, 10, 29, 1, 0, tzinfo=UTC)


def store_url(options: argparse.Namespace) -> str:
    if not options.postgres:
        return f"sqlite:///{tempfile.mkdtemp(prefix='duban-bench-claims-')}/duban.sqlite"
    import psycopg

    with psycopg.connect(options.postgres, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{options.schema}" CASCADE')
        connection.execute(f'CREATE SCHEMA "{options.schema}"')
    joiner = "&" if "?" in options.postgres else "?"
    return f"{options.postgres}{joiner}options=-csearch_path%3D{options.schema}"


def fill(engine, sent: int, queued: int) -> None:
    rows = [{"plan_id": "p", "key": f"k{n}", "person_id": f"person{n}", "channel": "email",
             "address": f"p{n}@example.org", "subject": "督办提醒", "body_text": "正文" * 500, "as_of": AS_OF}
            for n in range(sent + queued)]
    with engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            outbox.enqueue(connection=connection, notifications=rows[start:start + 5000])
        connection.execute(update(NotificationRow).where(NotificationRow.id <= sent).values(state="sent"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="a PostgreSQL URL instead of SQLite")
    parser.add_argument("--schema", default="bench_claims", help="the PostgreSQL schema (made afresh)")
    parser.add_argument("--sent", type=int, default=0)
    parser.add_argument("--queued", type=int, default=100_000)
    options = parser.parse_args()
    engine = make_engine(store_url(options))
    migrate(engine)
    fill(engine, options.sent, options.queued)
    load = os.getloadavg()[0]
    started, claims, taken = time.perf_counter(), 0, 0
    while batch := outbox.claim(engine=engine, as_of=AS_OF, now=AS_OF, limit=200):
        claims, taken = claims + 1, taken + len(batch)
        with engine.begin() as connection:
            connection.execute(update(NotificationRow).where(NotificationRow.id.in_([row.id for row in batch]))
                               .values(state="sent"))
    seconds = time.perf_counter() - started
    store = "PostgreSQL" if options.postgres else "SQLite"
    print(f"{store}: {options.sent:,} sent before, {taken:,} queued claimed and marked in {claims:,} batches: "
          f"{seconds:.2f} s ({seconds / max(claims, 1) * 1000:.1f} ms a batch); load {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")
    engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
