"""Where an occurrence stands at a moment. Pure."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, literal

STATES = ("upcoming", "due_soon", "overdue", "done", "done_late", "waived")
STATE_LABELS = {
    "upcoming": "未到期",
    "due_soon": "临近",
    "overdue": "逾期",
    "done": "按时办结",
    "done_late": "逾期办结",
    "waived": "免办",
}
DONE_STATES = ("reported", "verified")


def status_at(
    *,
    state: str,
    due: datetime,
    first_reminder_at: datetime | None,
    reported_at: datetime | None,
    waived_at: datetime | None,
    as_of: datetime,
) -> str:
    """upcoming, due_soon, overdue, done, done_late or waived, as seen at `as_of` (aware instants)."""
    if state == "waived" and waived_at is not None and waived_at <= as_of:
        return "waived"
    if state in DONE_STATES and reported_at is not None and reported_at <= as_of:
        return "done" if reported_at <= due else "done_late"
    if as_of > due:
        return "overdue"
    if first_reminder_at is not None and as_of >= first_reminder_at:
        return "due_soon"
    return "upcoming"


def status_column(as_of: datetime) -> ColumnElement[str]:
    """The same judgement as `status_at`, as SQL over the occurrence table, for whole sets at once."""
    from duban.models import OccurrenceRow

    occ = OccurrenceRow.__table__.c
    moment = literal(as_of, OccurrenceRow.__table__.c.due.type)
    return case(
        (and_(occ.state == "waived", occ.waived_at <= moment), "waived"),
        (and_(occ.state.in_(DONE_STATES), occ.reported_at <= moment, occ.reported_at <= occ.due), "done"),
        (and_(occ.state.in_(DONE_STATES), occ.reported_at <= moment), "done_late"),
        (occ.due < moment, "overdue"),
        (occ.first_reminder_at <= moment, "due_soon"),
        else_="upcoming",
    )
