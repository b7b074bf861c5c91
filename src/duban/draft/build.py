"""One document in, one Draft out: read, split into clauses, find the obligations, settle the plan's window."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path

from duban.draft.clauses import Document, parse_document
from duban.draft.dates import Context, find_dates
from duban.draft.model import Draft
from duban.draft.obligations import Reader
from duban.draft.owners import Known
from duban.draft.reader import read_lines

_YEAR = re.compile(r"((?:19|20)\d\d)年")


def plan_year(doc: Document, given: int | None, path: Path) -> int:
    """--year, else the year of issue, else the year the text names most; ValueError when none."""
    if given:
        return given
    if doc.issued:
        return doc.issued.year
    years = Counter(int(y) for s in [*doc.preamble, *doc.sentences] for y in _YEAR.findall(s.text))
    if years:
        return years.most_common(1)[0][0]
    raise ValueError(f"{path}: the text names no year; give --year YYYY")


def make_draft(path: Path, *, year: int | None = None, known: list[Known] = ()) -> Draft:
    """Read a plan document and find its tasks and 待定 items."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    lines = read_lines(path)
    doc = parse_document(lines)
    if not doc.sentences and not doc.preamble:
        raise ValueError(f"{path}: no text found")
    ctx = Context(plan_year(doc, year, path), doc.issued)
    found = Reader(ctx, list(known)).read(doc.sentences)
    start, end, words = _window(doc, ctx)
    for task in found.tasks:
        s = task.schedule
        for day in (s.start, s.due):
            if day:
                start, end = min(start, day), max(end, day)
    title = doc.title or path.stem
    texts = [s.text for s in doc.sentences]
    whole = "\n".join(line.text or "\n".join("\t".join(row) for row in line.rows) for line in lines)
    return Draft(str(path), title, ctx.year, doc.issued, start, end, words, found.tasks, found.pending, texts, whole)


def _window(doc: Document, ctx: Context) -> tuple[date, date, str]:
    """The campaign's window stated in the preamble (2020年9月至12月), else the plan's year."""
    for sentence in doc.preamble:
        schedules, _ = find_dates(sentence.text, ctx)
        for s in schedules:
            if s.start and s.due:
                return s.start, s.due, s.words
    start = doc.issued if doc.issued and doc.issued.year == ctx.year else date(ctx.year, 1, 1)
    return start, date(ctx.year, 12, 31), ""
