"""Status sheets, ledgers and progress pictures, rendered from the store at any moment.

`load_snapshot` reads where every occurrence stands at `as_of`; `build_sheet` arranges it; `write_status_sheet`
renders HTML (screen, phone, A4), XLSX (台账) and Markdown (chat). How far an overdue occurrence has been
escalated is `duban.policy.escalation_stage`, the same rule the delivery engine sends by.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

__all__ = ["status_sheet_name", "write_status_sheet"]


def status_sheet_name(plan_id: str, as_of: datetime, extension: str) -> str:
    """status-<plan>-<YYYY-MM-DD>.<ext>: one file per plan and day."""
    return f"status-{plan_id}-{as_of:%Y-%m-%d}.{extension}"


def write_status_sheet(
    *, engine: Engine, plan_id: str, as_of: datetime, out_dir: str | Path,
    formats: Sequence[str] = ("html", "xlsx", "md"), templates_dir: str | Path | None = None,
    horizon_days: int | None = None,
) -> list[Path]:
    """Render the status sheet at `as_of` into `out_dir`, one file per format; return the paths."""
    from duban.casework.counts import counts_at
    from duban.sheets.data import load_snapshot
    from duban.sheets.render import render, templates, write_text
    from duban.sheets.sheet import DEFAULT_HORIZON, build_sheet
    from duban.sheets.xlsx import write_ledger

    snapshot = load_snapshot(engine, plan_id, as_of)
    sheet = build_sheet(snapshot, DEFAULT_HORIZON if horizon_days is None else horizon_days)
    problems = counts_at(engine, plan_id, sheet.as_of)  # 问题整改 (issue 15)
    folder, env, paths = Path(out_dir), templates(templates_dir), []
    for fmt in formats:
        path = folder / status_sheet_name(plan_id, sheet.as_of, fmt)
        if fmt == "xlsx":
            paths.append(write_ledger(sheet, path))
        else:
            paths.append(write_text(path, render(env, f"sheets/status.{fmt}", sheet=sheet, problems=problems)))
    return paths
