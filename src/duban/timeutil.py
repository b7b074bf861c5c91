"""Reading and showing moments: --as-of values in, plan-local text out."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

WEEKDAYS = "一二三四五六日"


MOMENT_HELP = "write 2020-10-29 or 2020-10-29T09:00+08:00"


class MomentError(ValueError):
    """A date or moment that cannot be read."""


def parse_moment(text: str, tz: ZoneInfo) -> datetime:
    """An aware stdlib moment from ISO 8601 text; a date alone means its start, no offset the plan's zone."""
    text = text.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = _parse_other_forms(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def _parse_other_forms(text: str) -> datetime:
    """ISO forms the stdlib does not read (week dates, ordinal dates), via pendulum, as a plain datetime."""
    import pendulum

    try:
        parsed = pendulum.parse(text, exact=True)
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        raise MomentError(f"cannot read '{text}' as a date or moment ({MOMENT_HELP})") from None
    if isinstance(parsed, datetime):
        return datetime.fromisoformat(parsed.isoformat())
    if isinstance(parsed, date):
        return datetime.combine(parsed, time())
    raise MomentError(f"'{text}' is not a date or moment")


def parse_day(text: str) -> date:
    """A calendar date from YYYY-MM-DD."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise MomentError(f"cannot read '{text}' as a date (write YYYY-MM-DD)") from None


def chinese_date(day: date) -> str:
    """2020年10月29日（星期四）."""
    return f"{day.year}年{day.month}月{day.day}日（星期{WEEKDAYS[day.weekday()]}）"
