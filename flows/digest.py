"""The weekly overdue digest (Mondays 08:30): one email per leader, through the outbox, once per leader and week."""

from datetime import UTC, datetime

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from duban import runs
from duban.config import Settings, load_settings
from duban.digest import queue_digest


@task(name="queue-digest", cache_policy=NO_CACHE)
def queue_task(settings: Settings, plan_id: str, moment: datetime, now: datetime, dry_run: bool) -> str:
    """Build the digest and queue every leader's email in one batch."""
    engine = runs.open_store(settings, migrate=False)
    run = queue_digest(engine=engine, plan_id=plan_id, as_of=moment, now=now, dry_run=dry_run,
                       templates_dir=settings.templates_dir or None, base_url=settings.base_url)
    return run.summary()


@flow(name="digest", log_prints=True)
def digest(as_of: str | None = None, plan: str | None = None, dry_run: bool = False) -> str:
    """Queue the week's overdue digest at `as_of` (default: now); `dispatch` sends it."""
    settings = load_settings()
    engine = runs.open_store(settings)
    now = datetime.now(UTC)
    plan_id, _tz, moment = runs.plan_and_moment(engine, plan, as_of, now)
    summary = queue_task(settings, plan_id, moment, now, dry_run)
    print(summary)
    return summary


if __name__ == "__main__":
    digest()
