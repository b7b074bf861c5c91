"""Deadlines and windows in a sentence: 9月15日前, 11月底前, 年底前, 6月中旬, 国庆节前, 5月—11月.

Every date comes from words of the text, resolved against the plan's year; nothing is guessed:
words that name a time but no day (月初, 春节前) come back as `Unresolved` for a person.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from duban.draft.model import HIGH, LOW, MEDIUM, Schedule, Unresolved
from duban.draft.numerals import to_int

MONTH = r"1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九]"
DAY = r"3[01]|[12]\d|0?[1-9]|三十一?|二十[一二三四五六七八九]?|十[一二三四五六七八九]?|[一二三四五六七八九]"
_YEAR = r"(?:(?P<y>\d{4})年|(?P<rel>明年|次年|今年|本年))?"
_ATOM = (
    _YEAR + rf"(?:(?P<m>{MONTH})月(?:份)?(?:(?P<d>{DAY})[日号]|(?P<dek>上旬|中旬|下旬)|(?P<end>底|末)|(?P<early>初))?"
    r"|(?<=年)(?P<yend>底|末)|(?P<ye>年底|年末)|(?P<half>上半年|下半年)"
    r"|第?(?P<q>[一二三四1-4])季度(?P<qend>末|底)?)"
)
_SECOND = _ATOM.replace("?P<", "?P<b_") + rf"|(?P<b_donly>{DAY})[日号]"
_JOIN = r"\s*(?:至|到|—+|－|–|-|~|～|─+)\s*"
SPAN = re.compile(rf"(?:{_ATOM})(?:{_JOIN}(?:{_SECOND}))?(?P<before>之前|以前|前)?")
HOLIDAY = re.compile(
    r"(?P<hol>元旦|春节|清明节?|五一|劳动节|端午节?|七一|建党节|八一|建军节|中秋节?|国庆节?)(?:节|假期)?(?:之前|以前|前)"
)
NAMED_DAY = re.compile(
    rf"“?(?P<m>{MONTH.replace('十[一二]?|[一二三四五六七八九]', '')})[•·・](?P<d>3[01]|[12]\d|0?[1-9])”?"
)
YEAR_SCOPE = re.compile(
    r"(?P<y>\d{4})年度|本年度|年内|今年|全年|(?P<y2>\d{4})年(?![\d一二三四五六七八九十以前底末度内])"
)
FIXED_HOLIDAYS = {"元旦": (1, 1), "五一": (5, 1), "劳动": (5, 1), "七一": (7, 1), "建党": (7, 1), "八一": (8, 1)}
FIXED_HOLIDAYS |= {"建军": (8, 1), "国庆": (10, 1)}
ROLL_AFTER = timedelta(days=30)  # a plan may be issued a few days into its own first step


@dataclass(frozen=True)
class Context:
    """What dates are resolved against: the plan's year and, when known, the date of issue."""

    year: int
    issued: date | None = None


@dataclass(frozen=True)
class YearScope:
    """A figure for a whole year (2020年…达92%, 今年, 全年, 2020年度): due at that year's end."""

    schedule: Schedule
    strong: bool


def quoted_spans(text: str, marks: str = "《》") -> list[tuple[int, int]]:
    """Spans inside a pair of marks, e.g. document names in 《》."""
    opening, closing = marks
    return [(m.start(), m.end()) for m in re.finditer(rf"{opening}[^{closing}]*{closing}", text)]


def _inside(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(a <= span[0] and span[1] <= b for a, b in spans)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _bounds(g: dict[str, str | None], year: int) -> tuple[date, date, str] | None:
    """(first day, last day, confidence) of one date atom; None when it names no day."""
    if g.get("m"):
        month = to_int(g["m"])
        if g.get("d"):
            day = date(year, month, to_int(g["d"]))
            return day, day, HIGH
        if g.get("dek"):
            first = {"上旬": 1, "中旬": 11, "下旬": 21}[g["dek"]]
            last = {"上旬": date(year, month, 10), "中旬": date(year, month, 20)}.get(g["dek"], _month_end(year, month))
            return date(year, month, first), last, MEDIUM
        if g.get("end"):
            return date(year, month, 1), _month_end(year, month), HIGH
        if g.get("early"):
            return None
        return date(year, month, 1), _month_end(year, month), MEDIUM
    if g.get("yend") or g.get("ye"):
        return date(year, 1, 1), date(year, 12, 31), HIGH
    if g.get("half"):
        return (
            (date(year, 1, 1), date(year, 6, 30), MEDIUM)
            if g["half"] == "上半年"
            else (date(year, 7, 1), date(year, 12, 31), MEDIUM)
        )
    if g.get("q"):
        quarter = to_int(g["q"])
        return date(year, 3 * quarter - 2, 1), _month_end(year, 3 * quarter), MEDIUM
    return None


def _year(g: dict[str, str | None], ctx: Context, inherited: int | None = None) -> tuple[int, bool]:
    """The atom's year and whether the text wrote it."""
    if g.get("y"):
        return int(g["y"]), True
    if g.get("rel") in ("明年", "次年"):
        return ctx.year + 1, True
    if g.get("rel"):
        return ctx.year, True
    return (inherited, True) if inherited else (ctx.year, False)


def _second(match: re.Match[str]) -> dict[str, str | None]:
    return {k[2:]: v for k, v in match.groupdict().items() if k.startswith("b_")}


def _has(g: dict[str, str | None]) -> bool:
    return any(v for k, v in g.items() if k not in ("y", "rel"))


def _span_schedule(match: re.Match[str], ctx: Context) -> Schedule | Unresolved | None:
    first = {k: v for k, v in match.groupdict().items() if not k.startswith("b_") and k != "before"}
    second = _second(match)
    words = match.group(0)
    if not _has(first):
        return None
    if first.get("early") or second.get("early"):
        return Unresolved(words, "“月初”没有写明哪一天", match.span())
    bare_month = first.get("m") and not any(first.get(k) for k in ("d", "dek", "end"))
    if bare_month and not _has(second) and not re.search(r"月份|前$", words):
        return None
    try:
        year, explicit = _year(first, ctx)
        start, last, confidence = _bounds(first, year) or (None, None, LOW)
        if start is None:
            return None
        if _has(second):
            second_year, second_explicit = _year(second, ctx, year if explicit else None)
            if second.get("donly"):
                second = {"m": first.get("m"), "d": second["donly"]}
            bounds = _bounds(second, second_year)
            if bounds is None:
                return None
            last, confidence = bounds[1], max(confidence, bounds[2], key="高中低".index)
            explicit = explicit or second_explicit
        elif match["before"] or not (bare_month or first.get("dek") or first.get("half") or first.get("q")):
            start = None
    except ValueError:
        return Unresolved(words, "不是有效的日期", match.span())
    note = ""
    if ctx.issued and last < ctx.issued:
        if explicit:
            return None  # a day already past when the plan was issued: history, not a deadline
        if ctx.issued - last > ROLL_AFTER:
            start = start.replace(year=start.year + 1) if start else None
            last = _shift_year(last)
            confidence, note = LOW, f"早于发文日期{ctx.issued}，按次年"
    return Schedule(words, confidence, due=last, start=start, span=match.span(), note=note)


def _shift_year(day: date) -> date:
    if day.month == 2 and day.day == 29:
        return date(day.year + 1, 2, 28)
    last = calendar.monthrange(day.year, day.month)[1]
    return _month_end(day.year + 1, day.month) if day.day == last else day.replace(year=day.year + 1)


def find_dates(text: str, ctx: Context, taken: list[tuple[int, int]] = ()) -> tuple[list[Schedule], list[Unresolved]]:
    """The deadlines and windows the sentence states, and the time words it leaves undecided."""
    schedules: list[Schedule] = []
    unresolved: list[Unresolved] = []
    skip = [*taken, *quoted_spans(text)]

    def free(span: tuple[int, int]) -> bool:
        return not any(a < span[1] and span[0] < b for a, b in skip)

    for match in SPAN.finditer(text):
        if not match.group(0) or not free(match.span()):
            continue
        found = _span_schedule(match, ctx)
        if isinstance(found, Schedule):
            schedules.append(found)
            skip.append(match.span())
        elif isinstance(found, Unresolved):
            unresolved.append(found)
            skip.append(match.span())
    for match in HOLIDAY.finditer(text):
        if not free(match.span()):
            continue
        name = match["hol"][:2]
        if name not in FIXED_HOLIDAYS:
            unresolved.append(Unresolved(match.group(0), f"{match['hol']}是农历节日，日期请人工确认", match.span()))
            continue
        month, day = FIXED_HOLIDAYS[name]
        holiday = date(ctx.year, month, day)
        if ctx.issued and holiday <= ctx.issued:
            holiday = date(ctx.year + 1, month, day)
        schedules.append(
            Schedule(
                match.group(0),
                MEDIUM,
                due=holiday - timedelta(days=1),
                span=match.span(),
                note=f"{match['hol']}（{holiday}）的前一天",
            )
        )
        skip.append(match.span())
    for match in NAMED_DAY.finditer(text):
        if not free(match.span()):
            continue
        try:
            day = date(ctx.year, int(match["m"]), int(match["d"]))
        except ValueError:
            continue
        schedules.append(Schedule(match.group(0), MEDIUM, due=day, span=match.span(), note="以该日为期"))
    return sorted(schedules, key=lambda s: s.span), unresolved


def find_year_scopes(text: str, ctx: Context) -> list[YearScope]:
    """Words that make a figure the year's (2020年…, 今年, 全年) or the work the year's (2020年度, 年内)."""
    skip = quoted_spans(text) + quoted_spans(text, "“”")
    result = []
    for match in YEAR_SCOPE.finditer(text):
        if _inside(match.span(), skip):
            continue
        year = int(match["y"] or match["y2"] or ctx.year)
        if ctx.issued and year < ctx.issued.year:
            continue
        strong = match["y"] is not None or match.group(0) in ("本年度", "年内")
        schedule = Schedule(
            match.group(0), MEDIUM, due=date(year, 12, 31), span=match.span(), note="全年的数字或工作，以年底为期"
        )
        result.append(YearScope(schedule, strong))
    return result
