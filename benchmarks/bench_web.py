"""Load figures for the web app: the item page and report submission, on loopback against uvicorn.

The store carries the shipped plan and example directory (tasks_catalog.yaml, examples/contacts.csv: about
8,300 occurrences, every one open), synced into a fresh SQLite file (or a PostgreSQL schema with
--database-url). The server runs in its own process (`duban.web.server`, one uvicorn worker); clients are
threads with keep-alive connections, each signed in as the liaison of a different unit.

    python benchmarks/bench_web.py [--seconds 10] [--clients 8] [--database-url postgresql://...]
    python benchmarks/bench_web.py --county [--seconds 10]   # the overview only, on scale.py's county (~100k)
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-" + "b" * 26
NOW = datetime(2020, 10, 20, 2, 0, tzinfo=UTC)  # 10:00 in Yunyang, mid-campaign: the server's clock
PDF = b"%PDF-1.4\n" + b"0" * 40_000 + b"\n%%EOF\n"  # a 40 KB scan


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare(url: str, catalog_path: Path = ROOT / "tasks_catalog.yaml",
            contacts: Path = ROOT / "examples" / "contacts.csv") -> tuple[str, dict[str, list[tuple[str, bool]]]]:
    """Sync the shipped plan (or another); per unit liaison, the open unit-owned items (id, has a target)."""
    from duban.catalog import load_catalog
    from duban.directory import load_people
    from duban.models import OccurrenceRow, PersonRow, TaskRow
    from duban.store import make_engine, migrate
    from duban.sync import sync

    engine = make_engine(url)
    migrate(engine)
    catalog = load_catalog(catalog_path)
    people = load_people(contacts, catalog)
    started = time.perf_counter()
    sync(engine=engine, catalog=catalog, catalog_text=catalog_path.read_text(encoding="utf-8"),
         people=people, now=datetime(2020, 9, 1, tzinfo=UTC))
    print(f"sync of {catalog_path.name}: {time.perf_counter() - started:.1f} s")
    plan = catalog.plan.id
    with engine.connect() as connection:
        liaison = {}
        for row in connection.execute(select(PersonRow.id, PersonRow.unit_id, PersonRow.roles)
                                      .where(PersonRow.plan_id == plan)):
            if "liaison" in row.roles.split(";"):
                liaison.setdefault(row.unit_id, row.id)
        targets = {r.id for r in connection.execute(select(TaskRow.id).where(TaskRow.plan_id == plan,
                                                                             TaskRow.target.is_not(None)))}
        items: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        total = 0
        for row in connection.execute(select(OccurrenceRow.id, OccurrenceRow.unit_id, OccurrenceRow.task_id).where(
                OccurrenceRow.plan_id == plan, OccurrenceRow.owner_kind == "unit", OccurrenceRow.state == "open")):
            total += 1
            if row.unit_id in liaison:
                items[liaison[row.unit_id]].append((row.id, row.task_id in targets))
    engine.dispose()
    print(f"open unit-owned items: {total}, over {len(items)} units with a liaison")
    return plan, dict(items)


def start_server(url: str, var: str, port: int) -> subprocess.Popen:
    code = ("from datetime import datetime; from duban.config import load_settings; from duban.web import server; "
            f"server(load_settings(), host='127.0.0.1', port={port}, "
            f"now=lambda: datetime.fromisoformat('{NOW.isoformat()}')).run()")
    env = {**os.environ, "DUBAN_DATABASE_URL": url, "DUBAN_VAR_DIR": var, "DUBAN_SECRET": SECRET,
           "DUBAN_BASE_URL": f"http://127.0.0.1:{port}", "DUBAN_CONFIG": os.devnull}
    process = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the server did not start")


def sign_in(base: str, plan: str, person: str) -> tuple[httpx.Client, str]:
    from duban.links import make_token

    client = httpx.Client(base_url=base, timeout=30)
    token = make_token(secret=SECRET, person_id=person, plan_id=plan, now=NOW)
    assert client.get(f"/login/{token}", follow_redirects=True).status_code == 200
    page = client.get("/").text
    return client, re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def run(name: str, clients: list, seconds: float, step) -> dict:
    """Each client thread calls step(client, csrf, queue) until time is up; latencies in ms."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker(session) -> None:
        mine = []
        while time.perf_counter() < stop:
            began = time.perf_counter()
            ok = step(session)
            if ok is None:
                break  # nothing left to do for this client
            mine.append((time.perf_counter() - began) * 1000)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    result = {"name": name, "requests": len(latencies), "seconds": elapsed, "rps": len(latencies) / elapsed,
              "p50": statistics.median(latencies) if latencies else 0,
              "p95": latencies[int(len(latencies) * 0.95)] if latencies else 0, "errors": errors[0]}
    print(f"{name:<28} {result['requests']:>6} req  {result['rps']:>7.1f} req/s  "
          f"p50 {result['p50']:>6.1f} ms  p95 {result['p95']:>6.1f} ms  errors {result['errors']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--county", action="store_true", help="scale.py's county; the overview only")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="duban-bench-web-"))
    url = options.database_url or f"sqlite:///{folder / 'duban.sqlite'}"
    schema = ""
    if url.startswith("postgresql"):  # a schema of its own, dropped afterwards
        import psycopg

        schema = f"bench_web_{os.getpid()}"
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{schema}"')
        url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
    try:
        measure(url, folder, options)
    finally:
        if schema:
            with psycopg.connect(options.database_url, autocommit=True) as connection:
                connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def measure(url: str, folder: Path, options: argparse.Namespace) -> None:
    """Prepare the store, start the server, run the scenarios, print the table."""
    print(f"store: {url.split('?')[0]}")
    if options.county:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from scale import write_county

        plan, items = prepare(url, *write_county(folder / "county"))
    else:
        plan, items = prepare(url)
    port = free_port()
    server = start_server(url, str(folder / "var"), port)
    base = f"http://127.0.0.1:{port}"
    try:
        overview = overview_rows(url, plan, base, options.seconds)
        if options.county:
            print_table(overview)
            return
        people = sorted(items, key=lambda p: -len(items[p]))[: options.clients]
        sessions = []
        for person in people:
            client, csrf = sign_in(base, plan, person)
            sessions.append({"client": client, "csrf": csrf, "items": list(items[person]), "person": person})
        print(f"{len(sessions)} clients, {options.seconds:g} s per scenario, one uvicorn worker\n")

        def item_page(session: dict) -> bool:
            occurrence, _ = random.choice(session["items"])
            return session["client"].get(f"/item/{occurrence}").status_code == 200

        def my_items(session: dict) -> bool:
            return session["client"].get("/mine").status_code == 200

        def report(session: dict) -> bool | None:
            if not session["items"]:
                return None
            occurrence, target = session["items"].pop()
            data = {"csrf": session["csrf"], "note": "已按要求完成。", **({"value": "100"} if target else {})}
            response = session["client"].post(f"/do/report/{occurrence}", data=data,
                                              params={"csrf": session["csrf"]},  # a multipart form's is in the URL
                                              files=[("upload", ("材料.pdf", PDF, "application/pdf"))])
            return response.status_code == 303

        results = [run("item page (GET)", sessions, options.seconds, item_page),
                   run("my items (GET)", sessions, options.seconds, my_items),
                   run("report + 40 KB PDF (POST)", sessions, options.seconds, report)]
        print_table(overview + results)
    finally:
        server.terminate()
        server.wait(10)


def print_table(results: list[dict]) -> None:
    print("\n| scenario | requests | req/s | p50 ms | p95 ms | errors |\n| --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['name']} | {r['requests']} | {r['rps']:.0f} | {r['p50']:.0f} | {r['p95']:.0f} "
              f"| {r['errors']} |")


def overview_rows(url: str, plan: str, base: str, seconds: float) -> list[dict]:
    """The leaders' overview as the office sees it, one client (one leader at a time): the page "/" and the list
    behind its 逾期未办 total (at most 300 rows shown)."""
    from duban.models import PersonRow, PlanRow
    from duban.store import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        office = connection.execute(select(PlanRow.office).where(PlanRow.id == plan)).scalar_one()
        person = connection.execute(select(PersonRow.id).where(PersonRow.plan_id == plan, PersonRow.unit_id == office)
                                    .order_by(PersonRow.id)).scalars().first()
    engine.dispose()
    client, _ = sign_in(base, plan, person)
    session = [{"client": client}]
    page = client.get("/").text
    assert "<h1>总览</h1>" in page, "the office does not land on the overview"
    return [run("overview / (GET), office", session, seconds, lambda s: s["client"].get("/").status_code == 200),
            run("overview 逾期未办 list (GET)", session, seconds,
                lambda s: s["client"].get("/overview?set=overdue").status_code == 200)]


if __name__ == "__main__":
    main()
