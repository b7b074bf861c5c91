"""The daily run: sync the catalog, queue reminders and escalations (one message per person), send them."""

from prefect import flow

from duban.flowtasks import daily_flow


@flow(name="daily", log_prints=True)
def daily(as_of: str | None = None, plan: str | None = None, dry_run: bool = False, local: bool = False,
          sync: bool = True, shard: str | None = None) -> dict:
    """Everything officials must hear at `as_of` (default: now), queued and sent."""
    return daily_flow(as_of, plan, dry_run, local, sync, shard)


if __name__ == "__main__":
    daily()
