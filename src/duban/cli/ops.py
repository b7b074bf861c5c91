"""Operations commands: doctor."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from duban.cli.common import Format, app, emit, engine, friendly, settings


@app.command()
@friendly
def doctor(format: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table) -> None:
    """Check configuration, the store and its migrations, calendars, channels and the Prefect server."""
    from dataclasses import asdict

    from duban import output
    from duban.doctor import run_checks

    checks = run_checks(settings(), engine(), os.environ.get("PREFECT_API_URL"))
    if format is Format.json:
        emit(output.as_json([asdict(c) for c in checks]))
    else:
        emit("\n".join(f"{'ok  ' if c.ok else 'FAIL'}  {c.name:<24} {c.detail}" for c in checks))
    if not all(c.ok for c in checks):
        raise typer.Exit(1)
