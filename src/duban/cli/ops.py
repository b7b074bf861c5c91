"""Operations commands: doctor."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from duban.cli.common import Format, app, emit, engine, friendly, settings


@app.command()
@friendly
def doctor(
    format: Annotated[Format, typer.Option("--format", help="table, json or csv")] = Format.table,
    header: Annotated[str, typer.Option("--header", help="CSV headers: zh (for people) or en (ids, for programs)")]
    = "zh",
) -> None:
    """Check configuration, the store and its migrations, calendars, channels and the Prefect server."""
    from dataclasses import asdict

    from duban import output
    from duban.doctor import run_checks

    if format is Format.ics:
        raise ValueError("--format: 'ics' (use table, json or csv)")
    output.check_header(header)
    checks = run_checks(settings(), engine(), os.environ.get("PREFECT_API_URL"))
    if format is Format.json:
        emit(output.as_json([asdict(c) for c in checks]))
    elif format is Format.csv:
        rows = [{**asdict(c), "ok": ("正常" if c.ok else "有问题") if header == "zh" else c.ok} for c in checks]
        emit(output.as_csv(rows, [("ok", "结果"), ("name", "检查"), ("detail", "说明")], header))
    else:
        emit("\n".join(f"{'ok  ' if c.ok else 'FAIL'}  {c.name:<24} {c.detail}" for c in checks))
    if not all(c.ok for c in checks):
        raise typer.Exit(1)
