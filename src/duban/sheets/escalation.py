"""How far an overdue occurrence has been escalated at a moment. Pure: the delivery engine may use it too."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from duban.catalog import BUILTIN_ROLES, EscalationLevel
from duban.schedule import escalation_moment
from duban.workdays import WorkdayCalendar

NUMERALS = "一二三四五六七八九十"


def levels_from_policy(policy_json: str | None) -> tuple[EscalationLevel, ...]:
    """The escalation levels stored in a task's policy JSON (`task.policy`), earliest first."""
    raw = json.loads(policy_json or "{}").get("escalate") or []
    levels = (EscalationLevel(int(level["after"]), tuple(level.get("to", ())), bool(level.get("ack_pauses", False)))
              for level in raw)
    return tuple(sorted(levels, key=lambda level: level.after))


def escalation_level(
    *,
    due: datetime,
    levels: Sequence[EscalationLevel],
    calendar: WorkdayCalendar,
    at: time,
    tz: ZoneInfo,
    as_of: datetime,
    acked: bool = False,
) -> int:
    """The highest level (1-based) fallen by `as_of` for an occurrence not done; 0 before the first.

    A level falls `after` workdays past the deadline's day, at `at` plan time (`schedule.escalation_moment`);
    a level with `ack_pauses` does not fall while the occurrence is signed for (`acked`).
    """
    due_day = due.astimezone(tz).date()
    reached = 0
    for number, level in enumerate(levels, start=1):
        if acked and level.ack_pauses:
            continue
        if escalation_moment(due_day, level.after, calendar, at, tz) <= as_of:
            reached = number
    return reached


class EscalationClock:
    """`escalation_level` for many occurrences: escalation moments cached per deadline day."""

    def __init__(self, calendar: WorkdayCalendar, at: time, tz: ZoneInfo) -> None:
        self.calendar, self.at, self.tz = calendar, at, tz
        self._moments: dict[tuple[date, int], datetime] = {}

    def moment(self, due_day: date, after: int) -> datetime:
        """When a level `after` workdays past `due_day` falls."""
        key = (due_day, after)
        if key not in self._moments:
            self._moments[key] = escalation_moment(due_day, after, self.calendar, self.at, self.tz)
        return self._moments[key]

    def level(self, *, due_day: date, levels: Sequence[EscalationLevel], as_of: datetime, acked: bool = False) -> int:
        """The highest level fallen by `as_of` (0 for none); same rule as `escalation_level`."""
        reached = 0
        for number, level in enumerate(levels, start=1):
            if not (acked and level.ack_pauses) and self.moment(due_day, level.after) <= as_of:
                reached = number
        return reached


def level_label(number: int, levels: Sequence[EscalationLevel], roles: Mapping[str, str] | None = None,
                unit_labels: Mapping[str, str] | None = None) -> str:
    """二级（主要负责同志） for level 2; '' for level 0."""
    if number <= 0 or number > len(levels):
        return ""
    roles = {**BUILTIN_ROLES, **(roles or {})}
    names = []
    for target in levels[number - 1].to:
        if target.startswith("unit:"):
            names.append((unit_labels or {}).get(target[5:], target[5:]))
        else:
            role = target.removeprefix("role:")
            names.append(roles.get(role, role))
    numeral = NUMERALS[number - 1] if number <= len(NUMERALS) else str(number)
    return f"{numeral}级（{'、'.join(names)}）" if names else f"{numeral}级"
