"""Time rendering a county's first daily run: every message's subject, text, HTML and SMS, nothing queued.

    python benchmarks/bench_render.py --keep /tmp/render-county        # the store built once, then reused
    python benchmarks/bench_render.py --keep /tmp/render-county --profile 30
    PYTHONPATH=/tmp/before/src python benchmarks/bench_render.py ...    # another commit's code, same messages

The county of `scale.py` (100,262 occurrences, 10,000 people), decided at 2020-10-28 09:00 (every overdue item's
current level at once: the worst day), each batch rendered as `notices.write` renders it (one item view per
batch, shared by a person's email and SMS). Short codes are drawn from a counter instead of `secrets`, so the
digest of every rendered row (address, subject, text, HTML, data) is the same whenever the bytes are: compare it
across commits. CPU is this process's, for the rendering alone (the cycle collector paused, as `notices.write`
does); "templates" is the part spent inside the templates' `render` calls.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import itertools
import json
import os
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).parent))
from scale import write_county

from duban import notices, runs, shortlinks
from duban.catalog import load_catalog
from duban.config import Settings
from duban.directory import load_people
from duban.sync import sync

TZ = ZoneInfo("Asia/Shanghai")
FIRST_RUN = datetime(2020, 10, 28, 9, tzinfo=TZ)


class TimedTemplate:
    """A compiled template whose `render` adds its CPU time to a shared tally."""

    def __init__(self, template: Any, tally: list[float]) -> None:
        self.template, self.tally = template, tally

    def render(self, *args: Any, **kwargs: Any) -> str:
        start = time.process_time()
        try:
            return self.template.render(*args, **kwargs)
        finally:
            self.tally[0] += time.process_time() - start


def store(folder: Path) -> tuple[Settings, str]:
    """The county's SQLite store in `folder`, synced once; (settings, plan id)."""
    catalog_path = folder / "tasks_catalog.yaml"
    settings = Settings(database_url=f"sqlite:///{folder / 'duban.sqlite'}", var_dir=str(folder / "var"),
                        secret="bench")
    fresh = not catalog_path.exists()
    if fresh:
        write_county(folder)
    catalog = load_catalog(catalog_path)
    if fresh:
        sync(engine=runs.open_store(settings), catalog=catalog, catalog_text=catalog_path.read_text(encoding="utf-8"),
             people=load_people(folder / "contacts.csv", catalog), now=datetime(2020, 9, 1, tzinfo=UTC))
    return settings, catalog.plan.id


def render_all(ctx: Any, chunks: list[Any]) -> tuple[float, float, str, int]:
    """Render every message of every batch: (CPU s, CPU s inside templates, digest of the rows, messages)."""
    counter = itertools.count()
    shortlinks.new_code = lambda length=0: f"c{next(counter):07d}"
    tally = [0.0]
    ctx.templates.clear()
    for name in ("email/notice_subject.txt", "email/notice.txt", "email/notice.html", "sms/notice.txt"):
        ctx.templates[name] = TimedTemplate(ctx.template(name), tally)
    digest = hashlib.sha256()
    elapsed, count = 0.0, 0
    for chunk in chunks:
        # as notices.write renders a batch: one item view per batch, the cycle collector paused
        views: dict[tuple, dict[str, Any]] = {}
        gc.disable()
        start = time.process_time()
        rows = [notices._render(ctx, message, FIRST_RUN, True, views) for message in chunk.messages]
        elapsed += time.process_time() - start
        gc.enable()
        for row in rows:
            digest.update(json.dumps([row["address"], row["subject"], row["body_text"], row["body_html"],
                                      row["data"]], ensure_ascii=False, default=str).encode())
        count += len(rows)
    ctx.templates.clear()
    return elapsed, tally[0], digest.hexdigest()[:16], count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="a folder for the county's store, built on the first run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, help="profile one more round; print this many rows")
    options = parser.parse_args()
    folder = options.keep or Path(tempfile.mkdtemp(prefix="duban-bench-render-"))
    folder.mkdir(parents=True, exist_ok=True)
    settings, plan_id = store(folder)
    engine = runs.open_store(settings)
    ctx = runs.context(engine, settings, plan_id)
    chunks = runs.plan_notices(engine, ctx, FIRST_RUN, ("remind", "escalate"))
    print(f"code: {Path(notices.__file__).parent}; load average {os.getloadavg()[0]:.1f}", flush=True)
    for round_ in range(1, options.rounds + 1):
        cpu, templates, digest, count = render_all(ctx, chunks)
        print(f"round {round_}: {count:,} messages, render CPU {cpu:.2f} s ({cpu / count * 1000:.3f} s per 1,000), "
              f"templates {templates:.2f} s ({templates / count * 1000:.3f} s per 1,000); digest {digest}", flush=True)
    if options.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        render_all(ctx, chunks)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(options.profile)
    print(f"load average {os.getloadavg()[0]:.1f}; folder: {folder}")


if __name__ == "__main__":
    main()
