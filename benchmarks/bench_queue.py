"""The office's verification queue under load: page render time and HTML size with many reports waiting.

The store carries the shipped plan (or, with --county, scale.py's made-up county), synced into a fresh SQLite
file (or a PostgreSQL schema with --database-url); the first N unit-owned items by deadline are marked reported
(one in three late), each with a report event by a person of its unit, as a campaign would leave them. The
server runs in its own process (bench_web.start_server); one office client asks for pages one after another.

    python benchmarks/bench_queue.py [--reported 1798] [--seconds 5] [--county] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_web import free_port, run, sign_in, start_server

ROOT = Path(__file__).resolve().parent.parent


def prepare(url: str, catalog_path: Path = ROOT / "tasks_catalog.yaml",
            contacts: Path = ROOT / "examples" / "contacts.csv") -> str:
    """Sync a plan and its directory into a fresh store; the plan's id."""
    from datetime import UTC, datetime

    from duban.catalog import load_catalog
    from duban.directory import load_people
    from duban.store import make_engine, migrate
    from duban.sync import sync

    engine = make_engine(url)
    migrate(engine)
    catalog = load_catalog(catalog_path)
    started = time.perf_counter()
    sync(engine=engine, catalog=catalog, catalog_text=catalog_path.read_text(encoding="utf-8"),
         people=load_people(contacts, catalog), now=datetime(2020, 9, 1, tzinfo=UTC))
    print(f"sync of {catalog_path.name}: {time.perf_counter() - started:.1f} s")
    engine.dispose()
    return catalog.plan.id


def seed_reports(url: str, plan: str, count: int) -> tuple[str, list[str]]:
    """Mark `count` unit-owned items reported, with report events; the office's first person and the towns."""
    from duban.models import EventRow, OccurrenceRow, PersonRow, PlanRow, UnitRow
    from duban.store import make_engine, utc

    engine = make_engine(url)
    occ = OccurrenceRow.__table__
    with engine.begin() as connection:
        office = connection.execute(select(PlanRow.office).where(PlanRow.id == plan)).scalar_one()
        first: dict[str, str] = {}
        for person, unit in connection.execute(select(PersonRow.id, PersonRow.unit_id).where(
                PersonRow.plan_id == plan).order_by(PersonRow.id)):
            first.setdefault(unit, person)
        rows = connection.execute(select(occ.c.id, occ.c.unit_id, occ.c.due).where(
            occ.c.plan_id == plan, occ.c.owner_kind == "unit", occ.c.state == "open", occ.c.unit_id != office)
            .order_by(occ.c.due, occ.c.id).limit(count)).all()
        events, updates = [], []
        for n, row in enumerate(rows):
            when = utc(row.due) + (timedelta(days=1) if n % 3 == 2 else -timedelta(hours=2))
            updates.append({"b_id": row.id, "b_at": when})
            events.append({"plan_id": plan, "occurrence_id": row.id, "at": when, "actor": first.get(row.unit_id, "x"),
                           "source": "web", "kind": "report", "before": "open", "after": "reported",
                           "note": "已按要求完成。", "data": "{}"})
        from sqlalchemy import bindparam

        connection.execute(update(occ).where(occ.c.plan_id == plan, occ.c.id == bindparam("b_id")).values(
            state="reported", reported_at=bindparam("b_at"), report_count=1), updates)
        connection.execute(insert(EventRow.__table__), events)
        towns = list(connection.execute(select(UnitRow.id).where(UnitRow.plan_id == plan, UnitRow.kind == "town")
                                        .order_by(UnitRow.id)).scalars())
        if connection.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))  # what autovacuum does after a campaign's writes
    engine.dispose()
    print(f"reports waiting: {len(rows)}")
    return first[office], towns


def measure(url: str, folder: Path, options: argparse.Namespace) -> None:
    print(f"store: {url.split('?')[0]}")
    if options.county:
        from scale import write_county

        plan = prepare(url, *write_county(folder / "county"))
    else:
        plan = prepare(url)
    office, towns = seed_reports(url, plan, options.reported)
    port = free_port()
    server = start_server(url, str(folder / "var"), port)
    try:
        client, csrf = sign_in(f"http://127.0.0.1:{port}", plan, office)
        page = client.get("/queue")
        assert page.status_code == 200, page.status_code
        shown = len(re.findall(r'class="row queue-row', page.text))
        print(f"GET /queue: {len(page.content) / 1024:.1f} KB of HTML, {shown} rows listed")
        pages = max(1, options.reported // 50)
        session = [{"client": client}]

        def ok(path: str) -> bool:
            return client.get(path).status_code == 200

        results = [
            run("queue page 1 (GET)", session, options.seconds, lambda s: ok("/queue")),
            run("queue, any page (GET)", session, options.seconds,
                lambda s: ok(f"/queue?page={random.randint(1, pages)}")),
            run("queue, one town (GET)", session, options.seconds,
                lambda s: ok(f"/queue?unit={random.choice(towns)}" if towns else "/queue")),
            run("queue, by unit, late (GET)", session, options.seconds, lambda s: ok("/queue?state=late&sort=unit")),
            run("queue, returned (GET)", session, options.seconds, lambda s: ok("/queue?state=returned")),
        ]
        batches = []
        for _ in range(options.batches):
            ids = re.findall(r'name="id" value="([^"]+)"', client.get("/queue").text)
            began = time.perf_counter()
            response = client.post("/queue/verify", data={"csrf": csrf, "id": ids, "q": ""})
            batches.append((time.perf_counter() - began) * 1000)
            if response.status_code not in (200, 303):
                print(f"batch verify: HTTP {response.status_code}")
                break
        print("\n| scenario | requests | req/s | p50 ms | p95 ms | errors |\n| --- | --- | --- | --- | --- | --- |")
        for r in results:
            print(f"| {r['name']} | {r['requests']} | {r['rps']:.0f} | {r['p50']:.0f} | {r['p95']:.0f} "
                  f"| {r['errors']} |")
        if batches:
            print(f"| batch 销号 of 50 (POST) | {len(batches)} | | {sorted(batches)[len(batches) // 2]:.0f} "
                  f"| {max(batches):.0f} | |")
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reported", type=int, default=1798, help="how many reports wait for the office")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--batches", type=int, default=5, help="batch verifications of one page (50) to time")
    parser.add_argument("--county", action="store_true", help="scale.py's county instead of the shipped plan")
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="duban-bench-queue-"))
    url = options.database_url or f"sqlite:///{folder / 'duban.sqlite'}"
    schema = ""
    if url.startswith("postgresql"):
        from scale import fresh_postgres

        schema = f"bench_queue_{os.getpid()}"
        url = fresh_postgres(options.database_url, schema)
    try:
        measure(url, folder, options)
    finally:
        if schema:
            import psycopg

            with psycopg.connect(options.database_url, autocommit=True) as connection:
                connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
