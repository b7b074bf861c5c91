"""The bodies of the scheduled flows, free of Prefect: each step is handed in. In a flow run (flows/*.py, through
`duban.flowtasks`) a step is a Prefect task run; in a dry run (`duban run <flow> --dry-run`) it is the same
function called directly, so a dry run answers in seconds without starting Prefect's server, by the one code path.

Entry points read the clock (`clock`); the engine below takes `as_of` and `now` as parameters.
"""

from __future__ import annotations

import logging
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from duban import runs
from duban.config import Settings, load_settings
from duban.notices import Chunk, PlanContext, WriteReport, write
from duban.outbox import DispatchReport, due_channels, pending, send_budget
from duban.shards import Shard, parse_shard

MAX_BATCHES = 100_000
# Batches written at once: while one batch's rows go into the store (the database's work, the GIL released), the
# next renders its messages (Python's). A batch's transaction is several round trips, each waiting its turn for the
# GIL after: with three, one renders while two are in the store's hands (the city on PostgreSQL, one worker, load
# 3-5: render + queue 34-38 s with three or four, 45-52 with two).
WRITING_AT_ONCE = 3
log = logging.getLogger("duban.flows")
PLAIN_FLOWS = ("remind", "escalate", "daily", "dispatch", "digest", "sheets", "bulletin")


def clock() -> datetime:
    """The wall clock (flows are entry points)."""
    return datetime.now(UTC)


def sync_step(settings: Settings, now: datetime) -> str:
    """Sync the catalog (and contacts when configured, else keeping the store's directory) into the store.

    A sync refused for archiving too much fails the step, and so the flow: loudly, with the reason."""
    report = runs.resync(runs.open_store(settings), settings, now)
    if report is None:
        return "no catalog file: skipped"
    kept = "" if report.people_kept is None else f" (directory: the store's {report.people_kept} people)"
    return report.summary() + kept


def decide_step(settings: Settings, ctx: PlanContext, as_of: datetime, kinds: Sequence[str],
                shard: Shard | None = None) -> list[Chunk]:
    """Who must hear what at `as_of` (this shard's share), in batches."""
    return runs.plan_notices(runs.open_store(settings, migrate=False), ctx, as_of, kinds, shard)


def write_step(settings: Settings, ctx: PlanContext, chunk: Chunk, as_of: datetime, dry_run: bool) -> WriteReport:
    """Render one batch of messages and put it in the outbox (idempotent: a retry adds nothing twice)."""
    return write(engine=runs.open_store(settings, migrate=False), ctx=ctx, chunk=chunk, as_of=as_of, dry_run=dry_run)


def dispatch_step(settings: Settings, as_of: datetime, local: bool, batch: int) -> DispatchReport:
    """Claim batches per channel from the outbox for up to `STEP_SECONDS` and send the channels side by side."""
    from duban import notify

    engine = runs.open_store(settings, migrate=False)
    lease = timedelta(seconds=settings.send_lease_seconds)
    return runs.send_step(engine, notify.senders(settings, local=local), as_of, clock, batch, lease)


def log_summary(summary: runs.RunSummary) -> None:
    """What a run did, as one log line."""
    log.info("; ".join(summary.lines()), extra={"event": "flow-run", "flow": summary.flow, "plan": summary.plan_id,
                                                "as_of": summary.as_of.isoformat(), "shard": summary.shard})


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Steps:
    """The steps a delivery flow's body takes, and how a large value is handed to one (`opaque`: as it is, or
    wrapped so that Prefect does not walk into it)."""

    sync: Callable[[Settings, datetime], str] = sync_step
    decide: Callable[..., list[Chunk]] = decide_step
    write: Callable[..., WriteReport] = write_step
    dispatch: Callable[..., DispatchReport] = dispatch_step
    report: Callable[[runs.RunSummary], None] = log_summary
    opaque: Callable[[Any], Any] = _same


PLAIN = Steps()


def _start(as_of: str | None, plan: str | None) -> tuple[Settings, Any, str, datetime]:
    settings = load_settings()
    engine = runs.open_store(settings)
    plan_id, _tz, moment = runs.plan_and_moment(engine, plan, as_of, clock())
    return settings, engine, plan_id, moment


def queue_notices(settings: Settings, engine: Any, plan_id: str, moment: datetime, kinds: Sequence[str],
                  dry_run: bool, shard: str | None = None, steps: Steps = PLAIN) -> WriteReport:
    """Decide, then one step per batch of messages."""
    ctx = runs.context(engine, settings, plan_id)
    share = parse_shard(shard, engine, plan_id)
    chunks = steps.decide(settings, steps.opaque(ctx), moment, kinds, share)
    return write_batches(chunks, lambda chunk: steps.write(settings, steps.opaque(ctx), steps.opaque(chunk), moment,
                                                           dry_run), writing_at_once(engine))


def writing_at_once(engine: Any) -> int:
    """How many batches a run writes at once on this store: one on SQLite, whose write lock takes the batches in
    turn anyway (threads only added switching: the county's first run, alternate rounds at load 2-3, 3.0-3.9 CPU-s
    one at a time against 3.6-5.0 for 309be30's two), WRITING_AT_ONCE elsewhere."""
    return 1 if engine.dialect.name == "sqlite" else WRITING_AT_ONCE


def write_batches(chunks: Iterable[Chunk], write_one: Callable[[Chunk], WriteReport],
                  at_once: int = WRITING_AT_ONCE) -> WriteReport:
    """Every batch written by `write_one`, `at_once` of them in threads (each its own transaction; batches hold
    different people, so they claim different delivery rows). The first failure stops the batches not yet started,
    lets those started finish, and is raised; what was written stays written, as with one batch at a time.

    Each thread runs in a copy of the caller's context, so a Prefect task run started there belongs to the flow
    run, as Prefect's own task runner does it."""
    report = WriteReport()
    with ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="duban-write") as pool:
        started: deque[Future[WriteReport]] = deque()
        for chunk in chunks:
            if len(started) == at_once:
                report.add(started.popleft().result())
            started.append(pool.submit(copy_context().run, write_one, chunk))
        while started:
            report.add(started.popleft().result())
    return report


def send_queued(settings: Settings, moment: datetime, dry_run: bool, local: bool = False,
                batch: int = 200, steps: Steps = PLAIN) -> DispatchReport:
    """Send batches until nothing due is left (dry run: count what is due, claim nothing)."""
    total = DispatchReport()
    if dry_run:
        rows = pending(engine=runs.open_store(settings, migrate=False), as_of=moment, now=clock())
        for row in rows:
            total.sent[row["channel"]] += 1
        return total
    from duban import notify

    notify.senders(settings, local=local)  # a bad channel URL fails here, before anything is claimed
    lease = timedelta(seconds=settings.send_lease_seconds)
    send_budget(lease)  # and a lease too short to send in
    if not due_channels(engine=runs.open_store(settings, migrate=False), as_of=moment, now=clock(), lease=lease):
        return total  # nothing due: not even one task run
    while total.batches < MAX_BATCHES:
        report = steps.dispatch(settings, moment, local, batch)
        total.add(report)
        if not report.settled or not report.more:  # nothing claimed or left, or a lease ended before anything was
            break  # sent: the next run goes on
    return total


def notices_flow(name: str, as_of: str | None, plan: str | None, dry_run: bool, shard: str | None = None,
                 steps: Steps = PLAIN) -> dict:
    """The body of the remind and escalate flows."""
    settings, engine, plan_id, moment = _start(as_of, plan)
    summary = runs.RunSummary(name, plan_id, moment, dry_run, shard=shard or "")
    summary.written = queue_notices(settings, engine, plan_id, moment, runs.KINDS_BY_FLOW[name], dry_run, shard,
                                    steps)
    steps.report(summary)
    return {"lines": summary.lines()}


def dispatch_flow(as_of: str | None, plan: str | None, dry_run: bool, local: bool = False, batch: int = 200,
                  steps: Steps = PLAIN) -> dict:
    """The body of the dispatch flow: send whatever is queued, whoever queued it."""
    settings = load_settings()
    engine = runs.open_store(settings)
    moment = clock()
    plan_id = plan or "all"
    if as_of is not None:
        plan_id, _tz, moment = runs.plan_and_moment(engine, plan, as_of, moment)
    summary = runs.RunSummary("dispatch", plan_id, moment, dry_run)
    summary.dispatched = send_queued(settings, moment, dry_run, local, batch, steps)
    steps.report(summary)
    return {"lines": summary.lines()}


def daily_flow(as_of: str | None, plan: str | None, dry_run: bool, local: bool = False, sync: bool = True,
               shard: str | None = None, steps: Steps = PLAIN) -> dict:
    """The body of the daily flow: sync, then reminders and escalations (one message per person), then dispatch."""
    settings = load_settings()
    synced = ""
    if sync and not dry_run:
        synced = steps.sync(settings, clock())
    engine = runs.open_store(settings)
    plan_id, _tz, moment = runs.plan_and_moment(engine, plan, as_of, clock())
    summary = runs.RunSummary("daily", plan_id, moment, dry_run, synced=synced, shard=shard or "")
    summary.written = queue_notices(settings, engine, plan_id, moment, runs.KINDS_BY_FLOW["daily"], dry_run, shard,
                                    steps)
    summary.dispatched = send_queued(settings, moment, dry_run, local, steps=steps)
    steps.report(summary)
    return {"lines": summary.lines()}


def digest_step(settings: Settings, plan_id: str, moment: datetime, now: datetime, dry_run: bool) -> str:
    """Build the week's digest and queue every leader's email in one batch."""
    from duban.digest import queue_digest

    engine = runs.open_store(settings, migrate=False)
    run = queue_digest(engine=engine, plan_id=plan_id, as_of=moment, now=now, dry_run=dry_run,
                       templates_dir=settings.templates_dir or None, base_url=settings.base_url)
    return run.summary()


def digest_flow(as_of: str | None, plan: str | None, dry_run: bool,
                step: Callable[..., str] = digest_step) -> dict:
    """The body of the digest flow: the week's overdue digest at `as_of`, queued (`dispatch` sends it)."""
    settings = load_settings()
    engine = runs.open_store(settings)
    now = clock()
    plan_id, _tz, moment = runs.plan_and_moment(engine, plan, as_of, now)
    summary = step(settings, plan_id, moment, now, dry_run)
    return {"summary": summary, "lines": [summary]}


def sheet_step(settings: Settings, plan_id: str, moment: datetime, out_dir: str) -> list[str]:
    """Render every format of the sheet at `moment` (one step for the whole sheet)."""
    from duban.sheets import write_status_sheet

    engine = runs.open_store(settings, migrate=False)
    paths = write_status_sheet(engine=engine, plan_id=plan_id, as_of=moment, out_dir=out_dir,
                               templates_dir=settings.templates_dir or None)
    return [str(path) for path in paths]


def sheets_flow(as_of: str | None, plan: str | None, dry_run: bool,
                step: Callable[..., list[str]] = sheet_step) -> dict:
    """The body of the sheets flow: the status sheet at `as_of`; a dry run renders it and keeps nothing."""
    settings = load_settings()
    engine = runs.open_store(settings)
    plan_id, _tz, moment = runs.plan_and_moment(engine, plan, as_of, clock())
    if dry_run:
        with tempfile.TemporaryDirectory() as folder:
            paths = step(settings, plan_id, moment, folder)
    else:
        paths = step(settings, plan_id, moment, str(settings.var_path / "sheets"))
    lines = [f"sheets {plan_id} as of {moment.isoformat()}" + (" (dry run: nothing kept)" if dry_run else ""),
             *([] if dry_run else paths)]
    return {"plan": plan_id, "as_of": moment.isoformat(), "files": [] if dry_run else paths, "lines": lines}


def bulletin_step(settings: Settings, plan_id: str, month: str, moment: datetime, out_dir: str) -> list[str]:
    """Render the month's bulletin in every format (one step)."""
    from duban.bulletin import month_close, parse_month, write_bulletin
    from duban.sheets.data import load_plan

    engine = runs.open_store(settings, migrate=False)
    first = parse_month(month)
    with engine.connect() as connection:
        moment = min(moment, month_close(first, load_plan(connection, plan_id)))
    paths = write_bulletin(engine=engine, plan_id=plan_id, month=first, out_dir=out_dir, as_of=moment,
                           templates_dir=settings.templates_dir or None)
    return [str(path) for path in paths]


def bulletin_flow(as_of: str | None, plan: str | None, dry_run: bool, month: str | None = None,
                  step: Callable[..., list[str]] = bulletin_step) -> dict:
    """The body of the bulletin flow: `month` (YYYY-MM; default: the month before `as_of`), judged at its end;
    a month outside the plan's window gets no bulletin (the first run of a plan would otherwise rank a month
    before it began)."""
    from duban.bulletin import outside_plan, parse_month, previous_month
    from duban.sheets.data import load_plan

    settings = load_settings()
    engine = runs.open_store(settings)
    plan_id, tz, moment = runs.plan_and_moment(engine, plan, as_of, clock())
    month = month or f"{previous_month(moment.astimezone(tz).date()):%Y-%m}"
    with engine.connect() as connection:  # a month outside the plan's window: one line, nothing written
        skipped = outside_plan(load_plan(connection, plan_id), parse_month(month))
    if skipped:
        return {"plan": plan_id, "month": month, "files": [], "lines": [f"bulletin {plan_id} {month}: {skipped}"]}
    if dry_run:
        with tempfile.TemporaryDirectory() as folder:
            paths = step(settings, plan_id, month, moment, folder)
    else:
        paths = step(settings, plan_id, month, moment, str(settings.var_path / "bulletins"))
    lines = [f"bulletin {plan_id} {month}" + (" (dry run: nothing kept)" if dry_run else ""),
             *([] if dry_run else paths)]
    return {"plan": plan_id, "month": month, "files": [] if dry_run else paths, "lines": lines}


def dry_run(name: str, *, as_of: str | None, plan: str | None, shard: str | None = None) -> dict:
    """What the flow `name` would do at `as_of`, without Prefect: the flow's own body with plain steps."""
    if name in ("remind", "escalate"):
        return notices_flow(name, as_of, plan, True, shard)
    if name == "daily":
        return daily_flow(as_of, plan, True, shard=shard)
    if name == "dispatch":
        return dispatch_flow(as_of, plan, True)
    if name == "digest":
        return digest_flow(as_of, plan, True)
    if name == "sheets":
        return sheets_flow(as_of, plan, True)
    if name == "bulletin":
        return bulletin_flow(as_of, plan, True)
    raise ValueError(f"no dry run without Prefect for flow '{name}' (known: {', '.join(PLAIN_FLOWS)})")
