"""Commands that render what leaders read: the status sheet and the monthly bulletin."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from duban.cli.common import app, emit, engine, friendly, now, settings

PlanOpt = Annotated[str | None, typer.Option("--plan", help="plan id, when the store holds several")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="folder to write into (default: var/sheets, var/bulletins)")]
TemplatesOpt = Annotated[Path | None, typer.Option(
    "--templates", help="a folder of own templates, used before the shipped ones (default: DUBAN_TEMPLATES_DIR)")]


def _store(plan: str | None) -> tuple[Any, str, ZoneInfo]:
    from duban.views import pick_plan

    store = engine()
    plan_id, tz = pick_plan(store, plan)
    return store, plan_id, tz


def _out(out: Path | None, kind: str) -> Path:
    return out or settings().var_path / kind


def _templates(folder: Path | None) -> str | None:
    return str(folder) if folder else settings().templates_dir or None


@app.command()
@friendly
def sheet(
    as_of: Annotated[str | None, typer.Option("--as-of", help="moment to judge at (default: now)")] = None,
    out: OutOpt = None,
    format: Annotated[str, typer.Option("--format", help="comma-separated: html, xlsx, md")] = "html,xlsx,md",
    horizon: Annotated[int, typer.Option("--horizon", help="also show what falls due within this many days")] = 7,
    plan: PlanOpt = None,
    templates: TemplatesOpt = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="compare with this moment (default: the previous workday's 07:30 sheet)")] = None,
) -> None:
    """Write the status sheet: a summary for one or two A4 pages (changes since the previous sheet), the detail
    page with every item due so far or soon, the XLSX ledger and Markdown for chat."""
    from duban.sheets import write_status_sheet
    from duban.sheets.render import FORMATS, parse_formats
    from duban.timeutil import parse_moment

    formats = parse_formats(format, FORMATS)
    if horizon < 0:
        raise ValueError("--horizon: give a number of days, 0 or more")
    store, plan_id, tz = _store(plan)
    moment = parse_moment(as_of, tz) if as_of else now()
    before = parse_moment(since, tz) if since else None
    if before is not None and before >= moment:
        raise ValueError(f"--since: {since} is not before the sheet's moment ({moment:%Y-%m-%d %H:%M})")
    from duban.progress import bar

    with bar("写督办表"):  # a spinner and the time taken, on a terminal only
        paths = write_status_sheet(engine=store, plan_id=plan_id, as_of=moment, out_dir=_out(out, "sheets"),
                                   formats=formats, templates_dir=_templates(templates), horizon_days=horizon,
                                   since=before)
    emit("\n".join(str(path) for path in paths))


@app.command()
@friendly
def bulletin(
    month: Annotated[str, typer.Option("--month", help="the month to report on, YYYY-MM", show_default=False)],
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="moment to judge at (default: the month's end, or now while it is not over)")] = None,
    out: OutOpt = None,
    format: Annotated[str, typer.Option("--format", help="comma-separated: html, xlsx")] = "html,xlsx",
    plan: PlanOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Write the monthly bulletin (月通报): per unit due, on time, late, open, on-time rate; units ranked."""
    from duban.bulletin import FORMATS, parse_month, write_bulletin
    from duban.sheets.render import parse_formats
    from duban.timeutil import parse_moment

    first = parse_month(month)
    formats = parse_formats(format, FORMATS)
    store, plan_id, tz = _store(plan)
    skipped = _outside_plan(store, plan_id, first)
    if skipped:  # a month the plan does not cover: one line, nothing written (as the scheduled run)
        emit(skipped)
        return
    # Without --as-of: the month's end (or now), or when the store's records end if earlier (the bulletin says so).
    moment = parse_moment(as_of, tz) if as_of else None
    paths = write_bulletin(engine=store, plan_id=plan_id, month=first, out_dir=_out(out, "bulletins"),
                           formats=formats, as_of=moment, now=now(), templates_dir=_templates(templates))
    emit("\n".join(str(path) for path in paths))


def _outside_plan(store, plan_id: str, first) -> str | None:  # noqa: ANN001 - an Engine, a date
    from duban.bulletin import outside_plan
    from duban.sheets.data import load_plan

    with store.connect() as connection:
        return outside_plan(load_plan(connection, plan_id), first)
