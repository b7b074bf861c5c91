"""The demo campaign: the shipped plan and made-up directory, replayed day by day through the flows to the local outbox.

Officials in the demo behave like real ones, decided by a hash of each occurrence's id: about seven in
ten report on the deadline day, some a few workdays late, some never; so the Maildir holds reminders,
a few escalations, and the top-level repeats of what was never done.
"""

from __future__ import annotations

import hashlib
import json
import mailbox
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert, select, update

from duban.config import Settings
from duban.models import EventRow, OccurrenceRow
from duban.store import utc

REPORT_AT = time(16, 0)


def fate(occurrence_id: str) -> str:
    """How the demo official handles this occurrence: on_time, late, or never."""
    bucket = int(hashlib.sha1(occurrence_id.encode()).hexdigest()[:8], 16) % 20
    return "on_time" if bucket < 14 else "late" if bucket < 17 else "never"


def report_moment(due: datetime, fate_: str, calendar, tz) -> datetime | None:  # noqa: ANN001 - WorkdayCalendar
    """When the demo official reports done."""
    due_day = due.astimezone(tz).date()
    if fate_ == "on_time":
        return datetime.combine(calendar.workday_before(due_day, 0), REPORT_AT, tzinfo=tz)
    if fate_ == "late":
        return datetime.combine(calendar.workday_after(due_day, 4), REPORT_AT, tzinfo=tz)
    return None


def report_due(*, engine: Engine, plan_id: str, as_of: datetime, calendar, tz) -> int:  # noqa: ANN001
    """Mark done what the demo officials have reported by `as_of`, each with its event. Returns how many."""
    occ = OccurrenceRow.__table__
    with engine.begin() as connection:
        rows = connection.execute(select(occ.c.id, occ.c.due, occ.c.owner_id, occ.c.state).where(
            occ.c.plan_id == plan_id, occ.c.state.in_(("open", "acked")), occ.c.archived.is_(False),
            occ.c.due <= utc(as_of + timedelta(days=40)))).all()
        done = []
        for row in rows:
            moment = report_moment(row.due, fate(row.id), calendar, tz)
            if moment is not None and moment <= as_of:
                done.append((row, moment))
        for row, moment in done:
            connection.execute(update(occ).where(occ.c.plan_id == plan_id, occ.c.id == row.id).values(
                state="reported", reported_at=utc(moment), report_count=1, updated_at=utc(moment)))
        if done:
            connection.execute(insert(EventRow.__table__), [
                {"plan_id": plan_id, "occurrence_id": row.id, "at": utc(moment), "actor": row.owner_id,
                 "source": "cli", "kind": "report", "before": row.state, "after": "reported",
                 "note": "演示：模拟报告办结", "data": json.dumps({"demo": True})} for row, moment in done])
    return len(done)


@dataclass
class OutboxFiles:
    """What the local channels hold after the demo."""

    maildir: Path
    sms: Path
    emails: int
    sms_lines: int
    first_subjects: list[str]


def outbox_files(settings: Settings) -> OutboxFiles:
    """Count the Maildir's messages and the SMS log's lines."""
    from duban.notify import outbox_dir

    folder = outbox_dir(settings)
    maildir, sms = folder / "maildir", folder / "sms.jsonl"
    subjects: list[str] = []
    emails = 0
    if maildir.exists():
        box = mailbox.Maildir(maildir, create=False)
        emails = len(box)
        for key in sorted(box.keys())[:3]:
            from email.header import decode_header, make_header

            subjects.append(str(make_header(decode_header(box[key]["Subject"] or ""))))
    lines = sum(1 for _ in sms.open(encoding="utf-8")) if sms.exists() else 0
    return OutboxFiles(maildir, sms, emails, lines, subjects)


def demo_days(start: date, until: date, calendar) -> list[date]:  # noqa: ANN001
    """The days the replay runs the daily flow: workdays (reminders and escalations fall only on workdays)."""
    return [day for day in calendar.workdays_in(start, until)]
