"""The geometry of the progress pictures; the templates draw it as inline SVG. Pure."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from duban.sheets.data import LIGHTS, URGENCY, Item
from duban.workdays import WorkdayCalendar

DONE = ("done", "done_late")


@dataclass(frozen=True, slots=True)
class Box:
    """Where a chart's plot area sits inside its SVG viewBox."""

    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int

    @property
    def inner_width(self) -> float:
        """Width of the plot area."""
        return self.width - self.left - self.right

    @property
    def inner_height(self) -> float:
        """Height of the plot area."""
        return self.height - self.top - self.bottom

    @property
    def base(self) -> float:
        """The y of the x axis."""
        return self.height - self.bottom


LARGE = Box(960, 190, 44, 12, 12, 26)
SMALL = Box(300, 96, 34, 8, 6, 18)
STRIP = Box(960, 120, 8, 18, 8, 22)


@dataclass(frozen=True, slots=True)
class ProgressChart:
    """Cumulative deadlines (due) and completions (done) day by day over the campaign."""

    box: Box
    due_points: str
    done_points: str
    today_x: float | None
    x_ticks: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    due_now: int
    done_now: int
    total: int

    @property
    def percent(self) -> int | None:
        """Done as a share of what is due by now, in whole percent."""
        return None if not self.due_now else round(100 * min(self.done_now, self.due_now) / self.due_now)


@dataclass(frozen=True, slots=True)
class StripDay:
    """A deadline day on the calendar strip: a bar as tall as its count, coloured by its most pressing item."""

    x: float
    y: float
    width: float
    light: str
    count: int
    title: str


@dataclass(frozen=True, slots=True)
class CalendarStrip:
    """The campaign as a strip of days: rest days shaded, deadlines as bars, today as a line."""

    box: Box
    bars: tuple[StripDay, ...]
    rest_days: tuple[tuple[float, float], ...]
    month_ticks: tuple[tuple[float, str], ...]
    today_x: float | None
    today_label: str


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _month_ticks(days: Sequence[date], x_of: Callable[[int], float]) -> tuple[tuple[float, str], ...]:
    return tuple((x_of(i), f"{d.month}月") for i, d in enumerate(days) if d.day == 1 or i == 0)


def _nice_max(value: int) -> int:
    if value <= 4:
        return max(value, 1)
    step = 10 ** int(math.log10(value))
    for factor in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if value <= factor * step:
            return int(factor * step)
    return value


def _step_points(values: Sequence[int], x_of: Callable[[int], float], y_of: Callable[[int], float]) -> str:
    """A step line: flat through each day, rising at the start of the day a count changes."""
    if not values:
        return ""
    points = [(x_of(0), y_of(values[0]))]
    for i in range(1, len(values)):
        if values[i] != values[i - 1]:
            points += [(x_of(i), y_of(values[i - 1])), (x_of(i), y_of(values[i]))]
    points.append((x_of(len(values)), y_of(values[-1])))
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def progress_chart(items: Iterable[Item], start: date, end: date, today: date, box: Box = LARGE) -> ProgressChart:
    """Cumulative due (the whole window, as planned) and done (up to today) for these items; waived ones left out."""
    due_on: Counter[date] = Counter()
    done_on: Counter[date] = Counter()
    for item in items:
        count_days(item, start, due_on, done_on)
    return progress_of_days(due_on, done_on, start, end, today, box)


def count_days(item: Item, start: date, due_on: Counter[date], done_on: Counter[date]) -> None:
    """Count one item into the per-day counts a progress chart is drawn from (waived ones left out)."""
    if item.status == "waived":
        return
    due_on[item.due_day] += 1
    if item.status in DONE and item.reported_at is not None:
        done_on[max(item.reported_at.date(), start)] += 1


def progress_of_days(due_on: Counter[date], done_on: Counter[date], start: date, end: date, today: date,
                     box: Box = LARGE) -> ProgressChart:
    """The progress chart of per-day counts (from `count_days`)."""
    days = _days(start, end)
    due, done, running_due, running_done = [], [], 0, 0
    for day in days:
        running_due += due_on[day]
        running_done += done_on[day]
        due.append(running_due)
        if day <= today:
            done.append(running_done)
    top = _nice_max(max(running_due, running_done, 1))
    step = box.inner_width / len(days)

    def x_of(i: int) -> float:
        return box.left + i * step

    def y_of(v: int) -> float:
        return box.base - v / top * box.inner_height

    today_index = (today - start).days
    today_x = x_of(today_index) + step / 2 if 0 <= today_index < len(days) else None
    due_now = due[min(today_index, len(due) - 1)] if today_index >= 0 else 0
    y_ticks = tuple((y_of(v), str(v)) for v in (0, top // 2, top) if v or top)
    return ProgressChart(box, _step_points(due, x_of, y_of), _step_points(done, x_of, y_of), today_x,
                         _month_ticks(days, x_of), y_ticks, due_now, done[-1] if done else 0, running_due)


def calendar_strip(items: Iterable[Item], start: date, end: date, today: date, calendar: WorkdayCalendar,
                   box: Box = STRIP) -> CalendarStrip:
    """Deadlines per day over the campaign, each bar coloured by its most pressing item."""
    counts: Counter[date] = Counter()
    worst: dict[date, int] = {}
    for item in items:
        count_deadline(item, counts, worst)
    return strip_of_days(counts, worst, start, end, today, calendar, box)


RANKS = {status: index for index, status in enumerate(URGENCY)}


def count_deadline(item: Item, counts: Counter[date], worst: dict[date, int]) -> None:
    """Count one item into the per-day deadlines and most pressing states a calendar strip is drawn from."""
    day = item.due_day
    counts[day] += 1
    rank = RANKS[item.status]
    if rank < worst.get(day, len(URGENCY)):
        worst[day] = rank


def strip_of_days(counts: Counter[date], worst: dict[date, int], start: date, end: date, today: date,
                  calendar: WorkdayCalendar, box: Box = STRIP) -> CalendarStrip:
    """The calendar strip of per-day counts (from `count_deadline`)."""
    days = _days(start, end)
    step = box.inner_width / len(days)
    tallest = max(counts.values(), default=1)

    def x_of(i: int) -> float:
        return box.left + i * step

    def height(count: int) -> float:
        # square root, so one deadline still shows beside days with hundreds
        return max(3.0, math.sqrt(count / tallest) * box.inner_height)

    bars, rest = [], []
    for i, day in enumerate(days):
        if not calendar.is_workday(day):
            rest.append((round(x_of(i), 1), round(step, 1)))
        if counts[day]:
            h, light = height(counts[day]), LIGHTS[URGENCY[worst[day]]]
            bars.append(StripDay(round(x_of(i) + step * 0.15, 1), round(box.base - h, 1), round(step * 0.7, 1),
                                 light, counts[day], f"{day.month}月{day.day}日截止 {counts[day]} 项"))
    today_index = (today - start).days
    today_x = x_of(today_index) + step / 2 if 0 <= today_index < len(days) else None
    return CalendarStrip(box, tuple(bars), tuple(rest), _month_ticks(days, x_of), today_x,
                         f"今天 {today.month}月{today.day}日")
