"""Commands of the engine core: check, tasks, calendar, status, sync."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from duban.cli.common import Format, app, emit, engine, friendly, now, settings

PathArg = Annotated[Path | None, typer.Argument(help="catalog file (default: tasks_catalog.yaml)", show_default=False)]
ContactsOpt = Annotated[Path | None, typer.Option("--contacts", help="contacts directory, CSV or XLSX")]
PlanOpt = Annotated[str | None, typer.Option("--plan", help="plan id, when the store holds several")]
FormatOpt = Annotated[Format, typer.Option("--format", help="table, json, csv (Excel: UTF-8 with BOM) or ics")]
HeaderOpt = Annotated[str, typer.Option(
    "--header", help="CSV headers: zh (Chinese, for people) or en (the field ids, for programs)")]
OwnerOpt = Annotated[str | None, typer.Option("--owner", help="a unit or person: id or name")]


def _catalog_path(path: Path | None) -> Path:
    return path or Path(settings().catalog)


def _load(path: Path | None, contacts: Path | None):  # noqa: ANN202
    from duban.catalog import load_catalog
    from duban.directory import load_directory

    catalog = load_catalog(_catalog_path(path))
    contacts = contacts or (Path(settings().contacts) if settings().contacts else None)
    if not contacts:
        return catalog, None
    directory = load_directory(contacts, catalog)
    if directory.encoding not in ("", "UTF-8"):
        typer.echo(f"duban: {contacts}: read as {directory.encoding} (GBK), not UTF-8", err=True)
    return catalog, directory.people


@app.command()
@friendly
def check(path: PathArg = None, contacts: ContactsOpt = None) -> None:
    """Validate a catalog (and a contacts directory); print totals or one line per problem."""
    from duban.schedule import expand

    catalog, people = _load(path, contacts)
    occurrences = sum(1 for _ in expand(catalog, people))
    plan = catalog.plan
    line = (
        f"ok: {len(catalog.tasks)} tasks, {len(catalog.units)} units, {len(catalog.groups)} groups, "
        f"{occurrences} occurrences, {plan.start} to {plan.end}"
    )
    if people is not None:
        line += f", {len(people)} people"
    emit(line)


@app.command()
@friendly
def tasks(path: PathArg = None, format: FormatOpt = Format.table, header: HeaderOpt = "zh") -> None:
    """List the catalog's tasks."""
    from duban import output
    from duban.catalog import load_catalog
    from duban.views import task_rows

    output.check_header(header)
    rows = task_rows(load_catalog(_catalog_path(path)))
    emit(
        output.as_json(rows)
        if format is Format.json
        else output.as_csv(rows, output.TASK_COLUMNS, header)
        if format is Format.csv
        else output.table(rows, output.TASK_COLUMNS)
    )


@app.command()
@friendly
def calendar(
    path: Annotated[
        Path | None, typer.Argument(help="catalog file; without it, read the store", show_default=False)
    ] = None,
    contacts: ContactsOpt = None,
    from_: Annotated[str | None, typer.Option("--from", help="first deadline day, YYYY-MM-DD")] = None,
    to: Annotated[str | None, typer.Option("--to", help="last deadline day, YYYY-MM-DD")] = None,
    owner: OwnerOpt = None,
    plan: PlanOpt = None,
    format: FormatOpt = Format.table,
    header: HeaderOpt = "zh",
) -> None:
    """Every occurrence with its deadline and reminder moments."""
    from duban import output
    from duban.timeutil import parse_day

    output.check_header(header)
    start = parse_day(from_) if from_ else None
    end = parse_day(to) if to else None
    if path is not None:
        from duban.views import calendar_from_catalog

        catalog, people = _load(path, contacts)
        if owner:
            owner = _catalog_owner(catalog, people, owner)
        rows, plan_id = calendar_from_catalog(catalog, people, start, end, owner), catalog.plan.id
    else:
        from duban.readpath.command import read_calendar

        if read_calendar(settings().database_url, start=from_, end=to, owner=owner, plan=plan, format=format.value,
                         now=now(), out=_stdout(), header=header):
            return
        from duban.views import pick_plan, store_rows

        store = engine()
        plan_id, tz = pick_plan(store, plan)
        owner = _store_owner(store, plan_id, owner)
        rows = list(store_rows(store, plan_id, tz, start, end, owner))
    _emit_rows(rows, format, output.CALENDAR_COLUMNS, plan_id, header)


def _catalog_owner(catalog, people, text: str) -> str:  # noqa: ANN001 - a Catalog and its people
    """The unit or person of the catalog (and directory) that --owner names."""
    from duban.owners import Known, pick

    known = [Known(u.id, tuple(n for n in (u.name, u.short) if n), f"{u.short or u.name} ({u.id})")
             for u in catalog.units.values()]
    known += [Known(p.id, (p.name,), f"{p.name} ({p.id})") for p in people or []]
    return pick("--owner", text, known)


def _store_owner(store, plan_id: str, text: str | None) -> str | None:  # noqa: ANN001 - an Engine
    from duban.owners import owner_id

    return owner_id(store, plan_id, text) if text else None


def _stdout():  # noqa: ANN202 - a binary stream
    """Standard output for bytes, after what was already written as text."""
    import sys

    sys.stdout.flush()
    return sys.stdout.buffer


def _emit_rows(rows: list[dict], format: Format, columns: list, plan_id: str, header: str = "zh") -> None:
    from duban import output

    if format is Format.json:
        emit(output.as_json(rows))
    elif format is Format.csv:
        with_state = columns is output.STATUS_COLUMNS
        emit(output.as_csv(rows, output.STATUS_CSV if with_state else output.CALENDAR_CSV, header,
                           output.STATUS_KEYS if with_state else output.CALENDAR_KEYS))
    elif format is Format.ics:
        emit(output.as_ics(rows, plan_id, now()))
    else:
        emit(output.table(rows, columns))


@app.command()
@friendly
def status(
    as_of: Annotated[str | None, typer.Option("--as-of", help="moment to judge at (default: now)")] = None,
    owner: OwnerOpt = None,
    state: Annotated[str | None, typer.Option("--state", help="only this state, e.g. overdue")] = None,
    plan: PlanOpt = None,
    format: FormatOpt = Format.table,
    header: HeaderOpt = "zh",
) -> None:
    """Each occurrence with its state at a moment: upcoming, due_soon, overdue, missed, done, done_late, waived."""
    import sys

    from duban.readpath.command import read_status

    if read_status(settings().database_url, as_of=as_of, owner=owner, state=state, plan=plan, format=format.value,
                   now=now(), out=_stdout(), err=sys.stderr, header=header):
        return
    from duban import output
    from duban.status import STATES
    from duban.timeutil import parse_moment
    from duban.views import pick_plan, store_rows

    if state and state not in STATES:
        raise ValueError(f"--state: unknown state '{state}' (use {', '.join(STATES)})")
    output.check_header(header)
    store = engine()
    plan_id, tz = pick_plan(store, plan)
    moment = parse_moment(as_of, tz) if as_of else now()
    owner = _store_owner(store, plan_id, owner)
    rows = list(store_rows(store, plan_id, tz, None, None, owner, as_of=moment, state=state))
    _emit_rows(rows, format, output.STATUS_COLUMNS, plan_id, header)
    if format is Format.table:
        counts = Counter(r["state"] for r in rows)
        typer.echo("  ".join(f"{output.STATE_LABELS[s]} {counts[s]}" for s in STATES if counts[s]), err=True)


@app.command()
@friendly
def sync(
    path: PathArg = None,
    contacts: ContactsOpt = None,
    allow_archive: Annotated[bool, typer.Option(
        "--allow-archive", help="archive whatever the catalog and directory no longer name, past the limits")] = False,
    max_archive_people: Annotated[int | None, typer.Option(
        "--max-archive-people", help="refuse to archive more than this % of the people "
        "(default: DUBAN_ARCHIVE_MAX_PEOPLE_PCT, 20)", show_default=False)] = None,
    max_archive_reported: Annotated[int | None, typer.Option(
        "--max-archive-reported", help="refuse to archive more than this % of the items that carry reports "
        "(default: DUBAN_ARCHIVE_MAX_REPORTED_PCT, 5)", show_default=False)] = None,
) -> None:
    """Load the catalog and directory into the store and expand occurrences (idempotent).

    Without --contacts (or DUBAN_CONTACTS) the store's directory is kept."""
    from dataclasses import replace

    from duban.progress import bar
    from duban.sync import STEPS, limits_from, require_people
    from duban.sync import sync as run_sync

    catalog, people = _load(path, contacts)
    if people is not None:
        require_people(contacts or settings().contacts, people)
    limits = limits_from(settings(), allow_archive)
    if max_archive_people is not None:
        limits = replace(limits, people_pct=max_archive_people)
    if max_archive_reported is not None:
        limits = replace(limits, reported_pct=max_archive_reported)
    text = _catalog_path(path).read_text(encoding="utf-8")
    with bar("同步", len(STEPS)) as progress:
        report = run_sync(engine=engine(migrate=True), catalog=catalog, catalog_text=text, people=people, now=now(),
                          limits=limits, on_step=progress.step)
    if report.people_kept:
        typer.echo(f"duban: no --contacts given: kept the store's {report.people_kept} people", err=True)
    elif report.people_kept == 0 and any(t.owner.startswith("role:") for t in catalog.tasks):
        typer.echo("duban: no --contacts given and no people in the store: tasks owned by a role have no "
                   "occurrences", err=True)
    emit(report.summary())
