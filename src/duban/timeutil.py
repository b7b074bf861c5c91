"""Reading and showing moments: --as-of values in, plan-local text out."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

WEEKDAYS = "一二三四五六日"


class MomentError(ValueError):
    """A date or moment that cannot be read."""


def parse_moment(text: str, tz: ZoneInfo) -> datetime:
    """An aware moment from ISO text; a date alone means its start, no offset means the plan's zone."""
    import pendulum

    try:
        parsed = pendulum.parse(text.strip(), tz=pendulum.timezone(tz.key), exact=True)
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        raise MomentError(
            f"cannot read '{text}' as a date or moment (write 2020-10-29 or 2020-10-29T09:00+08:00)"
        ) from None
    if isinstance(parsed, datetime):
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
    if isinstance(parsed, date):
        return datetime.combine(parsed, time(), tzinfo=tz)
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
