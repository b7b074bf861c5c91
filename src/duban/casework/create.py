"""Making an item outside the catalog: one task (origin assigned or problem) and one occurrence per unit,
each with an event that says who made it and from where, all in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert

from duban.actions import Actor
from duban.bulk import insert_rows
from duban.casework.plan import PlanSetup, local_day, next_number, occurrence_values, owner_units
from duban.models import EventRow, OccurrenceRow, TaskRow
from duban.store import utc

ORIGINS = {"assigned": ("assigned", "交办事项"), "problem": ("problem", "问题整改")}  # id prefix, sheet section
TITLE_MAX = 40


@dataclass(frozen=True)
class NewItem:
    """An item to make: its title, owner expression (unit id or group:G), deadline day and particulars."""

    title: str
    owner: str
    due: date
    ref: str = ""
    quote: str = ""
    evidence: str = ""
    note: str = ""
    source: str = ""
    data: tuple[tuple[str, Any], ...] = ()  # what the creating event records besides (file, row, ...)


def short_title(text: str) -> str:
    """A one-line title from a description: whitespace folded, at most TITLE_MAX characters."""
    line = " ".join(text.split())
    return line if len(line) <= TITLE_MAX else line[: TITLE_MAX - 1] + "…"


def create_items(connection: Connection, *, setup: PlanSetup, origin: str, items: Sequence[NewItem], actor: Actor,
                 now: datetime, source: str) -> list[str]:
    """Insert the items' tasks, occurrences and creating events; the new occurrence ids, in order."""
    prefix, section = ORIGINS[origin]
    number = next_number(connection, setup.id, prefix)
    start = local_day(setup, now)
    policy = setup.policy_json
    tasks: list[dict[str, Any]] = []
    occurrences: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        task_id = f"{prefix}-{number + index:04d}"
        tasks.append({
            "plan_id": setup.id, "id": task_id, "position": 100000 + number + index, "ref": item.ref,
            "section": section, "title": item.title, "quote": item.quote, "owner": item.owner, "co_owners": "",
            "schedule": json.dumps({"due": item.due.isoformat(), "from": start.isoformat()}), "times": 1,
            "evidence": item.evidence, "target": None, "policy": policy, "note": item.note, "origin": origin,
            "source": item.source, "assigned_by": actor.id, "archived": False,
        })
        for unit_id in owner_units(setup, item.owner):
            row = occurrence_values(setup, task_id=task_id, unit_id=unit_id, start=start, due_day=item.due)
            row["updated_at"] = utc(now)
            occurrences.append(row)
            events.append({
                "plan_id": setup.id, "occurrence_id": row["id"], "at": utc(now), "actor": actor.id,
                "source": source, "kind": "assign" if origin == "assigned" else "problem", "before": None,
                "after": "open", "note": item.note,
                "data": json.dumps({"origin": origin, "source": item.source, "by": actor.id,
                                    "due": item.due.isoformat(), **dict(item.data)}, ensure_ascii=False,
                                   sort_keys=True),
            })
    insert_rows(connection, TaskRow.__table__, tasks)
    insert_rows(connection, OccurrenceRow.__table__, occurrences)
    if events:
        connection.execute(insert(EventRow.__table__), events)
    return [row["id"] for row in occurrences]
