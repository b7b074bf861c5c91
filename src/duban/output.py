"""Formatters for the reading commands: aligned tables for people, JSON and CSV for programs, ICS for phones."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from duban.status import STATE_LABELS
from duban.xlsxsafe import FORMULA_START

CALENDAR_COLUMNS = [("ref", "条款"), ("title", "事项"), ("owner_name", "责任主体"), ("due", "截止"), ("id", "编号")]
STATUS_COLUMNS = [("state", "状态"), *CALENDAR_COLUMNS]
TASK_COLUMNS = [("id", "编号"), ("ref", "条款"), ("title", "事项"), ("owner_name", "责任主体"), ("schedule", "时限")]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell(key: str, value: Any) -> str:
    if key == "due" and isinstance(value, str):
        return value[:16].replace("T", " ")
    if key == "state":
        return STATE_LABELS.get(value, value)
    if key == "schedule" and isinstance(value, dict):
        return _schedule(value) + _schedule_note(value)
    return "" if value is None else str(value)


def _schedule_note(value: dict[str, Any]) -> str:
    if value.get("owners_from"):
        return "（责任单位见问题清单）"
    if value.get("reported_with"):
        return f"（随{value['reported_with']}报送）"
    return f"（期后{value['report_grace']}个工作日内报送）" if value.get("report_grace") else ""


def _schedule(value: dict[str, Any]) -> str:
    if "due" in value:
        return f"{value['due']}前"
    return {
        "daily": "每个工作日",
        "weekly": "每周",
        "semimonthly": "每半月",
        "monthly": "每月",
        "quarterly": "每季度",
        "yearly": "每年",
    }.get(value["every"], value["every"])


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], limit_title: int = 24) -> str:
    """An aligned plain-text table that lines up Chinese text."""
    cells = [[_cell(key, row.get(key)) for key, _ in columns] for row in rows]
    title_index = [key for key, _ in columns].index("title") if any(k == "title" for k, _ in columns) else -1
    for line in cells:
        if title_index >= 0 and len(line[title_index]) > limit_title:
            line[title_index] = line[title_index][: limit_title - 1] + "…"
    headers = [header for _, header in columns]
    widths = [max([_width(h)] + [_width(line[i]) for line in cells]) for i, h in enumerate(headers)]

    def render(values: list[str]) -> str:
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths, strict=False)).rstrip()

    return "\n".join([render(headers), render(["-" * w for w in widths])] + [render(line) for line in cells])


def as_json(rows: Sequence[dict[str, Any]]) -> str:
    """A JSON array, one object per line, Chinese kept readable."""
    if not rows:
        return "[]"
    shared: dict[int, str] = {}
    return "[\n" + ",\n".join(_encode_row(row, shared) for row in rows) + "\n]"


def _encode_row(row: dict[str, Any], shared: dict[int, str]) -> str:
    """One row as JSON; nested lists are encoded once per object (rows share their reminder lists)."""
    nested = [key for key, value in row.items() if isinstance(value, list)]
    if not nested:
        return json.dumps(row, ensure_ascii=False)
    text = json.dumps({k: v for k, v in row.items() if k not in nested}, ensure_ascii=False)[:-1]
    for key in nested:
        value = row[key]
        encoded = shared.get(id(value))
        if encoded is None:
            encoded = shared[id(value)] = json.dumps(value, ensure_ascii=False)
        text += f', "{key}": {encoded}'
    return text + "}"


BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only when it starts with this; without it, Chinese comes out garbled
CALENDAR_KEYS = ("id", "task", "ref", "title", "owner", "owner_name", "unit", "period_start", "due", "reminders")
STATUS_KEYS = (*CALENDAR_KEYS, "state")
# The CSV columns people get by default: the table's, the title whole, the reminder moments beside the deadline.
CALENDAR_CSV = [("ref", "条款"), ("title", "事项"), ("owner_name", "责任主体"), ("due", "截止"), ("reminders", "提醒"),
                ("id", "编号")]
STATUS_CSV = [("state", "状态"), *CALENDAR_CSV]
HEADERS = ("zh", "en")


_FORMULA_CELL = re.compile("\x00[" + re.escape("".join(FORMULA_START)) + "]")  # (a literal start: fast to find)


def check_header(header: str) -> str:
    """`--header` as given, or one line saying what it takes."""
    if header not in HEADERS:
        raise ValueError(f"--header: '{header}' (use zh for Chinese headers, en for the field ids)")
    return header


def formula_safe(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, kept text with a leading apostrophe (as duban.xlsxsafe)."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def _csv_cell(key: str, value: Any) -> str:
    """A cell for people: as the table shows it, nothing cut; reminder moments as local times."""
    if key == "reminders" and isinstance(value, list):
        return "；".join(_cell("due", item.get("at")) for item in value if isinstance(item, dict))
    return _cell(key, value)


def csv_cells(row: dict[str, Any], columns: Sequence[tuple[str, str]]) -> list[str]:
    """A row's cells under Chinese headers, safe to open in Excel."""
    return [formula_safe(_csv_cell(key, row.get(key))) for key, _ in columns]


def csv_fields(values: Sequence[Any]) -> list[Any]:
    """Field values for programs (nested values as JSON), safe to open in Excel."""
    return [formula_safe(json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v) for v in values]


def safe_row(fields: list[str]) -> list[str]:
    """Text fields, each kept text if it looks like a formula: one search per row, as rows that need it are rare."""
    try:
        joined = "\x00" + "\x00".join(fields)
    except TypeError:  # a missing value (None) among them
        return [formula_safe(field) for field in fields]
    return [formula_safe(field) for field in fields] if _FORMULA_CELL.search(joined) else fields


def as_csv(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str]] | None = None,
    header: str = "zh",
    keys: Sequence[str] | None = None,
) -> str:
    """CSV that Excel opens right: UTF-8 with a byte-order mark, no cell taken for a formula. `header` zh: the
    `columns` under their Chinese names, as people read them; en: every field under its id (`keys`, else the first
    row's), nested values as JSON, for programs."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    if header == "zh" and columns is not None:
        writer.writerow([name for _, name in columns])
        writer.writerows(csv_cells(row, columns) for row in rows)
        return buffer.getvalue()
    fields = list(keys) if keys is not None else list(rows[0]) if rows else []
    if fields:
        writer.writerow(fields)
    writer.writerows(csv_fields([row.get(key) for key in fields]) for row in rows)
    return buffer.getvalue()


def as_ics(rows: Sequence[dict[str, Any]], plan_id: str, stamp: datetime, name: str = "") -> str:
    """An iCalendar file: one all-day event per deadline, an alarm per reminder stage (duban.ics)."""
    from duban.ics import calendar

    return calendar(rows, plan_id, stamp, name)
