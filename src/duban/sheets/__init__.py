"""Status sheets, ledgers and progress pictures, rendered from the store at any moment.

`load_snapshot` reads where every occurrence stands at `as_of`; `build_sheet` arranges it; `build_summary` puts
the first pages together (compared with the previous sheet's moment); `write_status_sheet` renders HTML (a summary
that prints on one or two A4 pages, and a detail page with the whole ledger), XLSX (台账) and Markdown (chat).
How far an overdue occurrence has been escalated is `duban.policy.escalation_stage`, the same rule the delivery
engine sends by.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

if TYPE_CHECKING:
    from duban.sheets.data import Source
    from duban.sheets.rows import RowSpool
    from duban.sheets.sheet import SheetGathering
    from duban.sheets.summary import SummaryGathering
    from duban.sheets.xlsx import Ledger

__all__ = ["status_sheet_name", "write_status_sheet"]

CHAT_LINES = 20  # lines per state the chat sheet (status.md) writes out; groups after them are only counted


def status_sheet_name(plan_id: str, as_of: datetime, extension: str, part: str = "") -> str:
    """status-<plan>-<YYYY-MM-DD>.<ext>: one file per plan and day (status-...-detail.html for the ledger page)."""
    return f"status-{plan_id}-{as_of:%Y-%m-%d}{'-' + part if part else ''}.{extension}"


def write_status_sheet(
    *, engine: Engine, plan_id: str, as_of: datetime, out_dir: str | Path,
    formats: Sequence[str] = ("html", "xlsx", "md"), templates_dir: str | Path | None = None,
    horizon_days: int | None = None, since: datetime | None = None,
) -> list[Path]:
    """Render the status sheet at `as_of` into `out_dir`, one file per format (two for HTML: the summary and the
    detail page); return the paths. The summary compares with `since` (default: the previous workday's morning).

    The items are read from the store rather than held, once, in the order shown: counted (tallies, pictures, units,
    the worst items through a bounded list) while the detail page's and the XLSX's rows are formatted ahead into
    temporary files, which are copied into place once the counts at the top are made. The chat lines' states and
    the problems (问题整改) are read on their own, in order. Memory does not grow with the items."""
    from duban.sheets.data import open_source, source_items
    from duban.sheets.ordered import shown_items
    from duban.sheets.rows import RowSpool
    from duban.sheets.sheet import DEFAULT_HORIZON, SheetGathering
    from duban.sheets.summary import SummaryGathering
    from duban.sheets.xlsx import Ledger

    source = open_source(engine, plan_id, as_of)
    horizon = DEFAULT_HORIZON if horizon_days is None else horizon_days
    gathering = SheetGathering(source.plan, source.units, source.tasks, source.as_of, horizon)
    summing = SummaryGathering(source.units)
    folder = Path(out_dir)
    spool = RowSpool() if "html" in formats else None
    ledger = Ledger(folder / status_sheet_name(plan_id, source.as_of, "xlsx")) if "xlsx" in formats else None
    try:
        if spool is None and ledger is None:
            for item in source_items(source):
                gathering.add(item)
                summing.add(item)
        else:  # every item in the order shown: counted, and the ledgers' rows formatted ahead as they come
            for item in shown_items(source, None):
                summing.add(item)
                if gathering.add(item):
                    if spool is not None:
                        spool.add(item.task.section, item)
                    if ledger is not None:
                        ledger.add(item)
        return _write(source, gathering, summing, spool, ledger, horizon, folder, formats, templates_dir, since)
    finally:
        if spool is not None:
            spool.close()
        if ledger is not None:
            ledger.close()


def _write(source: Source, gathering: SheetGathering, summing: SummaryGathering, spool: RowSpool | None,
           ledger: Ledger | None, horizon: int, folder: Path, formats: Sequence[str],
           templates_dir: str | Path | None, since: datetime | None) -> list[Path]:
    from duban.casework.counts import counts_at
    from duban.sheets.ordered import items_in_state, problem_items
    from duban.sheets.render import render, render_context, stream_text, templates, write_text
    from duban.sheets.rows import item_rows
    from duban.sheets.sheet import tally_groups
    from duban.sheets.summary import counts_then, previous_sheet_moment

    engine, plan_id = source.engine, source.plan.id
    problems = counts_at(engine, plan_id, source.as_of)  # 问题整改 (issue 15)
    moment = (since or previous_sheet_moment(source.plan, source.as_of)).astimezone(source.plan.tz)
    summary = summing.summary(source.plan, source.as_of, moment, counts_then(engine, plan_id, moment))
    sheet = gathering.sheet()  # (its sections' items are read by the ledgers below, not kept)
    sheet.pressing_groups = lambda status: tally_groups(items_in_state(source, horizon, status), CHAT_LINES)
    env, paths = templates(templates_dir), []
    names = {"summary_name": status_sheet_name(plan_id, sheet.as_of, "html"),
             "detail_name": status_sheet_name(plan_id, sheet.as_of, "html", "detail")}
    for fmt in formats:
        path = folder / status_sheet_name(plan_id, sheet.as_of, fmt)
        if fmt == "xlsx" and ledger is not None:
            paths.append(ledger.write(sheet, problem_items(source) if sheet.has_problems else ()))
            continue
        paths.append(write_text(path, render(env, f"sheets/status.{fmt}", sheet=sheet, summary=summary,
                                             problems=problems, **names)))
        if fmt == "html" and spool is not None:
            detail = env.get_template("sheets/status-detail.html")
            paths.append(stream_text(folder / names["detail_name"], detail.generate(
                sheet=gathering.sheet(spool.rows), problems=problems, item_rows=item_rows, **render_context(),
                **names)))
    return paths
