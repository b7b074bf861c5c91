"""Rows as the reading commands show them, built as strings: the ORM path's dicts and bytes, made faster.

A row from the store is (id, task, owner, owner kind, unit, period start, due, reminders[, state]). What many rows
share (a task's clause and title, an owner's name, a deadline, a reminder list) is encoded once and reused."""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) uses for strings
from typing import Any
from zoneinfo import ZoneInfo

from duban.readpath.connect import Reader
from duban.readpath.query import Names
from duban.status import STATE_LABELS

KEYS = ("id", "task", "ref", "title", "owner", "owner_name", "unit", "period_start", "due", "reminders")


class Shaper:
    """Turns store rows into JSON text, CSV fields or dicts, each the same as `duban.views` + `duban.output`."""

    def __init__(self, reader: Reader, names: Names, tz: ZoneInfo) -> None:
        self.reader, self.names, self.tz = reader, names, tz
        self._dues: dict[Any, str] = {}
        self._reminders: dict[str, tuple[list[dict[str, Any]], str]] = {}
        self._json: dict[str, str] = {}  # reminder lists as JSON, by their stored text
        self._tasks: dict[str, str] = {}
        self._owners: dict[tuple[str, str], str] = {}
        self._minutes: dict[Any, str] = {}  # deadlines as people read them in CSV
        self._reminder_text: dict[str, str] = {}

    def keys(self, with_state: bool) -> list[str]:
        """The fields of a row, in the ORM path's order."""
        return [*KEYS, "state"] if with_state else list(KEYS)

    def due(self, value: Any) -> str:
        """A stored deadline in the plan's zone, ISO 8601."""
        text = self._dues.get(value)
        if text is None:
            text = self._dues[value] = self.reader.read_instant(value).astimezone(self.tz).isoformat()
        return text

    def reminders(self, raw: str) -> tuple[list[dict[str, Any]], str]:
        """A stored reminder list as objects and as JSON (one shared list per distinct value, as the ORM path)."""
        known = self._reminders.get(raw)
        if known is None:
            value = [{"stage": stage, "at": at} for stage, at in json.loads(raw)]
            known = self._reminders[raw] = (value, json.dumps(value, ensure_ascii=False))
            self._json[raw] = known[1]
        return known

    def owner_name(self, owner_id: str, kind: str) -> str:
        """A person's name or a unit's short name; the id itself when the store has neither."""
        return (self.names.people if kind == "person" else self.names.units).get(owner_id, owner_id)

    def as_dict(self, row: tuple) -> dict[str, Any]:
        """The row as `duban.views.store_rows` yields it."""
        occ_id, task_id, owner_id, kind, unit_id, period_start, due, raw, *state = row
        ref, title = self.names.tasks[task_id]
        result = {
            "id": occ_id,
            "task": task_id,
            "ref": ref,
            "title": title,
            "owner": owner_id,
            "owner_name": self.owner_name(owner_id, kind),
            "unit": unit_id,
            "period_start": self.reader.read_day(period_start),
            "due": self.due(due),
            "reminders": self.reminders(raw)[0],
        }
        if state:
            result["state"] = state[0]
        return result

    def as_csv(self, row: tuple) -> list[str]:
        """The row's CSV fields, nested values as JSON (as `duban.output.as_csv`)."""
        occ_id, task_id, owner_id, kind, unit_id, period_start, due, raw, *state = row
        ref, title = self.names.tasks[task_id]
        return [occ_id, task_id, ref, title, owner_id, self.owner_name(owner_id, kind), unit_id,
                self.reader.read_day(period_start), self.due(due), self.reminders(raw)[1], *state]

    def as_csv_zh(self, row: tuple) -> list[str]:
        """The row's cells for people (as `duban.output.csv_cells` with STATUS_CSV, or CALENDAR_CSV without a
        state): deadlines and reminders to the minute, each distinct value written once."""
        occ_id, task_id, owner_id, kind, _, _, due, raw, *state = row
        ref, title = self.names.tasks[task_id]
        minute = self._minutes.get(due)
        if minute is None:
            minute = self._minutes[due] = self.due(due)[:16].replace("T", " ")
        reminders = self._reminder_text.get(raw)
        if reminders is None:
            reminders = self._reminder_text[raw] = "；".join(
                item["at"][:16].replace("T", " ") for item in self.reminders(raw)[0])
        cells = [ref, title, self.owner_name(owner_id, kind), minute, reminders, occ_id]
        return [STATE_LABELS.get(state[0], state[0]), *cells] if state else cells

    def json_rows(self, batch: list[tuple]) -> list[str]:
        """Each row as one JSON object on one line (as `duban.output.as_json`: nested lists last)."""
        tasks, owners, dues, days, reminders = self._tasks, self._owners, self._dues, self.reader.days, self._json
        encode = encode_basestring
        lines = []
        for row in batch:
            occ_id, task_id, owner_id, kind, unit_id, start, due, raw = row[:8]
            state = f', "state": {encode(row[8])}' if len(row) > 8 else ""
            lines.append(
                f'{{"id": {encode(occ_id)}, {tasks.get(task_id) or self._task_json(task_id)}, '
                f"{owners.get((owner_id, kind)) or self._owner_json(owner_id, kind)}, "
                f'"unit": {encode(unit_id)}, "period_start": "{days.get(start) or self.reader.read_day(start)}", '
                f'"due": "{dues.get(due) or self.due(due)}"{state}, '
                f'"reminders": {reminders.get(raw) or self.reminders(raw)[1]}}}'
            )
        return lines

    def _task_json(self, task_id: str) -> str:
        ref, title = (encode_basestring(text) for text in self.names.tasks[task_id])
        text = f'"task": {encode_basestring(task_id)}, "ref": {ref}, "title": {title}'
        self._tasks[task_id] = text
        return text

    def _owner_json(self, owner_id: str, kind: str) -> str:
        name = self.owner_name(owner_id, kind)
        text = f'"owner": {encode_basestring(owner_id)}, "owner_name": {encode_basestring(name)}'
        self._owners[(owner_id, kind)] = text
        return text
