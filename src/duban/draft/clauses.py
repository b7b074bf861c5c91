"""The document's numbering (一、 （一） 1. （1） ①) gives each sentence its clause ref, as 二（一）1."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from duban.draft.model import Line, Sentence
from duban.draft.numerals import to_int

_CN = "一二三四五六七八九十"
# One pattern per level, outermost first; a pattern names its level, whatever order the document uses.
LEVELS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(rf"^第([{_CN}]+)(?:部分|章)\s*"), lambda m: m[1]),
    (re.compile(rf"^([{_CN}]+)\s*[、．.]\s*"), lambda m: m[1]),
    (re.compile(rf"^[（(]\s*([{_CN}]+)\s*[）)]\s*[、．.]?\s*"), lambda m: f"（{m[1]}）"),
    (re.compile(r"^(\d{1,2})\s*(?:[.．、](?!\d)|\s)\s*"), lambda m: m[1]),
    (re.compile(r"^[（(]\s*(\d{1,2})\s*[）)]\s*"), lambda m: f"（{m[1]}）"),
    (re.compile(r"^([①-⑳⑴-⒇])\s*"), lambda m: m[1]),
]
SENTENCE_END = re.compile(r"[。；;！？!?]")
_ISSUED = re.compile(r"^\s*(\d{4}|[〇零一二三四五六七八九]{4})年(\S{1,2})月(\S{1,3})日\s*$")
_TITLE_WORDS = re.compile(r"(方案|计划|通知|意见|要点|清单|办法|安排|细则|分解表)$")

TASK_COLUMN = re.compile(r"(工作任务|重点任务|具体任务|主要任务|工作内容|工作事项|目标任务|任务|事项|内容|措施)")
OWNER_COLUMN = re.compile(r"(牵头单位|责任单位|责任部门|牵头部门|责任主体|主体责任)")
CO_OWNER_COLUMN = re.compile(r"(配合单位|协办单位|参与单位|配合部门|协同单位)")
DUE_COLUMN = re.compile(r"(完成时限|时间节点|完成时间|完成期限|进度安排|时限|时间)")
REF_COLUMN = re.compile(r"^(序号|编号|序|No\.?)$", re.I)


@dataclass
class Document:
    """The document split into its preamble and its numbered clauses' sentences."""

    title: str = ""
    issued: date | None = None
    preamble: list[Sentence] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)


def split_sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) for each sentence of a paragraph, verbatim, without its closing mark."""
    result, start = [], 0
    for match in SENTENCE_END.finditer(text):
        if text[start : match.start()].strip():
            result.append((start, text[start : match.start()]))
        start = match.end()
    if text[start:].strip():
        result.append((start, text[start:]))
    return [(offset + len(s) - len(s.lstrip()), s.strip()) for offset, s in result]


def numbering(text: str) -> tuple[int, str, str] | None:
    """(level, label, rest) when the paragraph starts with a clause number."""
    for level, (pattern, label) in enumerate(LEVELS):
        match = pattern.match(text)
        if match and text[match.end() :].strip():
            return level, label(match), text[match.end() :]
    return None


def parse_document(lines: list[Line]) -> Document:
    """Sentences with their refs; the preamble (before the first clause) apart; title and date of issue."""
    doc = Document()
    labels: list[str | None] = [None] * len(LEVELS)
    headings: list[str | None] = [None] * len(LEVELS)
    numbered_seen = False
    for line in lines:
        if line.rows:
            doc.sentences.extend(_table_sentences(line, _ref(labels), _chain(headings)))
            continue
        issued = _issued(line.text)
        if issued:
            doc.issued = doc.issued or issued
            continue
        found = numbering(line.text)
        if found is None:
            target = doc.sentences if numbered_seen else doc.preamble
            if not numbered_seen and not doc.title and _looks_like_title(line.text):
                doc.title = line.text
                continue
            target.extend(
                Sentence(_ref(labels), s, line.number, headings=_chain(headings)) for _, s in split_sentences(line.text)
            )
            continue
        numbered_seen = True
        level, label, rest = found
        labels[level], headings[level] = label, None
        for deeper in range(level + 1, len(LEVELS)):
            labels[deeper] = headings[deeper] = None
        parts = split_sentences(rest)
        if not parts:
            continue
        headings[level] = parts[0][1]
        ref = _ref(labels)
        titled = len(parts) > 1 or (not SENTENCE_END.search(rest) and len(rest) <= 30)
        for index, (_, text) in enumerate(parts):
            heading = titled and index == 0
            doc.sentences.append(Sentence(ref, text, line.number, heading=heading, headings=_chain(headings)))
    if not numbered_seen and not doc.sentences:
        _unnumbered(doc)
    return doc


def _unnumbered(doc: Document) -> None:
    """A notice without clause numbers: its paragraphs are its clauses, 第1段, 第2段 ..."""
    paragraphs = {line: n for n, line in enumerate(dict.fromkeys(s.line for s in doc.preamble), 1)}
    doc.sentences = [Sentence(f"第{paragraphs[s.line]}段", s.text, s.line) for s in doc.preamble]
    doc.preamble = []


def _ref(labels: list[str | None]) -> str:
    return "".join(label for label in labels if label)


def _chain(headings: list[str | None]) -> tuple[str, ...]:
    return tuple(h for h in headings if h)


def _looks_like_title(text: str) -> bool:
    return len(text) <= 60 and not SENTENCE_END.search(text) and bool(_TITLE_WORDS.search(text))


def _issued(text: str) -> date | None:
    match = _ISSUED.match(text)
    if not match:
        return None
    try:
        year = (
            int(match[1])
            if match[1].isdigit()
            else int("".join(str("〇一二三四五六七八九".index(c.replace("零", "〇"))) for c in match[1]))
        )
        return date(year, to_int(match[2]), to_int(match[3]))
    except ValueError:
        return None


def _table_sentences(line: Line, ref: str, headings: tuple[str, ...]) -> list[Sentence]:
    """A 任务分解表: one sentence per row, the task cell quoted; owner and deadline columns kept beside it."""
    numbered = list(zip(line.rows, line.row_lines or range(line.number, line.number + len(line.rows)), strict=True))
    numbered = [(r, n) for r, n in numbered if any(cell.strip() for cell in r)]
    rows = [r for r, _ in numbered]
    header_at = next((i for i, r in enumerate(rows) if any(TASK_COLUMN.search(c) and len(c) <= 8 for c in r)), None)
    if header_at is None:
        return [
            Sentence(ref, text, line.number, headings=headings)
            for r in rows
            for c in r
            for _, text in split_sentences(c)
        ]
    header = rows[header_at]

    def column(pattern: re.Pattern[str], exclude: tuple[int, ...] = ()) -> int | None:
        return next((i for i, c in enumerate(header) if i not in exclude and pattern.search(c) and len(c) <= 8), None)

    co_col = column(CO_OWNER_COLUMN)
    owner_col = column(OWNER_COLUMN, (co_col,) if co_col is not None else ())
    due_col = column(DUE_COLUMN)
    ref_col = column(REF_COLUMN)
    task_col = column(TASK_COLUMN, tuple(i for i in (owner_col, co_col, due_col) if i is not None))
    result = []
    for index, row in enumerate(rows[header_at + 1 :], 1):

        def cell(col: int | None, row: tuple[str, ...] = row) -> str:
            return row[col].strip() if col is not None and col < len(row) else ""

        text = cell(task_col)
        if not text:
            continue
        number = cell(ref_col) or str(index)
        result.append(
            Sentence(
                f"{ref}表{number}",
                text,
                numbered[header_at + index][1],
                headings=headings,
                table_owner=cell(owner_col),
                table_co_owner=cell(co_col),
                table_due=cell(due_col),
            )
        )
    return result
