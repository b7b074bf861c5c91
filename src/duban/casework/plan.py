"""What creating an item needs from the store: the plan's catalog (calendar, defaults), its units and groups."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import asdict, dataclass
from datetime import date, datetime

from sqlalchemy import Connection, select

from duban.catalog import Catalog, parse_catalog
from duban.models import PlanRow, TaskRow
from duban.schedule import Period, calendar_for, deadline, reminder_moments
from duban.store import StoreError, utc
from duban.workdays import WorkdayCalendar


@dataclass(frozen=True)
class PlanSetup:
    """A plan as the store carries it, parsed once."""

    id: str
    catalog: Catalog
    calendar: WorkdayCalendar

    @property
    def policy_json(self) -> str:
        """The plan's default reminder and escalation policy, as `task.policy` stores it."""
        return json.dumps(asdict(self.catalog.defaults), ensure_ascii=False, sort_keys=True)


def load_setup(connection: Connection, plan_id: str) -> PlanSetup:
    """The plan's catalog from the store."""
    text = connection.execute(select(PlanRow.catalog_text).where(PlanRow.id == plan_id)).scalar()
    if text is None:
        raise StoreError(f"no plan '{plan_id}' in the store: run `duban sync` first")
    catalog = parse_catalog(text, f"<catalog of {plan_id}>")
    return PlanSetup(plan_id, catalog, calendar_for(catalog))


def _key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


def match_owner(setup: PlanSetup, text: str) -> str | None:
    """The owner expression a cell names: a unit by id, full name or short name; a group as `group:ID` or by
    name; None when nothing matches."""
    catalog, wanted = setup.catalog, _key(text)
    if not wanted:
        return None
    if wanted.startswith("group:"):
        return text.strip() if wanted[6:] in {_key(g) for g in catalog.groups} else None
    for unit in catalog.units.values():
        if wanted in (_key(unit.id), _key(unit.name), _key(unit.short) if unit.short else None):
            return unit.id
    for group in catalog.groups.values():
        if wanted in (_key(group.id), _key(group.name)):
            return f"group:{group.id}"
    return None


def owner_units(setup: PlanSetup, owner: str) -> list[str]:
    """The units an owner expression stands for."""
    if owner.startswith("group:"):
        group = setup.catalog.groups.get(owner[6:].strip())
        return list(group.members) if group else []
    return [owner]


def occurrence_values(setup: PlanSetup, *, task_id: str, unit_id: str, start: date, due_day: date,
                      times: int = 1) -> dict:
    """The occurrence row for a one-off item of a unit, handed out on `start`, due at the end of `due_day`."""
    plan = setup.catalog.plan
    tz = plan.tz
    period = Period(min(start, due_day), due_day)
    reminders = reminder_moments(period, setup.catalog.defaults.remind, setup.calendar, plan.remind_at, tz)
    return {
        "plan_id": setup.id, "id": f"{task_id}/{unit_id}/{period.start.isoformat()}", "task_id": task_id,
        "owner_id": unit_id, "owner_kind": "unit", "unit_id": unit_id, "period_start": period.start,
        "due": utc(deadline(due_day, tz)), "first_reminder_at": utc(reminders[0][1]) if reminders else None,
        "reminders": json.dumps([[stage, at.isoformat()] for stage, at in reminders]), "times": times,
        "state": "open", "report_count": 0, "archived": False,
    }


def moved_deadline(setup: PlanSetup, *, period_start: date, due_day: date) -> dict:
    """The columns that move an occurrence's deadline (and its reminders) to the end of `due_day`."""
    values = occurrence_values(setup, task_id="", unit_id="", start=period_start, due_day=due_day)
    return {k: values[k] for k in ("due", "first_reminder_at", "reminders")}


def next_number(connection: Connection, plan_id: str, prefix: str) -> int:
    """The next free number for task ids `PREFIX-NNNN`."""
    ids = connection.execute(select(TaskRow.id).where(TaskRow.plan_id == plan_id,
                                                      TaskRow.id.like(f"{prefix}-%"))).scalars()
    numbers = [int(i.rsplit("-", 1)[1]) for i in ids if i.rsplit("-", 1)[1].isdigit()]
    return max(numbers, default=0) + 1


def local_day(setup: PlanSetup, moment: datetime) -> date:
    """The plan-local date of a moment."""
    return moment.astimezone(setup.catalog.plan.tz).date()

