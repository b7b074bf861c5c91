"""Escalation after a deadline has passed: each overdue occurrence's current level, into the outbox."""

from prefect import flow

from duban.flowtasks import notices_flow


@flow(name="escalate", log_prints=True)
def escalate(as_of: str | None = None, plan: str | None = None, dry_run: bool = False,
             shard: str | None = None) -> dict:
    """Queue the escalations due at `as_of` (default: now), one message per person and channel."""
    return notices_flow("escalate", as_of, plan, dry_run, shard)


if __name__ == "__main__":
    escalate()
