"""`status` and `calendar` from the store on the read path; False when the full command must answer instead."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime
from typing import Any, BinaryIO, TextIO

from duban.readpath.connect import Reader, open_reader
from duban.readpath.query import Names, occurrences_sql, only_plan, owner_known
from duban.readpath.shape import Shaper
from duban.readpath.write import write_csv, write_json, write_text
from duban.status import STATES
from duban.timeutil import parse_day, parse_moment

FORMATS = ("table", "json", "csv", "ics")
HEADERS = ("zh", "en")


def read_status(url: str, **options: Any) -> bool:
    """Each occurrence with its state at a moment (as `duban status`); False when this path cannot serve it.

    Options: as_of, owner, state, plan (text as typed), format, now, out (bytes), err (text), as `status_from`."""
    reader = open_reader(url)
    if reader is None:
        return False
    try:
        return status_from(reader, **options)
    finally:
        reader.close()


def status_from(
    reader: Reader,
    *,
    as_of: str | None,
    owner: str | None,
    state: str | None,
    plan: str | None,
    format: str,
    now: datetime,
    out: BinaryIO,
    err: TextIO,
    header: str = "zh",
) -> bool:
    """`read_status` on an open store."""
    if (state and state not in STATES) or format not in FORMATS or header not in HEADERS:
        return False  # the full command names the mistake
    chosen = _plan(reader, plan, owner)
    if chosen is None:
        return False
    plan_id, tz = chosen
    try:
        moment = parse_moment(as_of, tz) if as_of else now
    except ValueError:
        return False
    sql, params = occurrences_sql(reader, plan_id, tz, owner=owner, as_of=moment, state=state or None)
    rows = _write(reader, plan_id, tz, sql, params, format, now, out, with_state=True, one_owner=bool(owner),
                  header=header)
    if format == "table" and rows is not None:
        from duban.output import STATE_LABELS

        counts = Counter(row["state"] for row in rows)
        err.write("  ".join(f"{STATE_LABELS[s]} {counts[s]}" for s in STATES if counts[s]) + "\n")
    return True


def read_calendar(url: str, **options: Any) -> bool:
    """Every occurrence in the store with its deadline and reminders (as `duban calendar` without a catalog).

    Options: start, end (YYYY-MM-DD), owner, plan, format, now, out (bytes), as `calendar_from`."""
    reader = open_reader(url)
    if reader is None:
        return False
    try:
        return calendar_from(reader, **options)
    finally:
        reader.close()


def calendar_from(
    reader: Reader,
    *,
    start: str | None,
    end: str | None,
    owner: str | None,
    plan: str | None,
    format: str,
    now: datetime,
    out: BinaryIO,
    header: str = "zh",
) -> bool:
    """`read_calendar` on an open store."""
    if format not in FORMATS or header not in HEADERS:
        return False
    try:
        first, last = (parse_day(start) if start else None), (parse_day(end) if end else None)
    except ValueError:
        return False
    chosen = _plan(reader, plan, owner)
    if chosen is None:
        return False
    plan_id, tz = chosen
    sql, params = occurrences_sql(reader, plan_id, tz, start=first, end=last, owner=owner)
    _write(reader, plan_id, tz, sql, params, format, now, out, with_state=False, one_owner=bool(owner), header=header)
    return True


def _plan(reader: Reader, plan: str | None, owner: str | None) -> Any:
    """The one plan to read, or None when the store is empty, not synced, or holds several, or when the owner is
    no id of the plan (the full command says, or reads it as a name)."""
    try:
        chosen = only_plan(reader, plan)
        if chosen is not None and owner and not owner_known(reader, chosen[0], owner):
            return None
        return chosen
    except reader.errors:
        return None


def _write_csv(shaper: Shaper, batches: Any, with_state: bool, header: str, out: BinaryIO) -> None:
    from duban import output

    if header == "en":
        write_csv(batches, lambda row: output.safe_row(shaper.as_csv(row)), shaper.keys(with_state), out)
        return
    columns = output.STATUS_CSV if with_state else output.CALENDAR_CSV
    write_csv(batches, lambda row: output.safe_row(shaper.as_csv_zh(row)), [n for _, n in columns], out)


def _write(
    reader: Reader,
    plan_id: str,
    tz: Any,
    sql: str,
    params: dict[str, Any],
    format: str,
    now: datetime,
    out: BinaryIO,
    *,
    with_state: bool,
    one_owner: bool,
    header: str = "zh",
) -> list[dict[str, Any]] | None:
    """Write the rows in a format; the rows as dicts for the table and ICS (which need them all), else [];
    None when the reader of the output went away."""
    names = Names(reader, plan_id, few_people=one_owner)
    shaper = Shaper(reader, names, tz)
    batches = names.prefetching(reader.batches(sql, params))
    try:
        rows: list[dict[str, Any]] = []
        if format == "json":
            write_json(batches, shaper.json_rows, out)
        elif format == "csv":
            _write_csv(shaper, batches, with_state, header, out)
        else:
            from duban import output
            from duban.readpath.table import table

            rows = [shaper.as_dict(row) for batch in batches for row in batch]
            columns = output.STATUS_COLUMNS if with_state else output.CALENDAR_COLUMNS
            write_text(output.as_ics(rows, plan_id, now) if format == "ics" else table(rows, columns), out)
        out.flush()
        return rows
    except BrokenPipeError:
        sys.stderr.close()  # as `emit`: a reader that stopped early (`| head`) is no error
        return None
