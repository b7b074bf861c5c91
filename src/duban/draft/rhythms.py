"""Rhythms in a sentence: 每日, 每周, 每半月, 每月, 每季度, 每年, 每月15日前, 一周不少于一次, 月通报."""

from __future__ import annotations

import re

from duban.draft.model import HIGH, MEDIUM, Schedule
from duban.draft.numerals import NUMBER, to_int

_FREQ = {
    "日": "daily",
    "天": "daily",
    "工作日": "daily",
    "周": "weekly",
    "星期": "weekly",
    "半月": "semimonthly",
    "半个月": "semimonthly",
    "月": "monthly",
    "个月": "monthly",
    "季度": "quarterly",
    "季": "quarterly",
    "个季度": "quarterly",
    "年": "yearly",
    "旬": "rrule:FREQ=MONTHLY;BYMONTHDAY=10,20,-1",
    "半年": "rrule:FREQ=MONTHLY;BYMONTH=6,12;BYMONTHDAY=-1",
}
_WEEKDAYS = {"一": "MO", "二": "TU", "三": "WE", "四": "TH", "五": "FR", "六": "SA", "日": "SU", "天": "SU"}
_DAY = r"3[01]|[12]\d|0?[1-9]|三十一?|二十[一二三四五六七八九]?|十[一二三四五六七八九]?|[一二三四五六七八九]"
MONTHLY_DAY = re.compile(rf"每(?:个)?月(?P<d>{_DAY})[日号](?:之前|以前|前)?")
MONTH_END = re.compile(r"每(?:个)?月(?:底|末)(?:之前|以前|前)?")
QUARTER_END = re.compile(r"每(?:个)?季度?(?:末|底)(?:之前|以前|前)?")
WEEKLY_DAY = re.compile(r"每周(?P<wd>[一二三四五六日天])(?:之前|以前|前)?")
YEARLY_DAY = re.compile(rf"每年(?P<m>1[0-2]|0?[1-9])月(?P<d>{_DAY})[日号](?:之前|以前|前)?")
EVERY = re.compile(r"每(?:一)?(?P<f>半个月|半月|半年|个季度|季度|季|个月|工作日|星期|月|周|日|天|旬|年)(?![份度级])")
PER = re.compile(
    rf"[一1](?P<f>周|个月|月|季度|年)(?:内)?(?:至少|不少于|不得少于|不低于)[^，,；;。]{{0,8}}?(?P<n>{NUMBER})次"
)
COMPOUND = re.compile(
    r"(?<![\d一二三四五六七八九十本上下当每个半年])(?P<f>日|周|旬|月|季)"
    r"(?:调度|研判|通报|报送|报告|会商|比对|分析|小结|例会|督查|督办|统计|监测|盘点|点评|考核|排名|报表|报)"
)
TIMES = re.compile(
    rf"^[^，,；;。]{{0,14}}?(?:至少|不少于|不得少于|不低于)?[^，,；;。]{{0,10}}?(?P<n>{NUMBER})(?:次|场|轮)"
)


def _times(text: str, after: int) -> int:
    match = TIMES.match(text[after:])
    if not match:
        return 1
    try:
        return max(1, to_int(match["n"]))
    except ValueError:
        return 1


def find_rhythms(text: str) -> list[Schedule]:
    """The rhythms the sentence states, each with its words; duplicates of one frequency in one place merged."""
    found: list[Schedule] = []
    taken: list[tuple[int, int]] = []

    def add(match: re.Match[str], every: str, confidence: str = HIGH, times: int = 1) -> None:
        if any(a < match.end() and match.start() < b for a, b in taken):
            return
        taken.append(match.span())
        found.append(Schedule(match.group(0), confidence, every=every, times=times, span=match.span()))

    for match in MONTHLY_DAY.finditer(text):
        add(match, f"rrule:FREQ=MONTHLY;BYMONTHDAY={to_int(match['d'])}", times=1)
    for match in MONTH_END.finditer(text):
        add(match, "monthly")
    for match in QUARTER_END.finditer(text):
        add(match, "quarterly")
    for match in WEEKLY_DAY.finditer(text):
        add(match, f"rrule:FREQ=WEEKLY;BYDAY={_WEEKDAYS[match['wd']]}")
    for match in YEARLY_DAY.finditer(text):
        add(match, f"rrule:FREQ=YEARLY;BYMONTH={int(match['m'])};BYMONTHDAY={to_int(match['d'])}")
    for match in PER.finditer(text):
        add(match, _FREQ[match["f"]], times=max(1, to_int(match["n"])))
    for match in EVERY.finditer(text):
        add(match, _FREQ[match["f"]], times=_times(text, match.end()))
    explicit = {_base(s.every) for s in found}
    for match in COMPOUND.finditer(text):
        if _base(_FREQ[match["f"]]) not in explicit:  # 每周五前报送周报: one weekly rhythm, not two
            add(match, _FREQ[match["f"]], MEDIUM if match["f"] == "季" else HIGH)
    found.sort(key=lambda s: s.span)
    return _merge(found)


def _base(every: str | None) -> str:
    """The frequency under an rrule: FREQ=WEEKLY;BYDAY=FR is weekly."""
    if every and every.startswith("rrule:"):
        return every.split("FREQ=")[1].split(";")[0].lower()
    return every or ""


def _merge(found: list[Schedule]) -> list[Schedule]:
    """月比对、月通报 is one monthly rhythm: same frequency, words joined only by 、 or quotes."""
    merged: list[Schedule] = []
    for schedule in found:
        last = merged[-1] if merged else None
        if (
            last
            and last.every == schedule.every
            and last.times == schedule.times
            and schedule.span[0] - last.span[1] <= 4
        ):
            merged[-1] = Schedule(
                f"{last.words}、{schedule.words}",
                last.confidence,
                every=last.every,
                times=last.times,
                span=(last.span[0], schedule.span[1]),
            )
        else:
            merged.append(schedule)
    return merged


def rhythm_spans(schedules: list[Schedule]) -> list[tuple[int, int]]:
    """The places rhythms took, so date finding skips 每月15日前's 15日前."""
    return [s.span for s in schedules]
