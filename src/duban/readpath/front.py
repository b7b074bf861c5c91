"""The front door of the read path: `duban status` and `duban calendar` (from the store) before typer loads.

Only a clean command line is served here: known options, each with a value. Anything else (--help, a catalog
path, an unknown option, a value the command refuses) goes to the full command, which answers as always."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

OPTIONS = {
    "status": ("--as-of", "--owner", "--state", "--plan", "--format", "--header"),
    "calendar": ("--from", "--to", "--owner", "--plan", "--format", "--header"),
}


def parse(argv: list[str]) -> tuple[str, dict[str, str]] | None:
    """(command, {option: value}) for a clean reading command line; None for anything else."""
    if not argv or argv[0] not in OPTIONS:
        return None
    command, known, values = argv[0], OPTIONS[argv[0]], {}
    rest = argv[1:]
    while rest:
        token = rest.pop(0)
        name, equals, value = token.partition("=")
        if name not in known:
            return None
        if not equals:
            if not rest or rest[0].startswith("-"):
                return None
            value = rest.pop(0)
        values[name] = value  # the last one wins, as on the full command line
    return command, values


def serve(argv: list[str]) -> bool:
    """Run a clean `status` / `calendar` command on the read path; False to hand it to the full command."""
    parsed = parse(argv)
    if parsed is None:
        return False
    from duban.config import load_settings
    from duban.readpath.command import read_calendar, read_status

    try:
        if os.environ.get("DUBAN_LOG_FORMAT") or os.environ.get("DUBAN_LOG_LEVEL"):
            from duban.logs import configure  # (logging costs start-up time; unset, there is nothing to set up)

            configure(os.environ.get("DUBAN_LOG_FORMAT"), os.environ.get("DUBAN_LOG_LEVEL"))
        url = load_settings().database_url
    except ValueError:
        return False  # the full command reports bad settings in one line
    command, values = parsed
    now = datetime.now(UTC)  # the clock, read at the edge
    sys.stdout.flush()
    out = sys.stdout.buffer
    if command == "status":
        return read_status(
            url,
            as_of=values.get("--as-of"),
            owner=values.get("--owner"),
            state=values.get("--state"),
            plan=values.get("--plan"),
            format=values.get("--format", "table"),
            now=now,
            out=out,
            err=sys.stderr,
            header=values.get("--header", "zh"),
        )
    return read_calendar(
        url,
        start=values.get("--from"),
        end=values.get("--to"),
        owner=values.get("--owner"),
        plan=values.get("--plan"),
        format=values.get("--format", "table"),
        now=now,
        out=out,
        header=values.get("--header", "zh"),
    )
