"""Expand tasks into occurrences: periods, deadlines, reminder and escalation moments. Pure."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from duban.catalog import Catalog, Task
from duban.workdays import WorkdayCalendar

END_OF_DAY = time(23, 59, 59)
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Period:
    """A span of days ending on a deadline day."""

    start: date
    end: date


@dataclass(frozen=True, slots=True)
class Owner:
    """Who an occurrence belongs to: a unit, or a person holding a role."""

    id: str
    kind: str  # "unit" or "person"
    unit_id: str
    name: str


@dataclass(frozen=True, slots=True)
class PlannedOccurrence:
    """One task, for one owner, in one period, with one deadline."""

    task: Task
    owner: Owner
    period: Period
    due: datetime
    reminders: tuple[tuple[int, datetime], ...]

    @property
    def id(self) -> str:
        """Stable id: task/owner/period start."""
        return f"{self.task.id}/{self.owner.id}/{self.period.start.isoformat()}"


def calendar_for(catalog: Catalog) -> WorkdayCalendar:
    """The plan's workday calendar."""
    plan = catalog.plan
    return WorkdayCalendar(plan.workdays, plan.holidays, plan.extra_workdays)


def _month_end(day: date) -> date:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - ONE_DAY


def _period_of(every: str, day: date) -> Period:
    if every == "weekly":
        start = day - timedelta(days=day.weekday())
        return Period(start, start + timedelta(days=6))
    if every == "semimonthly":
        if day.day <= 15:
            return Period(day.replace(day=1), day.replace(day=15))
        return Period(day.replace(day=16), _month_end(day))
    if every == "monthly":
        return Period(day.replace(day=1), _month_end(day))
    if every == "quarterly":
        first_month = (day.month - 1) // 3 * 3 + 1
        start = date(day.year, first_month, 1)
        return Period(start, _month_end(date(day.year, first_month + 2, 1)))
    if every == "yearly":
        return Period(date(day.year, 1, 1), date(day.year, 12, 31))
    raise ValueError(f"unknown frequency '{every}'")


def _rrule_periods(rule: str, start: date, end: date) -> Iterator[Period]:
    from dateutil.rrule import rrulestr

    recurrence = rrulestr(rule, dtstart=datetime.combine(start, time()))
    previous_end = start - ONE_DAY
    for moment in recurrence.between(datetime.combine(start, time()), datetime.combine(end, END_OF_DAY), inc=True):
        day = moment.date()
        if day > previous_end:
            yield Period(previous_end + ONE_DAY, day)
            previous_end = day


def periods(task: Task, calendar: WorkdayCalendar) -> list[Period]:
    """The task's periods, clipped to its window; each ends on its deadline day."""
    if task.due is not None:
        return [Period(task.start, task.due)]
    every = task.every or ""
    if every == "daily":
        return [Period(day, day) for day in calendar.workdays_in(task.start, task.end)]
    if every.startswith("rrule:"):
        return list(_rrule_periods(every[6:], task.start, task.end))
    result, day = [], task.start
    while day <= task.end:
        period = _period_of(every, day)
        result.append(Period(max(period.start, task.start), min(period.end, task.end)))
        day = period.end + ONE_DAY
    return result


def deadline(day: date, tz: ZoneInfo) -> datetime:
    """The end of a deadline day in the plan's timezone."""
    return datetime.combine(day, END_OF_DAY, tzinfo=tz)


def due_day(task: Task, period: Period, calendar: WorkdayCalendar) -> date:
    """The deadline's day: the period's last day, or `report_grace` workdays after it for a figure known later."""
    return calendar.workday_after(period.end, task.report_grace) if task.report_grace else period.end


def reminder_moments(
    period: Period, stages: Sequence[int], calendar: WorkdayCalendar, at: time, tz: ZoneInfo
) -> tuple[tuple[int, datetime], ...]:
    """(stage, moment) for each reminder stage, never before the period starts."""
    result = []
    for stage in stages:
        day = calendar.workday_before(period.end, stage)
        if day >= period.start:
            result.append((stage, datetime.combine(day, at, tzinfo=tz)))
    return tuple(result)


def escalation_moment(due_day: date, after: int, calendar: WorkdayCalendar, at: time, tz: ZoneInfo) -> datetime:
    """When an escalation level falls: `after` workdays after the deadline's day."""
    return datetime.combine(calendar.workday_after(due_day, after), at, tzinfo=tz)


class Fanout:
    """Turns owner expressions into owners, given units, groups and (optionally) people."""

    def __init__(self, catalog: Catalog, people: Sequence | None = None) -> None:
        self.catalog = catalog
        self.by_role: dict[str, list[Owner]] = {}
        for person in people or ():
            for role in person.roles:
                self.by_role.setdefault(role, []).append(Owner(person.id, "person", person.unit, person.name))

    def owners(self, expression: str) -> list[Owner]:
        """Owners an expression stands for; role owners need people."""
        if expression.startswith("role:"):
            return self.by_role.get(expression[5:], [])
        units = self.catalog.units
        return [
            Owner(unit_id, "unit", unit_id, units[unit_id].label) for unit_id in self.catalog.owner_units(expression)
        ]


def expand(
    catalog: Catalog, people: Sequence | None = None, calendar: WorkdayCalendar | None = None
) -> Iterator[PlannedOccurrence]:
    """Every occurrence of every task, in catalog order."""
    calendar = calendar or calendar_for(catalog)
    plan, fanout = catalog.plan, Fanout(catalog, people)
    tz = plan.tz
    for task in catalog.tasks:
        if not task.expands:  # its owners come from a list, or another task's report carries it
            continue
        owners = fanout.owners(task.owner)
        for period in periods(task, calendar):
            day = due_day(task, period, calendar)
            due = deadline(day, tz)
            reminders = reminder_moments(Period(period.start, day), task.policy.remind, calendar, plan.remind_at, tz)
            for owner in owners:
                yield PlannedOccurrence(task, owner, period, due, reminders)
