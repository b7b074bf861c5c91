"""Commands of delivery: run a flow, read the outbox, simulate a campaign, the demo, serve the schedules."""

from __future__ import annotations

import atexit
import gc
import inspect
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from duban.cli.common import app, emit, engine, friendly, now, settings

AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", help="moment to act at, e.g. 2020-10-29T09:00+08:00 (default: now)")]
PlanOpt = Annotated[str | None, typer.Option("--plan", help="plan id, when the store holds several")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="show what would be sent; write nothing")]


def flows_dir() -> Path:
    """flows/ of the working folder, else the one shipped beside the package."""
    from duban.config import ROOT

    here = Path("flows")
    return here if here.is_dir() else ROOT / "flows"


def _prefect_defaults() -> None:
    """No telemetry from the local Prefect server (offline it only logs errors), unless asked for."""
    import os
    import warnings

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # An unwritable PREFECT_HOME is said once, in the one line of `start_server` (not as a warning at import).
    warnings.filterwarnings("ignore", message="Failed to create the Prefect home directory", category=UserWarning)


def start_server(keep_at_least: int = 0) -> None:
    """A Prefect server for the flow runs of this command (PREFECT_API_URL's, else the machine's kept local one, else a
    temporary one): one line and one retry if it cannot start."""
    from duban.serving import use_prefect_server

    config = settings()
    use_prefect_server(config.var_path / "prefect-server.log", max(config.prefect_keep_seconds, keep_at_least))


def load_flow(name: str) -> Any:
    """The flow function `<name>` of flows/<name>.py, loaded by path."""
    _prefect_defaults()
    path = flows_dir() / f"{name}.py"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in flows_dir().glob("*.py") if not p.stem.startswith("_")))
        raise ValueError(f"no flow '{name}': {path} does not exist (flows: {known or 'none'})")
    from prefect.flows import load_flow_from_entrypoint

    return load_flow_from_entrypoint(f"{path}:{name.replace('-', '_')}")


def _check_as_of(as_of: str | None, plan: str | None) -> str | None:
    """Read --as-of before Prefect starts, so a typo costs nothing; pass it on in ISO form."""
    if as_of is None:
        return None
    from zoneinfo import ZoneInfo

    from duban.timeutil import MomentError, parse_moment

    tz = _plan_zone_light(plan)
    if tz is None:  # not one plan, or a store the light path cannot read: the ORM answers (or says why not)
        from duban.store import StoreError
        from duban.views import pick_plan

        try:
            _, tz = pick_plan(engine(), plan)
        except StoreError:
            tz = ZoneInfo("Asia/Shanghai")
    try:
        return parse_moment(as_of, tz).isoformat()
    except MomentError as error:
        raise MomentError(f"--as-of: {error}") from None


def _plan_zone_light(plan: str | None) -> Any:
    """The plan's zone read with the store's own driver (no ORM: `run dispatch` with nothing due stays quick);
    None when that is not one plan or the store cannot be read so."""
    from duban.readpath.connect import open_reader
    from duban.readpath.query import only_plan

    reader = open_reader(settings().database_url)
    if reader is None:
        return None
    try:
        found = only_plan(reader, plan)
    except reader.errors:  # no tables yet
        return None
    finally:
        reader.close()
    return None if found is None else found[1]


def _console_handlers_to_current_streams() -> None:
    """Prefect's console log handlers keep the stderr of the first call; point them at today's (embedding, tests)."""
    import logging
    import sys

    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler) and getattr(handler.stream, "closed", False):
                handler.stream = sys.stderr  # not setStream(): it flushes the closed one
                if hasattr(handler, "console"):  # Prefect's handler prints through a rich Console
                    handler.console.file = sys.stderr


def call_flow(name: str, **given: Any) -> Any:
    """Run a flow with the parameters it accepts."""
    flow = load_flow(name)
    start_server()
    _console_handlers_to_current_streams()
    accepted = inspect.signature(flow.fn).parameters
    result = flow(**{key: value for key, value in given.items() if key in accepted and value is not None})
    if inspect.iscoroutine(result):  # an async flow (flows/dispatch.py)
        import asyncio

        result = asyncio.run(result)
    # Python's last garbage collection at exit would walk every object Prefect and its models made (0.6 s of a
    # dispatch's run, measured). Frozen at exit, after Prefect's own exit handlers (the last logs and events sent to
    # its server), they are left to the process's end; a caller that goes on (tests, embedding) collects as before.
    atexit.register(gc.freeze)
    return result


def _print_result(result: Any) -> None:
    if isinstance(result, dict) and "lines" in result:
        for line in result["lines"]:
            emit(line)
    elif result is not None:
        emit(str(result))


@app.command()
@friendly
def run(
    name: Annotated[str, typer.Argument(help="remind, escalate, dispatch, daily, or any flows/<name>.py")],
    as_of: AsOfOpt = None,
    dry_run: DryRunOpt = False,
    plan: PlanOpt = None,
    shard: Annotated[str | None, typer.Option("--shard", help="this worker's share: i/N or group:<id>")] = None,
) -> None:
    """Run a flow now (loads flows/<name>.py by path)."""
    from duban import notify

    moment = _check_as_of(as_of, plan)
    notify.senders(settings())  # a bad channel setting fails here, with its name
    if shard and not shard.startswith("group:"):
        from duban.shards import parse_shard  # (imports SQLAlchemy: only when asked)

        parse_shard(shard)  # a bad i/N fails here, before Prefect starts
    if name == "dispatch" and not dry_run and _nothing_due(moment, plan):
        return
    if dry_run and (flows_dir() / f"{name}.py").is_file():
        from duban import runbodies

        if name in runbodies.PLAIN_FLOWS:  # the flow's own body with plain steps: no Prefect server to start
            _print_result(runbodies.dry_run(name, as_of=moment, plan=plan, shard=shard))
            return
    _print_result(call_flow(name, as_of=moment, plan=plan, dry_run=dry_run, shard=shard))


def _nothing_due(moment: str | None, plan: str | None) -> bool:
    """Dispatch with nothing due answers without starting Prefect (seconds of start-up for nothing): one query with
    the store's own driver, no ORM."""
    from datetime import datetime, timedelta

    from duban.sendcheck import anything_due

    config = settings()
    when = now() if moment is None else datetime.fromisoformat(moment)
    if anything_due(config.database_url, as_of=when, now=now(),
                    lease=timedelta(seconds=config.send_lease_seconds)) is not False:
        return False
    emit(f"dispatch {plan or 'all'} as of {when.isoformat()}")
    emit("dispatch: nothing due (Prefect not started)")
    return True


outbox_app = typer.Typer(help="The outbox: what was queued and sent, what failed and why; put failed rows back.",
                         add_completion=False, rich_markup_mode=None)
app.add_typer(outbox_app, name="outbox")


@outbox_app.callback(invoke_without_command=True)
@friendly
def outbox(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option(
        "--state", help="queued, sending, sent, failed or given_up (or 待发送, 已发送, ...)")] = None,
    person: Annotated[str | None, typer.Option("--person", help="only this person's messages: id or name")] = None,
    format: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    header: Annotated[str, typer.Option("--header", help="CSV headers: zh (for people) or en (ids, for programs)")]
    = "zh",
    limit: Annotated[int, typer.Option("--limit", help="at most this many rows, newest first")] = 200,
    plan: PlanOpt = None,
) -> None:
    """The outbox: what was queued and sent, what failed and why."""
    if ctx.invoked_subcommand is not None:
        return
    from duban import outboxview as view
    from duban import output
    from duban.owners import person_id
    from duban.store import require_tables

    if format not in ("table", "json", "csv"):
        raise ValueError(f"--format: '{format}' (use table, json or csv)")
    output.check_header(header)
    state = view.check_state(state)
    store = engine()
    require_tables(store)
    who = person_id(store, plan, person) if person else None
    rows = view.rows(store, state=state, plan_id=plan, person_id=who, limit=limit)
    if format == "json":
        emit(output.as_json([view.for_programs(r) for r in rows]))
    elif format == "csv" and header == "en":
        emit(output.as_csv([view.for_programs(r) for r in rows], header="en"))
    elif format == "csv":
        emit(output.as_csv([{**view.for_people(r), "subject": r["subject"], "last_error": r["last_error"]}
                            for r in rows], view.COLUMNS))
    else:
        emit(output.table([view.for_people(r) for r in rows], view.COLUMNS))
    typer.echo(view.summary(store, plan_id=plan, person_id=who), err=True)


@outbox_app.command("requeue")
@friendly
def requeue(
    state: Annotated[list[str] | None, typer.Option(
        "--state", metavar="STATE", help="given_up or failed (repeatable)")] = None,
    ids: Annotated[list[int] | None, typer.Option("--id", metavar="N", help="a notification id (repeatable)")] = None,
    person: Annotated[str | None, typer.Option("--person", help="only this person's rows: id or name")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="only this channel: email, sms, ...")] = None,
    plan: PlanOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Put failed or given-up notifications back in the queue, with a fresh retry budget (e.g. after fixing the
    mail server's settings); `duban run dispatch` then sends them."""
    from duban import outbox as box
    from duban.timeutil import MomentError, parse_moment

    store = engine(migrate=True)
    try:
        moment = now() if as_of is None else parse_moment(as_of, _plan_zone(store, plan))
    except MomentError as error:
        raise MomentError(f"--as-of: {error}") from None
    if person:
        from duban.owners import person_id

        person = person_id(store, plan, person)
    moved = box.requeue(engine=store, now=moment, states=state or None, ids=ids or None, person_id=person,
                        plan_id=plan, channel=channel)
    total = sum(moved.values())
    detail = ", ".join(f"{n} {s}" for s, n in sorted(moved.items()))
    emit(f"requeued {total} notification(s)" + (f" ({detail})" if detail else "") +
         ("; `duban run dispatch` sends them" if total else ": nothing matched"))


def _plan_zone(store: Any, plan: str | None) -> Any:
    from zoneinfo import ZoneInfo

    from duban.store import StoreError
    from duban.views import pick_plan

    try:
        return pick_plan(store, plan)[1]
    except StoreError:
        return ZoneInfo("Asia/Shanghai")


@app.command()
@friendly
def simulate(
    from_: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD")],
    to: Annotated[str, typer.Option("--to", help="last day, YYYY-MM-DD")],
    plan: PlanOpt = None,
    format: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    header: Annotated[str, typer.Option("--header", help="CSV headers: zh (for people) or en (ids, for programs)")]
    = "zh",
    render: Annotated[bool, typer.Option("--render", help="render every message through the templates (slower)")]
    = False,
) -> None:
    """Replay the campaign day by day on a copy of the store; print every notification each day would send."""
    from duban import output
    from duban.progress import bar
    from duban.simulate import COLUMNS, rows_of
    from duban.simulate import simulate as replay
    from duban.timeutil import parse_day
    from duban.views import pick_plan

    if format not in ("table", "json", "csv"):
        raise ValueError(f"--format: '{format}' (use table, json or csv)")
    output.check_header(header)
    start, end = parse_day(from_), parse_day(to)
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    store = engine(migrate=True)
    plan_id, _ = pick_plan(store, plan)
    everything, people, total = [], set(), 0
    with bar("模拟", (end - start).days + 1, echo=emit) as progress:
        for moment, report in replay(engine=store, settings=settings(), plan_id=plan_id, start=start, end=end,
                                     render=render):
            progress.reach((moment.date() - start).days + 1, f"模拟 {moment:%Y-%m-%d}")
            rows = rows_of(moment, report)
            people.update(row["person"] for row in rows)
            total += len(rows)
            if format != "table":
                everything += rows
            elif rows:
                progress.say(f"\n{moment:%Y-%m-%d %H:%M} — {report.summary()}")
                progress.say(output.table(rows, COLUMNS, limit_title=40))
    if format == "json":
        emit(output.as_json(everything))
    elif format == "csv":
        emit(output.as_csv(everything, COLUMNS, header))
    typer.echo(f"{start} 至 {end}：{people_and_messages(len(people), total)}（假设无人报告办结）", err=True)


def people_and_messages(people: int, messages: int) -> str:
    """`709人，1418条`: who is told apart from how often (one person gets an email and an SMS)."""
    return f"{people}人，{messages}条" if messages else "没有消息"


@app.command()
@friendly
def demo(
    until: Annotated[str, typer.Option("--until", help="replay the campaign up to this day")] = "2020-10-29",
    reset: Annotated[bool, typer.Option(
        "--reset", help="start over: delete the SQLite store and var/outbox first")] = False,
) -> None:
    """Sync the shipped plan and example directory, replay the campaign through the flows to var/outbox/."""
    import os

    from duban import demo as demo_mod
    from duban import outboxview as view
    from duban.catalog import load_catalog
    from duban.directory import load_people
    from duban.notify import outbox_dir
    from duban.progress import bar
    from duban.schedule import calendar_for
    from duban.sync import STEPS
    from duban.sync import sync as run_sync
    from duban.timeutil import parse_day

    config = settings()
    last = parse_day(until)
    catalog_path, contacts_path = Path(config.catalog), Path(config.contacts or "examples/contacts.csv")
    if reset:
        _reset(config)
    catalog = load_catalog(catalog_path)
    people = load_people(contacts_path, catalog)
    store = engine(migrate=True)
    with bar("同步", len(STEPS)) as progress:
        report = run_sync(engine=store, catalog=catalog, catalog_text=catalog_path.read_text(encoding="utf-8"),
                          people=people, now=now(), on_step=progress.step)
    emit(f"sync: {report.summary()}")
    plan = catalog.plan
    calendar, tz = calendar_for(catalog), plan.tz
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    runs = demo_mod.scheduled_runs(flows_dir().parent / "prefect.yaml", plan.start, min(last, plan.end), calendar, tz)
    flows = {name: load_flow(name) for name in sorted({run.flow for run in runs})}
    emit(f"replaying {demo_mod.describe(runs)} of prefect.yaml, {plan.start} to {last} "
         f"(starting Prefect's local server first: a few seconds)")
    start_server()
    _console_handlers_to_current_streams()
    before, seen = view.total(store, plan_id=plan.id), view.last_id(store)
    with bar("重放", len(runs), echo=emit) as progress:
        for done, run in enumerate(runs, 1):
            demo_mod.report_due(engine=store, plan_id=plan.id, as_of=run.at, calendar=calendar, tz=tz)
            extra = {"local": True, "sync": False} if run.flow == "daily" else {}
            result = flows[run.flow](as_of=run.at.isoformat(), plan=plan.id, **extra)
            batch = view.new_since(store, seen, plan_id=plan.id)  # (a digest's emails are its own, not the next day's)
            seen = batch.last_id
            line = demo_mod.run_line(run, result, batch.text())
            progress.reach(done, f"重放 {run.at:%Y-%m-%d} {run.flow}")
            if line:
                progress.say(line)
    files = demo_mod.outbox_files(config)
    if view.total(store, plan_id=plan.id) == before:
        emit(f"\n没有新的消息：{plan.start} 至 {last} 该发的提醒和催办，上次演示已经发出（发件箱共 {before} 条）；"
             f"要从头再来：duban demo --reset")
    emit(f"\ndone: {files.emails} email(s) in {files.maildir} (a Maildir: open it with mutt -f, or Python's mailbox)")
    emit(f"      {files.sms_lines} SMS in {files.sms} (one JSON object a line)")
    emit(f"      {view.by_channel(store, plan_id=plan.id)}")
    for subject in files.first_subjects:
        emit(f"      e.g. {subject}")
    emit(f"outbox folder: {outbox_dir(config)}; see `duban outbox`, `duban status --as-of {last}`")
    for line in demo_mod.finale(config, store, plan, demo_mod.demo_moment(last, plan.remind_at, tz)):
        emit(line)


def _reset(config: Any) -> None:
    from duban.notify import outbox_dir

    url = config.database_url
    if not url.startswith("sqlite:///") or url.startswith("sqlite:///:memory:"):
        raise ValueError("--reset only deletes a SQLite store; for another database, start over by hand")
    path = Path(url.removeprefix("sqlite:///"))
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        candidate.unlink(missing_ok=True)
    shutil.rmtree(outbox_dir(config), ignore_errors=True)


@app.command()
@friendly
def serve(
    file: Annotated[Path, typer.Option("--file", help="deployments to serve")] = Path("prefect.yaml"),
) -> None:
    """Serve the scheduled flows of prefect.yaml (Cron in the plan's timezone) until stopped."""
    from duban.serving import deployments, serve_all

    _prefect_defaults()
    built = deployments(file, store=engine())
    for name, schedule in built.described:
        emit(f"serving {name}: {schedule}")
    # A kept local server even when DUBAN_PREFECT_KEEP_SECONDS=0: it runs Prefect's scheduler, which the temporary
    # (ephemeral) one does not, so that one never starts a scheduled run. `serve` keeps it busy while it runs.
    start_server(keep_at_least=60)
    serve_all(built.deployments)
