"""The workday calendar: China's official calendar (with 调休) or a simple week, plus a plan's own days."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import date, timedelta

MODES = ("cn", "mon-fri", "all")
ONE_DAY = timedelta(days=1)


class CalendarCoverageError(ValueError):
    """The official calendar does not know some years the plan needs."""


def official_years() -> range:
    """Years China's official calendar (chinese_calendar) knows."""
    from chinese_calendar import constants

    return range(min(constants.holidays).year, max(constants.holidays).year + 1)


def _official_is_workday(day: date) -> bool:
    import chinese_calendar

    return chinese_calendar.is_workday(day)


class WorkdayCalendar:
    """Answers which days are workdays and counts workdays before and after a date."""

    def __init__(
        self,
        mode: str = "cn",
        holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown workday calendar '{mode}' (use one of {', '.join(MODES)})")
        self.mode = mode
        self.holidays = frozenset(holidays)
        self.extra_workdays = frozenset(extra_workdays)
        self._plan_years = {d.year for d in self.holidays | self.extra_workdays}
        self._official = official_years() if mode == "cn" else range(0)
        self._years: set[int] = set()
        self._workdays: list[date] = []

    def missing_years(self, start: date, end: date) -> list[int]:
        """Years in start..end that neither the official calendar nor the plan's own lists cover."""
        if self.mode != "cn":
            return []
        return [
            year
            for year in range(start.year, end.year + 1)
            if year not in self._official and year not in self._plan_years
        ]

    def require(self, start: date, end: date) -> None:
        """Refuse a date range the calendar cannot answer for, naming the years and the fix."""
        missing = self.missing_years(start, end)
        if missing:
            years = ", ".join(str(y) for y in missing)
            known = f"{self._official.start}-{self._official.stop - 1}"
            raise CalendarCoverageError(
                f"China's official workday calendar is not known for {years} (known: {known}); "
                f"list that year's official days off in plan.holidays and its make-up workdays "
                f"in plan.extra_workdays, or set plan.workdays to mon-fri"
            )

    def is_workday(self, day: date) -> bool:
        """True when the plan's people work on this day."""
        if day in self.holidays:
            return False
        if day in self.extra_workdays:
            return True
        if self.mode == "all":
            return True
        if self.mode == "cn" and day.year in self._official:
            return _official_is_workday(day)
        # Outside the official years the plan's own lists stand for the official calendar.
        return day.weekday() < 5

    def _load_year(self, year: int) -> None:
        if year in self._years:
            return
        day, days = date(year, 1, 1), []
        while day.year == year:
            if self.is_workday(day):
                days.append(day)
            day += ONE_DAY
        self._years.add(year)
        self._workdays = sorted(self._workdays + days)

    def _around(self, day: date) -> None:
        for year in (day.year - 1, day.year, day.year + 1):
            self._load_year(year)

    def workday_before(self, day: date, n: int) -> date:
        """The n-th workday before `day`; n = 0 is `day` itself or the last workday before it."""
        self._around(day)
        while True:
            pos = bisect.bisect_right(self._workdays, day)
            on_day = pos > 0 and self._workdays[pos - 1] == day
            index = pos - 1 if n == 0 else pos - n - on_day
            if index >= 0:
                return self._workdays[index]
            self._load_year(self._workdays[0].year - 1)

    def workday_after(self, day: date, n: int) -> date:
        """The n-th workday after `day`; n = 0 is `day` itself or the next workday after it."""
        self._around(day)
        while True:
            pos = bisect.bisect_left(self._workdays, day)
            on_day = pos < len(self._workdays) and self._workdays[pos] == day
            index = pos if n == 0 else pos + n - 1 + on_day
            if index < len(self._workdays):
                return self._workdays[index]
            self._load_year(self._workdays[-1].year + 1)

    def workdays_between(self, after: date, until: date) -> int:
        """How many workdays fall after `after` and on or before `until` (negative when reversed)."""
        if until < after:
            return -self.workdays_between(until, after)
        self._around(after)
        self._around(until)
        return bisect.bisect_right(self._workdays, until) - bisect.bisect_right(self._workdays, after)

    def workdays_in(self, start: date, end: date) -> list[date]:
        """Every workday from start to end, both included."""
        for year in range(start.year, end.year + 1):
            self._load_year(year)
        lo = bisect.bisect_left(self._workdays, start)
        hi = bisect.bisect_right(self._workdays, end)
        return self._workdays[lo:hi]
