"""A Draft as catalog YAML: the plan, units, groups, roles, tasks with the words that set them, and 待定."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from duban.draft.model import Draft, DraftTask
from duban.draft.numerals import to_int
from duban.draft.units import PLACEHOLDER, Book

_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
HEADER = """\
# 督办目录草稿：由 duban draft 从 {source} 生成（{year}年{issued}）。
# 每个任务上方的注释写明定下日程的原文词语和置信度。高：原文写明日期或频次；中：由原文推定
# （“中旬”取该旬最后一天，“全年”“今年”取年底，“国庆节前”取节前一天，阶段标题的时间段）；
# 低：原文没有写年份，按发文日期推定为次年。请逐条核对后再 duban sync。
# 占位符“{placeholder}”（责任单位、群组成员）须由人填写，duban check 会逐一指出它的位置。
# 文末“待定”一节列出有义务用语、却没有日期或频次的句子：草稿不替人猜日期。
"""


def q(text: str) -> str:
    """A YAML scalar that reads back as exactly this text."""
    return json.dumps(text, ensure_ascii=False)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def ref_slug(ref: str) -> str:
    """二（一）1 -> 2-1-1, 三表4 -> 3-t4: the ref in ASCII, for task ids."""
    parts = []
    for token in re.findall(r"[一二三四五六七八九十]+|\d+|[①-⑳]|表\d*", ref):
        if token.startswith("表"):
            parts.append("t" + token[1:])
        elif token in _CIRCLED:
            parts.append(str(_CIRCLED.index(token) + 1))
        else:
            parts.append(str(to_int(token)))
    return "-".join(parts) or "t"


def task_id(task: DraftTask, taken: set[str]) -> str:
    """A stable id: the ref, and a short hash of the quote and the schedule."""
    digest = hashlib.sha1(f"{task.quote}|{task.schedule.describe()}".encode()).hexdigest()
    for size in range(4, 41):
        ident = f"{ref_slug(task.ref)}-{digest[:size]}"
        if ident not in taken:
            taken.add(ident)
            return ident
    raise ValueError(f"no free id for {task.quote}")


def plan_id(path: Path, year: int) -> str:
    """A plan id from the file name when it is ASCII, else from the year."""
    stem = re.sub(r"[^a-z0-9_-]+", "-", path.stem.lower()).strip("-_")
    return stem if stem and re.match(r"^[a-z0-9]", stem) else f"plan-{year}"


def render(draft: Draft, book: Book, *, plan: str) -> str:
    """The whole draft catalog as YAML text."""
    tasks = [_task_lines(task, book) for task in draft.tasks]  # first: resolving owners fills the book
    ids: set[str] = set()
    out = [
        HEADER.format(
            source=Path(draft.source).name,
            year=draft.year,
            issued=f"，发文日期 {draft.issued}" if draft.issued else "",
            placeholder=PLACEHOLDER,
        )
    ]
    out += _plan_lines(draft, book, plan)
    out += _book_lines(book)
    out.append("tasks:")
    for task, lines in zip(draft.tasks, tasks, strict=True):
        out.append(lines[0])
        out.append(f"  - id: {task_id(task, ids)}")
        out += lines[1:]
    if not draft.tasks:
        out[-1] = "tasks: []"
    out += _pending_lines(draft)
    return "\n".join(out) + "\n"


def _plan_lines(draft: Draft, book: Book, plan: str) -> list[str]:
    window = (
        f"  # 原文“{draft.window_words}”"
        if draft.window_words
        else "  # 原文未写明起止：取发文日期（或年初）至年底，并包含所有任务日期"
    )
    lines = [
        "plan:",
        f"  id: {plan}",
        f"  title: {q(draft.title)}",
        "  timezone: Asia/Shanghai",
        f"  start: {draft.start}{window}",
        f"  end: {draft.end}",
        "  workdays: cn",
        '  remind_at: "09:00"',
    ]
    if book.office:
        lines.append(f"  office: {book.office}")
    lines += [
        "",
        "defaults:",
        "  remind: [3, 1, 0]",
        "  escalate:",
        "    - {after: 1, to: [in_charge]}",
        "    - {after: 3, to: [head]}",
    ]
    if book.office:
        lines.append(f'    - {{after: 5, to: ["unit:{book.office}"]}}')
    lines += ["  channels: [email, sms]", ""]
    return lines


def _book_lines(book: Book) -> list[str]:
    lines = []
    if book.roles:
        lines.append("roles:")
        lines += [f"  - {{id: {ident}, name: {q(name)}}}" for ident, name in book.roles.items()]
        lines.append("")
    lines.append("units:" if book.units else "units: []")
    for unit in book.units.values():
        extra = "".join(f", {k}: {q(unit[k])}" for k in ("short", "kind") if unit.get(k))
        new = "" if unit["id"] in book.given else "  # 文中新见，请核对名称"
        lines.append(f"  - {{id: {unit['id']}, name: {q(unit['name'])}{extra}}}{new}")
    lines.append("")
    if book.groups:
        lines.append("groups:")
        for group in book.groups.values():
            members = ", ".join(m if m != PLACEHOLDER else PLACEHOLDER for m in group["members"])
            note = "  # 成员待定：填入单位 id" if PLACEHOLDER in group["members"] else ""
            lines += [f"  - id: {group['id']}", f"    name: {q(group['name'])}", f"    members: [{members}]{note}"]
        lines.append("")
    return lines


def _owner(task: DraftTask, book: Book) -> tuple[str, list[str]]:
    co = [book.expression(o) for o in task.co_owners if o.kind != "role"]
    if not task.owners:
        if book.office:
            return book.office, co
        return PLACEHOLDER, co
    if len(task.owners) > 1 and all(o.kind != "role" for o in task.owners):
        return book.joint(task.owners), co
    rest = [book.expression(o) for o in task.owners[1:] if o.kind != "role"]
    return book.expression(task.owners[0]), rest + co


def _task_lines(task: DraftTask, book: Book) -> list[str]:
    s = task.schedule
    owner, co = _owner(task, book)
    said = {"本句": "句中写明", "同段前句": "同段前句的主语", "条款标题": "条款标题", "表格": "表格责任单位栏"}
    owner_note = said.get(
        task.owner_from, "原文未写明" + ("，暂定为督办办公室" if book.office and not task.owners else "")
    )
    note = f"；{s.note}" if s.note else ""
    comment = f"  # {task.ref}（第{task.line}行）依据“{s.words}”{note}；置信度 {s.confidence}；责任单位：{owner_note}"
    lines = [
        comment,
        f"    ref: {task.ref}",
        f"    title: {q(task.title)}",
        f"    quote: {q(task.quote)}",
        f"    owner: {owner}",
    ]
    if co:
        lines.append(f"    co_owners: [{', '.join(q(c) if ':' in c else c for c in co)}]")
    if s.every:
        lines.append(f"    every: {q(s.every) if ':' in s.every else s.every}")
        if s.times > 1:
            lines.append(f"    times: {s.times}")
    else:
        if s.start and s.start < s.due:
            lines.append(f"    from: {s.start}")
        lines.append(f"    due: {s.due}")
    if task.target:
        t = task.target
        unit = f", unit: {q(t.unit)}" if t.unit else ""
        lines.append(f"    target: {{metric: {q(t.metric)}{unit}, op: {q(t.op)}, value: {_number(t.value)}}}")
    if task.more_targets:
        more = "；".join(f"{t.metric} {t.op} {_number(t.value)}{t.unit}" for t in task.more_targets)
        lines.append(f"    note: {q('另有指标：' + more)}")
    return lines


def _pending_lines(draft: Draft) -> list[str]:
    if not draft.pending:
        return ["", "# 待定：无。"]
    lines = [
        "",
        f"# ───── 待定：有义务用语而没有日期或频次的句子，共 {len(draft.pending)} 条；由人决定日程后写成任务 ─────",
    ]
    for item in draft.pending:
        lines.append(f"# {item.ref or '（前言）'}（第{item.line}行）〔{item.reason}〕{item.quote}")
    return lines
