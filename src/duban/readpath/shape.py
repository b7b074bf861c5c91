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

KEYS = ("id", "task", "ref", "title", "owner", "owner_name", "unit", "period_start", "due", "reminders")


class Shaper:
    """Turns store rows into JSON text, CSV fields or dicts, each the same as `duban.views` + `duban.output`."""

    def __init__(self, reader: Reader, names: Names, tz: ZoneInfo) -> None:
        self.reader, self.names, self.tz = reader, names, tz
        self._dues: dict[Any, str] = {}
        self._reminders: dict[str, tuple[list[dict[str, Any]], str]] = {}
        self._tasks: dict[str, str] = {}
        self._owners: dict[tuple[str, str], str] = {}

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

    def as_json(self, row: tuple) -> str:
        """The row as one JSON object on one line (as `duban.output.as_json`: nested lists last)."""
        occ_id, task_id, owner_id, kind, unit_id, period_start, due, raw, *state = row
        task = self._tasks.get(task_id)
        if task is None:
            ref, title = self.names.tasks[task_id]
            task = self._tasks[task_id] = (
                f'"task": {encode_basestring(task_id)}, "ref": {encode_basestring(ref)}, '
                f'"title": {encode_basestring(title)}'
            )
        owner = self._owners.get((owner_id, kind))
        if owner is None:
            owner = self._owners[(owner_id, kind)] = (
                f'"owner": {encode_basestring(owner_id)}, '
                f'"owner_name": {encode_basestring(self.owner_name(owner_id, kind))}'
            )
        tail = f', "state": {encode_basestring(state[0])}' if state else ""
        return (
            f'{{"id": {encode_basestring(occ_id)}, {task}, {owner}, "unit": {encode_basestring(unit_id)}, '
            f'"period_start": "{self.reader.read_day(period_start)}", "due": "{self.due(due)}"{tail}, '
            f'"reminders": {self.reminders(raw)[1]}}}'
        )
