"""Where an occurrence stands at a moment. Pure.

One rule, two spellings: `status_at` (Python, one occurrence) and `status_column` (SQL, whole sets); a test
holds them to the same answers. A periodic occurrence still open when it is superseded (the deadline of the
`superseded_after`-th later period of its task, for the same owner, has passed, and its own deadline too) is
`missed` (未按期): it no longer escalates on its own and is counted apart from what is merely overdue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # SQLAlchemy stays off the light read path (duban.readpath imports this module)
    from sqlalchemy import ColumnElement

STATES = ("upcoming", "due_soon", "overdue", "missed", "done", "done_late", "waived")
STATE_LABELS = {
    "upcoming": "未到期",
    "due_soon": "临近",
    "overdue": "逾期",
    "missed": "未按期",
    "done": "按时办结",
    "done_late": "逾期办结",
    "waived": "免办",
}
DONE_STATES = ("reported", "verified")
OPEN_STATUSES = ("overdue", "missed")  # past the deadline and not reported


def status_at(
    *,
    state: str,
    due: datetime,
    first_reminder_at: datetime | None,
    reported_at: datetime | None,
    waived_at: datetime | None,
    as_of: datetime,
    superseded_at: datetime | None = None,
) -> str:
    """upcoming, due_soon, overdue, missed, done, done_late or waived, as seen at `as_of` (aware instants)."""
    if state == "waived" and waived_at is not None and waived_at <= as_of:
        return "waived"
    if state in DONE_STATES and reported_at is not None and reported_at <= as_of:
        return "done" if reported_at <= due else "done_late"
    if superseded_at is not None and as_of > superseded_at and as_of > due:  # (an extension may move `due` past it)
        return "missed"
    if as_of > due:
        return "overdue"
    if first_reminder_at is not None and as_of >= first_reminder_at:
        return "due_soon"
    return "upcoming"


def status_column(as_of: datetime, table: Any = None) -> ColumnElement[str]:
    """The same judgement as `status_at`, as SQL over the occurrence table (or an alias of it), for whole sets."""
    from sqlalchemy import and_, case, literal

    from duban.models import OccurrenceRow

    occ = (OccurrenceRow.__table__ if table is None else table).c
    moment = literal(as_of, OccurrenceRow.__table__.c.due.type)
    return case(
        (and_(occ.state == "waived", occ.waived_at <= moment), "waived"),
        (and_(occ.state.in_(DONE_STATES), occ.reported_at <= moment, occ.reported_at <= occ.due), "done"),
        (and_(occ.state.in_(DONE_STATES), occ.reported_at <= moment), "done_late"),
        (and_(occ.superseded_at < moment, occ.due < moment), "missed"),
        (occ.due < moment, "overdue"),
        (occ.first_reminder_at <= moment, "due_soon"),
        else_="upcoming",
    )


def superseded_moments(occurrences: Iterable[Any]) -> dict[str, datetime]:
    """When each periodic occurrence is superseded: the deadline of the `superseded_after`-th later period of the
    same task for the same owner (planned occurrences from `duban.schedule.expand`; one-off tasks never are)."""
    series: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for occ in occurrences:
        if occ.task.every and occ.task.policy.superseded_after > 0:
            series[(occ.task.id, occ.owner.id)].append(occ)
    result = {}
    for members in series.values():
        members.sort(key=lambda occ: occ.due)
        after = members[0].task.policy.superseded_after
        for index, occ in enumerate(members[:-after]):
            result[occ.id] = members[index + after].due
    return result
