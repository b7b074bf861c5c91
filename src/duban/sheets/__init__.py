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

from sqlalchemy import Engine

__all__ = ["status_sheet_name", "write_status_sheet"]


def status_sheet_name(plan_id: str, as_of: datetime, extension: str, part: str = "") -> str:
    """status-<plan>-<YYYY-MM-DD>.<ext>: one file per plan and day (status-...-detail.html for the ledger page)."""
    return f"status-{plan_id}-{as_of:%Y-%m-%d}{'-' + part if part else ''}.{extension}"


def write_status_sheet(
    *, engine: Engine, plan_id: str, as_of: datetime, out_dir: str | Path,
    formats: Sequence[str] = ("html", "xlsx", "md"), templates_dir: str | Path | None = None,
    horizon_days: int | None = None, since: datetime | None = None,
) -> list[Path]:
    """Render the status sheet at `as_of` into `out_dir`, one file per format (two for HTML: the summary and the
    detail page); return the paths. The summary compares with `since` (default: the previous workday's morning)."""
    from duban.casework.counts import counts_at
    from duban.sheets.data import load_snapshot
    from duban.sheets.render import render, render_context, stream_text, templates, write_text
    from duban.sheets.rows import item_rows
    from duban.sheets.sheet import DEFAULT_HORIZON, build_sheet
    from duban.sheets.summary import build_summary, counts_then, previous_sheet_moment
    from duban.sheets.xlsx import write_ledger

    snapshot = load_snapshot(engine, plan_id, as_of)
    sheet = build_sheet(snapshot, DEFAULT_HORIZON if horizon_days is None else horizon_days)
    problems = counts_at(engine, plan_id, sheet.as_of)  # 问题整改 (issue 15)
    moment = (since or previous_sheet_moment(snapshot.plan, snapshot.as_of)).astimezone(snapshot.plan.tz)
    summary = build_summary(snapshot, moment, counts_then(engine, plan_id, moment))
    folder, env, paths = Path(out_dir), templates(templates_dir), []
    names = {"summary_name": status_sheet_name(plan_id, sheet.as_of, "html"),
             "detail_name": status_sheet_name(plan_id, sheet.as_of, "html", "detail")}
    for fmt in formats:
        path = folder / status_sheet_name(plan_id, sheet.as_of, fmt)
        if fmt == "xlsx":
            paths.append(write_ledger(sheet, path, snapshot))
            continue
        paths.append(write_text(path, render(env, f"sheets/status.{fmt}", sheet=sheet, summary=summary,
                                             problems=problems, **names)))
        if fmt == "html":
            detail = env.get_template("sheets/status-detail.html")
            paths.append(stream_text(folder / names["detail_name"], detail.generate(
                sheet=sheet, problems=problems, item_rows=item_rows, **render_context(), **names)))
    return paths
