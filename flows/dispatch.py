"""Send what is queued in the outbox, whoever queued it, in batches; failed sends wait and try again."""

import asyncio

from duban.flowtasks import PlainFlow, dispatch_flow


async def _dispatch(as_of: str | None = None, plan: str | None = None, dry_run: bool = False, local: bool = False,
                    batch: int = 200) -> dict:
    """Send every due notification (`local`: to var/outbox/ whatever is configured)."""
    return await asyncio.to_thread(dispatch_flow, as_of, plan, dry_run, local, batch)


# Async, its body in a thread (with the flow run's context, so its task runs belong to it): Prefect joins a sync flow
# run's heartbeat thread at the end, which sleeps in steps of a second (0.5-0.9 s of a one-shot `duban run dispatch`,
# measured), and leaves an async one's to end by itself. PlainFlow: its parameters reach Prefect without FastAPI.
dispatch = PlainFlow(fn=_dispatch, name="dispatch", log_prints=True)


if __name__ == "__main__":
    asyncio.run(dispatch())
