"""Send what is queued in the outbox, whoever queued it, in batches; failed sends wait and try again."""

from prefect import flow

from duban.flowtasks import dispatch_flow


@flow(name="dispatch", log_prints=True)
def dispatch(as_of: str | None = None, plan: str | None = None, dry_run: bool = False, local: bool = False,
             batch: int = 200) -> dict:
    """Send every due notification (`local`: to var/outbox/ whatever is configured)."""
    return dispatch_flow(as_of, plan, dry_run, local, batch)


if __name__ == "__main__":
    dispatch()
