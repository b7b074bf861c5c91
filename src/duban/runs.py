"""What the delivery flows and commands share: opening the store, reading `as_of`, one run's steps, summaries.

Entry points (flows, CLI) read the clock and pass it in; everything here takes time as a parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from duban.config import Settings
from duban.links import secret_for
from duban.notices import Chunk, PlanContext, WriteReport, chunks, decide, load_context, write
from duban.outbox import LEASE, STEP_SECONDS, DispatchReport, dispatch
from duban.redact import redact_links
from duban.shards import Shard
from duban.sync import SyncReport

KINDS_BY_FLOW = {"remind": ("remind",), "escalate": ("escalate",), "daily": ("remind", "escalate")}


_ENGINES: dict[str, Engine] = {}
_MIGRATED: set[str] = set()


def open_store(settings: Settings, migrate: bool = True) -> Engine:
    """The store's engine (one per URL and process, as task runs of a flow share it), with the newest tables."""
    from duban import store

    url = settings.database_url
    if url not in _ENGINES:
        _ENGINES[url] = store.make_engine(url)
    engine = _ENGINES[url]
    if migrate and url not in _MIGRATED:
        store.migrate(engine)
        _MIGRATED.add(url)
    return engine


def plan_and_moment(
    engine: Engine, plan: str | None, as_of: str | None, now: datetime,
) -> tuple[str, ZoneInfo, datetime]:
    """The plan to act on and the moment to act at (`as_of` read in the plan's zone, else `now`)."""
    from duban.timeutil import MomentError, parse_moment
    from duban.views import pick_plan

    plan_id, tz = pick_plan(engine, plan)
    if as_of is None:
        return plan_id, tz, now
    try:
        return plan_id, tz, parse_moment(as_of, tz)
    except MomentError as error:
        raise MomentError(f"--as-of: {error}") from None


def context(engine: Engine, settings: Settings, plan_id: str, secret: str | None = None) -> PlanContext:
    """A plan's context for one run."""
    return load_context(engine=engine, plan_id=plan_id, settings=settings, secret=secret or secret_for(settings))


def plan_notices(engine: Engine, ctx: PlanContext, as_of: datetime, kinds: Sequence[str],
                 shard: Shard | None = None) -> list[Chunk]:
    """Decide this shard's share (its recipients only), and cut the messages into batches."""
    shard = shard or Shard()
    messages = decide(engine=engine, ctx=ctx, as_of=as_of, kinds=kinds, units=shard.units,
                      holds=shard.holds if shard.count > 1 else None)
    return chunks([m for m in messages if shard.holds(m.person_id)])


def notices(engine: Engine, ctx: PlanContext, as_of: datetime, kinds: Sequence[str], dry_run: bool = False,
            collect: bool = False, render: bool = True) -> WriteReport:
    """Decide and write every batch (no Prefect): for simulate, tests and benchmarks."""
    report = WriteReport()
    for chunk in plan_notices(engine, ctx, as_of, kinds):
        report.add(write(engine=engine, ctx=ctx, chunk=chunk, as_of=as_of, dry_run=dry_run, collect=collect,
                         render=render))
    return report


def send_step(engine: Engine, senders: dict, as_of: datetime, clock: Callable[[], datetime],
              batch: int = 200, lease: timedelta = LEASE) -> DispatchReport:
    """One step of the dispatch flow (its task run): batches per channel, the channels and each channel's connections
    in parallel threads, claimed for up to `STEP_SECONDS`; what is left waits for the next step (`more`). An empty
    report when nothing is due.

    A message claimed more than `lease` ago and still not sent (its sender died) is claimed again."""
    return dispatch(engine=engine, senders=senders, as_of=as_of, now=clock, batch=batch, lease=lease,
                    seconds=STEP_SECONDS)


def people_in_store(engine: Engine, plan_id: str) -> list:
    """The directory as the store has it (a sync without a contacts file keeps it)."""
    from duban.sync import stored_people

    with engine.connect() as connection:
        return stored_people(connection, plan_id)


def resync(engine: Engine, settings: Settings, now: datetime, catalog_path: str | None = None,
           contacts_path: str | None = None) -> SyncReport | None:
    """Sync the catalog file into the store, with the contacts file when one is configured, else keeping the
    store's directory; None when there is no catalog. Refused (SyncRefused) when it would archive too much."""
    from duban.catalog import load_catalog
    from duban.sync import limits_from, read_contacts, sync

    path = Path(catalog_path or settings.catalog)
    if not path.is_file():
        return None
    catalog = load_catalog(path)
    contacts = contacts_path or settings.contacts
    people = read_contacts(contacts, catalog) if contacts else None
    return sync(engine=engine, catalog=catalog, catalog_text=path.read_text(encoding="utf-8"), people=people,
                now=now, limits=limits_from(settings))


@dataclass
class RunSummary:
    """What a flow run did, for its artifact and for the command line."""

    flow: str
    plan_id: str
    as_of: datetime
    dry_run: bool = False
    synced: str = ""
    shard: str = ""
    written: WriteReport | None = None
    dispatched: DispatchReport | None = None

    def lines(self) -> list[str]:
        """Short lines for a terminal."""
        shard = f" shard {self.shard}" if self.shard else ""
        dry = " (dry run)" if self.dry_run else ""
        out = [f"{self.flow} {self.plan_id}{shard} as of {self.as_of.isoformat()}{dry}"]
        if self.synced:
            out.append(f"sync: {self.synced}")
        if self.written is not None:
            out.append(("would queue: " if self.dry_run else "queued: ") + self.written.summary())
        if self.dispatched is not None:
            if self.dry_run:
                due = ", ".join(f"{c} {n}" for c, n in sorted(self.dispatched.sent.items())) or "nothing"
                out.append(f"would send now: {due}")
            else:
                out.append("dispatch: " + self.dispatched.summary())
            out += [f"  error: {redact_links(e)}" for e in self.dispatched.errors[:5]]  # never a link or a token
        return out

    def markdown(self) -> str:
        """A small Markdown report: counts per stage and channel, failures."""
        md = [f"# {self.flow}: {self.plan_id}",
              f"as of `{self.as_of.isoformat()}`" + (" — dry run" if self.dry_run else "")]
        if self.synced:
            md.append(f"\n**sync**: {self.synced}")
        if self.written is not None:
            w = self.written
            md += ["\n## queued", "| stage | items |", "| --- | --- |"]
            md += [f"| {name} | {n} |" for (_, name), n in sorted(w.items.items())] or ["| — | 0 |"]
            md += ["", "| channel | notifications |", "| --- | --- |"]
            md += [f"| {c} | {n} |" for c, n in sorted(w.notifications.items())] or ["| — | 0 |"]
            if w.held:
                md.append(f"\n{w.held} SMS held for quiet hours or the daily cap.")
        if self.dispatched is not None:
            d = self.dispatched
            md += ["\n## dispatched", "| channel | sent | failed | given up |", "| --- | --- | --- | --- |"]
            channels = sorted(set(d.sent) | set(d.failed) | set(d.given_up))
            md += ([f"| {c} | {d.sent[c]} | {d.failed[c]} | {d.given_up[c]} |" for c in channels]
                   or ["| — | 0 | 0 | 0 |"])
            if d.errors:
                md += ["\n### failures", *[f"- {redact_links(e)}" for e in d.errors[:20]]]
        return "\n".join(md)
