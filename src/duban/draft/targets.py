"""Targets in a sentence: 92%以上, 不超过2%, 9.5万人, 全部入住, 全覆盖, 前两位, 不少于去年, 无…."""

from __future__ import annotations

import re

from duban.draft.model import Target
from duban.draft.numerals import to_int

_UNITS = (
    "%|％|个工作日|工作日|万人次|万人|万元|亿元|万户|万亩|人次|人|户|家|名|所|个学时|学时|"
    + "公里|千米|亩|吨|座|处|项|套|辆|台|元|个"
)
NUMERIC = re.compile(
    r"(?P<op1>不得低于|不低于|不得少于|不少于|不得超过|不超过|不高于|达到|达|超过|高于|低于|控制在|保持在|提高到|提升至|提高至|"
    r"压缩至|压缩到|缩短至|缩短到|降至|降低至|降低到)?"
    rf"\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>{_UNITS})(?P<op2>及以上|以上|以下|以内|左右)?"
)
ALL = re.compile(r"全部(?P<w>[\u4e00-\u9fff]{2,4})(?=[，,。；;、]|$)")
COVERAGE = re.compile(r"全覆盖")
RANK = re.compile(r"(?:全[市省国区县])?前(?P<n>\d+|[一二两三四五六七八九十])(?:位|名)")
LAST_YEAR = re.compile(r"(?P<op>不得少于|不少于|不低于|不得低于|高于|超过)(?:去年|上年|上一年)")
NONE = re.compile(r"(?:^|(?<=[，,；;]))(?:无|杜绝|不发生)(?![论关法须需])(?P<w>[^，,；;。]{2,20})")

_OPS = {
    "不得低于": ">=",
    "不低于": ">=",
    "不得少于": ">=",
    "不少于": ">=",
    "达到": ">=",
    "达": ">=",
    "提高到": ">=",
    "提升至": ">=",
    "提高至": ">=",
    "保持在": ">=",
    "不得超过": "<=",
    "不超过": "<=",
    "不高于": "<=",
    "控制在": "<=",
    "超过": ">",
    "高于": ">",
    "低于": "<",
    "以上": ">=",
    "及以上": ">=",
    "以下": "<=",
    "以内": "<=",
}
_BOUNDARY = re.compile(r"[，,、；;。：:（）()“”\"《》的]")
_LEAD = re.compile(r"^(?:\d*年(?!度|以)|确保|力争|全面|实现|完成|使|全年|全县|全市|其中|累计|并|要|将)+")
_TAIL = re.compile(r"(?:力争达到|力争|达到|进入|保持|实现|要|均|全部|必须)+$")


def _metric_before(text: str, at: int, taken: list[tuple[int, int]]) -> str:
    start = max(0, at - 24)
    for _, b in taken:
        if b <= at:
            start = max(start, b)
    piece = text[start:at]
    cut = [m.end() for m in _BOUNDARY.finditer(piece)]
    piece = piece[cut[-1] :] if cut else piece
    return _LEAD.sub("", _TAIL.sub("", piece.strip()))


def _metric_after(text: str, at: int) -> str:
    match = re.match(r"的([^，,；;。、]{2,20})", text[at:])
    return re.sub(r"(任务|目标|工作)$", "", match[1]) if match else ""


def find_targets(text: str, taken: list[tuple[int, int]] = ()) -> list[Target]:
    """Every figure the sentence sets, in text order; numbers inside dates and rhythms (taken) are skipped."""
    taken = list(taken)
    found: list[Target] = []

    def free(span: tuple[int, int]) -> bool:
        return not any(a < span[1] and span[0] < b for a, b in taken)

    def add(target: Target) -> None:
        found.append(target)
        taken.append(target.span)

    for m in NUMERIC.finditer(text):
        if not free(m.span()) or (m["unit"] == "个" and not (m["op1"] or m["op2"])):
            continue
        op = _OPS.get(m["op2"] or "", _OPS.get(m["op1"] or "", ">="))
        unit = {"％": "%", "个学时": "学时", "个工作日": "工作日"}.get(m["unit"], m["unit"])
        metric = _metric_before(text, m.start(), taken) or _metric_after(text, m.end()) or "指标"
        add(Target(metric, op, float(m["n"]), unit, m.group(0), m.span()))
    for m in RANK.finditer(text):
        if free(m.span()):
            metric = _metric_before(text, m.start(), taken)
            add(Target(f"{metric}排名" if metric else "排名", "<=", float(to_int(m["n"])), "位", m.group(0), m.span()))
    for m in LAST_YEAR.finditer(text):
        if free(m.span()):
            metric = _metric_before(text, m.start(), taken) or "指标"
            add(
                Target(
                    f"{metric}占上年比例",
                    ">" if m["op"] in ("高于", "超过") else ">=",
                    100.0,
                    "%",
                    m.group(0),
                    m.span(),
                )
            )
    for m in ALL.finditer(text):
        if free(m.span()):
            add(Target(f"{m['w']}率", ">=", 100.0, "%", m.group(0), m.span()))
    for m in COVERAGE.finditer(text):
        if free(m.span()):
            before = re.sub(r"实现$", "", _metric_before(text, m.start(), taken))[-6:]
            add(Target(f"{before}覆盖率", ">=", 100.0, "%", m.group(0), m.span()))
    for m in NONE.finditer(text):
        if free(m.span()):
            add(Target(m["w"], "==", 0.0, "", m.group(0), m.span()))
    return sorted(found, key=lambda t: t.span)
