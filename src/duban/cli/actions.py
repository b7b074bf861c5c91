"""Commands that close the loop: ack, done, undo, verify, waive, history, link, web, import-reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from duban.cli.common import app, emit, engine, friendly, now, settings

OccArg = Annotated[str, typer.Argument(help="occurrence id, as `duban calendar` prints it", show_default=False)]
ByOpt = Annotated[str, typer.Option("--by", help="who acts: person id, email or mobile number", show_default=False)]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="moment of the action (default: now)")]
PlanOpt = Annotated[str | None, typer.Option("--plan", help="plan id, when the store holds several")]
NoteOpt = Annotated[str, typer.Option("--note", help="a note for the record")]


class HistoryFormat(StrEnum):
    """Output formats of `duban history`."""

    table = "table"
    json = "json"
    csv = "csv"


def _store(plan: str | None, as_of: str | None, migrate: bool = True) -> tuple[Any, str, ZoneInfo, datetime]:
    """The store (brought up to the newest tables), the plan, its zone, and the moment to act at."""
    from duban.timeutil import parse_moment
    from duban.views import pick_plan

    store = engine(migrate=migrate)
    plan_id, tz = pick_plan(store, plan)
    return store, plan_id, tz, parse_moment(as_of, tz) if as_of else now()


def _act(kind: str, occurrence: str, by: str, plan: str | None, as_of: str | None, **kwargs: Any) -> None:
    from duban import actions

    store, plan_id, _, moment = _store(plan, as_of)
    with store.begin() as connection:
        actor = actions.find_actor(connection, plan_id=plan_id, who=by)
        outcome = actions.ACTIONS[kind](connection=connection, actor=actor, occurrence_id=occurrence, now=moment,
                                        source="cli", **kwargs)
    emit(f"{occurrence}: {outcome.message} (event {outcome.event_id})")


@app.command()
@friendly
def ack(occurrence: OccArg, by: ByOpt, note: NoteOpt = "", as_of: AsOfOpt = None, plan: PlanOpt = None) -> None:
    """Sign for an occurrence (签收) on behalf of a person of the owning unit."""
    _act("ack", occurrence, by, plan, as_of, note=note)


@app.command()
@friendly
def done(
    occurrence: OccArg,
    by: ByOpt,
    note: NoteOpt = "",
    value: Annotated[str | None, typer.Option("--value", help="the figure, for a task with a target")] = None,
    evidence: Annotated[list[Path] | None, typer.Option("--evidence", help="an evidence file (repeat: more)")] = None,
    as_of: AsOfOpt = None,
    plan: PlanOpt = None,
) -> None:
    """Report an occurrence done (办结), with a note, the figure and evidence files; --as-of decides on time or late."""
    from duban import evidence as files

    limit = settings().upload_max_mb * 1024 * 1024
    uploads = []
    for path in evidence or []:
        with path.open("rb") as handle:
            uploads.append(files.check(path.name, handle.read(limit + 1), max_bytes=limit))
    _act("report", occurrence, by, plan, as_of, note=note, value=value, files=uploads,
         store=files.store_for(settings()))


@app.command()
@friendly
def undo(occurrence: OccArg, by: ByOpt, note: NoteOpt = "", as_of: AsOfOpt = None, plan: PlanOpt = None) -> None:
    """Take back the last report of an occurrence, while it is not yet verified."""
    _act("undo", occurrence, by, plan, as_of, note=note)


@app.command()
@friendly
def verify(
    occurrence: OccArg,
    by: ByOpt,
    reject: Annotated[str | None, typer.Option("--reject", help="send the report back, with this reason")] = None,
    note: NoteOpt = "",
    as_of: AsOfOpt = None,
    plan: PlanOpt = None,
) -> None:
    """The office accepts a report (销号), or sends it back with --reject REASON."""
    if reject is not None:
        _act("reject", occurrence, by, plan, as_of, reason=reject, base_url=settings().base_url,
             quiet_hours=settings().quiet_hours)  # the SMS's short link, and no SMS at night
    else:
        _act("verify", occurrence, by, plan, as_of, note=note)


@app.command()
@friendly
def waive(
    occurrence: OccArg,
    by: ByOpt,
    reason: Annotated[str, typer.Option("--reason", help="why it need not be done", show_default=False)],
    as_of: AsOfOpt = None,
    plan: PlanOpt = None,
) -> None:
    """The office waives an occurrence (免办), with a reason."""
    _act("waive", occurrence, by, plan, as_of, reason=reason)


# An upload still being written after a day belongs to a server that died; `duban web` clears such files at start.
STALE_UPLOAD_SECONDS = 24 * 3600
HISTORY_COLUMNS = [("at", "时间"), ("actor_name", "人员"), ("kind_label", "动作"), ("change", "状态"),
                   ("source", "来源"), ("note", "说明")]
HISTORY_KEYS = ("id", "at", "actor", "actor_name", "source", "kind", "kind_label", "before", "after", "note", "data",
                "evidence")


@app.command()
@friendly
def history(
    occurrence: OccArg,
    plan: PlanOpt = None,
    format: Annotated[HistoryFormat, typer.Option("--format", help="table, json or csv")] = HistoryFormat.table,
    header: Annotated[str, typer.Option(
        "--header", help="CSV headers: zh (Chinese, for people) or en (the field ids, for programs)")] = "zh",
) -> None:
    """Every recorded action on an occurrence, oldest first."""
    from duban import actions, output

    output.check_header(header)
    store, plan_id, tz, _ = _store(plan, None)
    with store.connect() as connection:
        actions.load_item(connection, plan_id=plan_id, occurrence_id=occurrence)
        events = actions.history(connection, plan_id=plan_id, occurrence_id=occurrence)
    rows = [{**e, "at": e["at"].astimezone(tz).isoformat()} for e in events]
    if format is HistoryFormat.json:
        emit(output.as_json(rows))
        return
    if format is HistoryFormat.csv and header == "en":  # every field under its id, nested values as JSON
        emit(output.as_csv(rows, header="en", keys=HISTORY_KEYS))
        return
    for row in rows:
        row["at"] = row["at"][:16].replace("T", " ")
        row["change"] = f"{row['before'] or ''}→{row['after'] or ''}"
        extras = [f"{name}" for name in (f["name"] for f in row["evidence"])]
        if row["data"].get("value") is not None:
            extras.insert(0, f"数值 {row['data']['value']:g}")
        if row["kind"] == "report" and row["data"].get("late"):
            extras.insert(0, "逾期")
        if row["data"].get("replay"):
            extras.insert(0, "回放")  # made on pages served with `duban web --as-of`
        row["note"] = "；".join([row["note"], *extras] if row["note"] else extras)
    if format is HistoryFormat.csv:  # as the table reads, states and sources in Chinese, for Excel
        for row in rows:
            row["change"] = f"{_state_name(row['before'])}→{_state_name(row['after'])}"
            row["source"] = actions.SOURCE_NAMES.get(row["source"], row["source"])
        emit(output.as_csv(rows, HISTORY_COLUMNS))
        return
    emit(output.table(rows, HISTORY_COLUMNS) if rows else f"{occurrence}: no recorded actions yet")


def _state_name(state: str | None) -> str:
    from duban.actions import STATE_NAMES

    return STATE_NAMES.get(state or "", state or "")


@app.command()
@friendly
def link(
    person: Annotated[str, typer.Argument(help="person id, email or mobile number", show_default=False)],
    item: Annotated[str | None, typer.Option("--item", help="land on this occurrence's page")] = None,
    days: Annotated[int, typer.Option("--days", help="how many days the link stays valid", min=1, max=400)] = 14,
    as_of: AsOfOpt = None,
    plan: PlanOpt = None,
) -> None:
    """Print a person's sign-in link for the web pages (the office sends it when a reminder's link is lost);
    says on stderr which base URL it used and why."""
    import os

    from duban import actions, baseurl, links

    store, plan_id, _, moment = _store(plan, as_of)
    with store.connect() as connection:
        actor = actions.find_actor(connection, plan_id=plan_id, who=person)
        if item:
            actions.load_item(connection, plan_id=plan_id, occurrence_id=item)
    config = settings()
    typer.echo(f"duban: base {config.base_url} ({baseurl.source(os.environ, config)})", err=True)
    emit(links.login_url(settings=config, person_id=actor.id, plan_id=plan_id, now=moment,
                         valid_for=timedelta(days=days), next_path=links.item_path(item) if item else ""))


@app.command()
@friendly
def web(
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port to listen on")] = 8000,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", envvar="DUBAN_AS_OF", help="replay: the pages' clock starts at this moment (the demo's)")] = None,
    plan: PlanOpt = None,
) -> None:
    """Serve the web pages: my items, sign for, report done with evidence, the office's queue, the overview."""
    import os
    import time
    from dataclasses import replace

    from duban import baseurl, evidence
    from duban.links import require_strong_secret
    from duban.replay import ReplayClock
    from duban.web import serve

    config = settings()
    require_strong_secret(config)  # a short DUBAN_SECRET: one line, before anything starts
    clock = None
    if as_of:
        _, _, _, start = _store(plan, as_of)
        clock = ReplayClock(start, now)
        typer.echo(f"duban: replaying from {start.isoformat()} (the pages' clock runs on from there)", err=True)
    else:
        engine(migrate=True)
    served, previous = baseurl.served_at(host, port), baseurl.recorded(config.var_dir)
    baseurl.record(config.var_dir, served)  # links made elsewhere follow this server while DUBAN_BASE_URL is unset
    if "DUBAN_BASE_URL" not in os.environ and config.base_url in (baseurl.DEFAULT, previous, served):
        config = replace(config, base_url=served)
    typer.echo(f"duban: links point at {config.base_url} ({baseurl.source(os.environ, config)})", err=True)
    swept = evidence.store_for(config).sweep_staging(modified_before=time.time() - STALE_UPLOAD_SECONDS)
    if swept:
        typer.echo(f"duban: removed {swept} unfinished upload file(s) left by an earlier server", err=True)
    serve(config, host=host, port=port, now=clock, replay=clock is not None)


@app.command("import-reports")
@friendly
def import_reports(
    file: Annotated[Path | None, typer.Argument(help="the ledger (台账), .xlsx", show_default=False)] = None,
    template: Annotated[Path | None, typer.Option("--template", help="write a ledger template here instead")] = None,
    as_of: AsOfOpt = None,
    plan: PlanOpt = None,
) -> None:
    """Import reports filled in an Excel ledger: all rows or none; bad rows are named FILE:ROW."""
    from duban import evidence, ledger

    if template is not None:
        _write_template(template, plan, as_of)
        return
    if file is None:
        raise ValueError("name the ledger to import (FILE.xlsx), or write a template with --template out.xlsx")
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no such file")
    store, plan_id, tz, moment = _store(plan, as_of)
    from duban.progress import bar

    try:
        with bar("导入台账"):  # a spinner and the time taken, on a terminal only
            result = ledger.import_reports(engine=store, path=file, plan_id=plan_id, tz=tz, now=moment,
                                           store=evidence.store_for(settings()),
                                           max_bytes=settings().upload_max_mb * 1024 * 1024)
    except ledger.LedgerError as error:
        for problem in error.problems:
            typer.echo(problem, err=True)
        typer.echo(f"duban: nothing imported ({len(error.problems)} bad row(s))", err=True)
        raise typer.Exit(1) from None
    emit(f"{file}: {result.summary()}")


def _write_template(out: Path, plan: str | None, as_of: str | None) -> None:
    from duban import ledger
    from duban.store import StoreError

    try:
        store, plan_id, tz, moment = _store(plan, as_of, migrate=False)
    except StoreError:
        store, plan_id, tz, moment = None, None, None, now()
    count = ledger.write_template(out=out, engine=store, plan_id=plan_id, tz=tz, now=moment)
    emit(f"{out}: ledger template written ({count} pending occurrence(s) due within 14 days listed)")
