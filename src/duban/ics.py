"""iCalendar (RFC 5545) that Google Calendar, Outlook and phone calendars show: one all-day VEVENT on each
deadline's date, a VALARM per reminder stage, a Chinese calendar name, UIDs that never change.

Events, not to-dos: Google Calendar and most phone calendars ignore VTODO. Alarms are relative to the event's
start (TRIGGER:-P2DT15H), the form every client reads; all-day dates need no VTIMEZONE.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

FINISHED = ("done", "done_late", "waived")
REFRESH = "PT1H"  # how often subscribed clients should fetch the feed again


def text(value: str) -> str:
    """A TEXT value escaped (backslash, semicolon, comma, newline)."""
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r", "").replace("\n", "\\n")


def utc_stamp(moment: datetime) -> str:
    """A UTC DATE-TIME: 20200915T155959Z."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def duration(delta: timedelta) -> str:
    """An RFC 5545 DURATION: -P2DT15H, PT9H, P0D."""
    sign = "-" if delta < timedelta(0) else ""
    seconds = int(abs(delta).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    return f"{sign}P{f'{days}D' if days or not clock else ''}{'T' + clock if clock else ''}"


def fold(line: str) -> list[str]:
    """RFC 5545 lines are at most 75 octets; continuation lines start with a space (never inside a character)."""
    out, current = [], ""
    for ch in line:
        if len((current + ch).encode()) > (75 if not out else 74):
            out.append(current)
            current = ch
        else:
            current += ch
    out.append(current)
    return [out[0]] + [" " + part for part in out[1:]]


def _event(row: dict[str, Any], plan_id: str, dtstamp: str) -> list[str]:
    due = datetime.fromisoformat(row["due"])
    day: date = due.date()  # the deadline's date in the plan's zone (rows carry the plan's offset)
    finished = row.get("state") in FINISHED
    summary = f"{'【已办结】' if finished else ''}{row['title']}（{row['owner_name']}）"
    detail = f"条款 {row['ref']}；截止 {due:%Y-%m-%d %H:%M}；编号 {row['id']}"
    lines = [
        "BEGIN:VEVENT",
        f"UID:{text(row['id'])}@{text(plan_id)}.duban",
        f"DTSTAMP:{dtstamp}",
        f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
        f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
        f"SUMMARY:{text(summary)}",
        f"DESCRIPTION:{text(detail)}",
        "TRANSP:TRANSPARENT",
        "STATUS:CONFIRMED",
    ]
    if not finished:
        start = datetime.combine(day, time(0), tzinfo=due.tzinfo)
        for reminder in row.get("reminders", []):
            at = datetime.fromisoformat(reminder["at"]).astimezone(due.tzinfo)
            lines += ["BEGIN:VALARM", "ACTION:DISPLAY", f"DESCRIPTION:{text('督办提醒：' + row['title'])}",
                      f"TRIGGER:{duration(at - start)}", "END:VALARM"]
    return [*lines, "END:VEVENT"]


def calendar(rows: Sequence[dict[str, Any]], plan_id: str, stamp: datetime, name: str = "") -> str:
    """The VCALENDAR of `rows` (id, title, owner_name, ref, due ISO, state, reminders [{stage, at ISO}])."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//duban//督办//ZH", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{text(name or f'督办事项（{plan_id}）')}", f"X-PUBLISHED-TTL:{REFRESH}",
             f"REFRESH-INTERVAL;VALUE=DURATION:{REFRESH}"]
    dtstamp = utc_stamp(stamp)
    for row in rows:
        lines += _event(row, plan_id, dtstamp)
    lines.append("END:VCALENDAR")
    return "\r\n".join(part for line in lines for part in fold(line)) + "\r\n"
