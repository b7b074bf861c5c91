"""Prefect tasks and flow bodies for the delivery flows in flows/: one task run per batch, never per notification.

The flow files stay a few lines long; these bodies only call the engine (`runs`, `notices`, `outbox`)
and leave a small Markdown artifact of what the run did. This module is the entry point that reads the
clock: the engine below it takes `as_of` and `now` as parameters.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff
from prefect.utilities.annotations import quote

from duban import runs
from duban.config import Settings, load_settings
from duban.notices import Chunk, PlanContext, WriteReport, write
from duban.outbox import DispatchReport, due_channels, pending, send_budget
from duban.shards import Shard, parse_shard

MAX_BATCHES = 100_000
log = logging.getLogger("duban.flows")


def clock() -> datetime:
    """The wall clock (flows are entry points)."""
    return datetime.now(UTC)


@task(name="sync", cache_policy=NO_CACHE)
def sync_task(settings: Settings, now: datetime) -> str:
    """Sync the catalog (and contacts when configured, else keeping the store's directory) into the store.

    A sync refused for archiving too much fails the task, and so the flow: loudly, with the reason."""
    report = runs.resync(runs.open_store(settings), settings, now)
    if report is None:
        return "no catalog file: skipped"
    kept = "" if report.people_kept is None else f" (directory: the store's {report.people_kept} people)"
    return report.summary() + kept


@task(name="decide", cache_policy=NO_CACHE)
def decide_task(settings: Settings, ctx: PlanContext, as_of: datetime, kinds: Sequence[str],
                shard: Shard | None = None) -> list[Chunk]:
    """Who must hear what at `as_of` (this shard's share), in batches."""
    return runs.plan_notices(runs.open_store(settings, migrate=False), ctx, as_of, kinds, shard)


@task(name="queue-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=exponential_backoff(2))
def write_task(settings: Settings, ctx: PlanContext, chunk: Chunk, as_of: datetime, dry_run: bool) -> WriteReport:
    """Render one batch of messages and put it in the outbox (idempotent: a retry adds nothing twice)."""
    return write(engine=runs.open_store(settings, migrate=False), ctx=ctx, chunk=chunk, as_of=as_of, dry_run=dry_run)


@task(name="send-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=exponential_backoff(2))
def dispatch_task(settings: Settings, as_of: datetime, local: bool, batch: int) -> DispatchReport:
    """Claim a batch per channel from the outbox and send the channels side by side."""
    from duban import notify

    engine = runs.open_store(settings, migrate=False)
    lease = timedelta(seconds=settings.send_lease_seconds)
    return runs.dispatch_one(engine, notify.senders(settings, local=local), as_of, clock, batch, lease)


def _artifact(summary: runs.RunSummary) -> None:
    log.info("; ".join(summary.lines()), extra={"event": "flow-run", "flow": summary.flow, "plan": summary.plan_id,
                                                "as_of": summary.as_of.isoformat(), "shard": summary.shard})
    key = re.sub(r"[^a-z0-9-]+", "-", f"{summary.flow}-{summary.plan_id}".lower()).strip("-")
    create_markdown_artifact(markdown=summary.markdown(), key=key[:100],
                             description=f"duban {summary.flow} as of {summary.as_of.isoformat()}")


def _start(as_of: str | None, plan: str | None) -> tuple[Settings, Any, str, datetime]:
    settings = load_settings()
    engine = runs.open_store(settings)
    plan_id, _tz, moment = runs.plan_and_moment(engine, plan, as_of, clock())
    return settings, engine, plan_id, moment


def queue_notices(settings: Settings, engine: Any, plan_id: str, moment: datetime, kinds: Sequence[str],
                  dry_run: bool, shard: str | None = None) -> WriteReport:
    """Decide, then one task run per batch of messages."""
    ctx = runs.context(engine, settings, plan_id)
    share = parse_shard(shard, engine, plan_id)
    report = WriteReport()
    # quote(): Prefect need not walk the plan's directory or the messages to look for upstream results.
    for chunk in decide_task(settings, quote(ctx), moment, kinds, share):
        report.add(write_task(settings, quote(ctx), quote(chunk), moment, dry_run))
    return report


def send_queued(settings: Settings, moment: datetime, dry_run: bool, local: bool = False,
                batch: int = 200) -> DispatchReport:
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
        report = dispatch_task(settings, moment, local, batch)
        total.add(report)
        if not report.settled:  # nothing claimed, or a lease ended before anything was sent: the next run goes on
            break
    return total


def notices_flow(name: str, as_of: str | None, plan: str | None, dry_run: bool, shard: str | None = None) -> dict:
    """The body of the remind and escalate flows."""
    settings, engine, plan_id, moment = _start(as_of, plan)
    summary = runs.RunSummary(name, plan_id, moment, dry_run, shard=shard or "")
    summary.written = queue_notices(settings, engine, plan_id, moment, runs.KINDS_BY_FLOW[name], dry_run, shard)
    _artifact(summary)
    return {"lines": summary.lines()}


def dispatch_flow(as_of: str | None, plan: str | None, dry_run: bool, local: bool = False, batch: int = 200) -> dict:
    """The body of the dispatch flow: send whatever is queued, whoever queued it."""
    settings = load_settings()
    engine = runs.open_store(settings)
    moment = clock()
    plan_id = plan or "all"
    if as_of is not None:
        plan_id, _tz, moment = runs.plan_and_moment(engine, plan, as_of, moment)
    summary = runs.RunSummary("dispatch", plan_id, moment, dry_run)
    summary.dispatched = send_queued(settings, moment, dry_run, local, batch)
    _artifact(summary)
    return {"lines": summary.lines()}


def daily_flow(as_of: str | None, plan: str | None, dry_run: bool, local: bool = False, sync: bool = True,
               shard: str | None = None) -> dict:
    """The body of the daily flow: sync, then reminders and escalations (one message per person), then dispatch."""
    settings = load_settings()
    synced = ""
    if sync and not dry_run:
        synced = sync_task(settings, clock())
    engine = runs.open_store(settings)
    plan_id, _tz, moment = runs.plan_and_moment(engine, plan, as_of, clock())
    summary = runs.RunSummary("daily", plan_id, moment, dry_run, synced=synced, shard=shard or "")
    summary.written = queue_notices(settings, engine, plan_id, moment, runs.KINDS_BY_FLOW["daily"], dry_run, shard)
    summary.dispatched = send_queued(settings, moment, dry_run, local)
    _artifact(summary)
    return {"lines": summary.lines()}
