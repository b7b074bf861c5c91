"""Prefect tasks for the delivery flows in flows/: one task run per batch, never per notification.

The flow bodies live in `duban.runbodies`, free of Prefect; here each of their steps becomes a task run (with
retries where a retry is safe), and a run leaves a small Markdown artifact of what it did. A dry run calls the
same bodies with plain steps (`duban run <flow> --dry-run`), without starting Prefect.
"""

from __future__ import annotations

import re
from typing import Any

from prefect import Flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff
from prefect.utilities.annotations import quote

from duban import runbodies, runs
from duban.runbodies import Steps, clock

__all__ = ["PlainFlow", "clock", "daily_flow", "dispatch_flow", "notices_flow"]

sync_task = task(name="sync", cache_policy=NO_CACHE)(runbodies.sync_step)
decide_task = task(name="decide", cache_policy=NO_CACHE)(runbodies.decide_step)
write_task = task(name="queue-batch", cache_policy=NO_CACHE, retries=2,
                  retry_delay_seconds=exponential_backoff(2))(runbodies.write_step)
dispatch_task = task(name="send-batch", cache_policy=NO_CACHE, retries=2,
                     retry_delay_seconds=exponential_backoff(2))(runbodies.dispatch_step)


class PlainFlow(Flow):
    """A flow whose parameters, when they are all plain strings, numbers, booleans or None, go to Prefect's server as
    they are: Prefect encodes them with FastAPI's jsonable_encoder (the same values back for these), whose import costs
    0.15-0.25 s of CPU in every flow run's process."""

    def serialize_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        if all(value is None or isinstance(value, (str, int, float, bool)) for value in parameters.values()):
            return dict(parameters)
        return super().serialize_parameters(parameters)


def _artifact(summary: runs.RunSummary) -> None:
    runbodies.log_summary(summary)
    key = re.sub(r"[^a-z0-9-]+", "-", f"{summary.flow}-{summary.plan_id}".lower()).strip("-")
    # _sync: called from an async flow's thread (flows/dispatch.py), Prefect would hand back a coroutine instead
    create_markdown_artifact(markdown=summary.markdown(), key=key[:100],
                             description=f"duban {summary.flow} as of {summary.as_of.isoformat()}", _sync=True)


# quote(): Prefect need not walk the plan's directory or the messages to look for upstream results.
PREFECT = Steps(sync=sync_task, decide=decide_task, write=write_task, dispatch=dispatch_task, report=_artifact,
                opaque=quote)


def notices_flow(name: str, as_of: str | None, plan: str | None, dry_run: bool, shard: str | None = None) -> dict:
    """The body of the remind and escalate flows, its steps as task runs."""
    return runbodies.notices_flow(name, as_of, plan, dry_run, shard, steps=PREFECT)


def dispatch_flow(as_of: str | None, plan: str | None, dry_run: bool, local: bool = False, batch: int = 200) -> dict:
    """The body of the dispatch flow, its batches as task runs."""
    return runbodies.dispatch_flow(as_of, plan, dry_run, local, batch, steps=PREFECT)


def daily_flow(as_of: str | None, plan: str | None, dry_run: bool, local: bool = False, sync: bool = True,
               shard: str | None = None) -> dict:
    """The body of the daily flow, its steps as task runs."""
    return runbodies.daily_flow(as_of, plan, dry_run, local, sync, shard, steps=PREFECT)
