"""Reminders before each deadline: the current reminder stage of every open occurrence, into the outbox."""

from prefect import flow

from duban.flowtasks import notices_flow


@flow(name="remind", log_prints=True)
def remind(as_of: str | None = None, plan: str | None = None, dry_run: bool = False,
           shard: str | None = None) -> dict:
    """Queue the reminders due at `as_of` (default: now), one message per person and channel."""
    return notices_flow("remind", as_of, plan, dry_run, shard)


if __name__ == "__main__":
    remind()
