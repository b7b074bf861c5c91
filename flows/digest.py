"""The weekly overdue digest (Mondays 08:30): one email per leader, through the outbox, once per leader and week."""

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from duban.runbodies import digest_flow, digest_step

queue_task = task(name="queue-digest", cache_policy=NO_CACHE)(digest_step)


@flow(name="digest", log_prints=True)
def digest(as_of: str | None = None, plan: str | None = None, dry_run: bool = False) -> str:
    """Queue the week's overdue digest at `as_of` (default: now); `dispatch` sends it."""
    summary = digest_flow(as_of, plan, dry_run, step=queue_task)["summary"]
    print(summary)
    return summary


if __name__ == "__main__":
    digest()
