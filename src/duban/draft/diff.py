"""A revised plan document against an existing catalog: what it adds, changes and drops.

A catalog task whose quote is still in the text, word for word, stands: how its schedule was read is
the office's decision, not the document's change. A task whose quote is gone but whose sentence is
still recognisable (most of its words remain) has changed; one whose sentence is gone is dropped.
A task the draft finds in a sentence no catalog quote resembles is new.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from duban.catalog import Catalog, Task
from duban.draft.model import Draft, DraftTask

SIMILAR = 0.6


def overlap(a: str, b: str) -> float:
    """Share of the shorter text that the longer one also has, in order (1.0 when one contains the other)."""
    if not a or not b:
        return 0.0
    if a in b or b in a:
        return 1.0
    blocks = SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
    return sum(block.size for block in blocks if block.size >= 2) / min(len(a), len(b))


def catalog_schedule(task: Task) -> str:
    """A catalog task's schedule in the words the draft uses for its own."""
    if task.due is not None:
        return f"due {task.due}"
    times = f" ×{task.times}" if task.times > 1 else ""
    return f"every {task.every}{times}"


def same_schedule(task: Task, found: DraftTask) -> bool:
    """Whether a draft task keeps the catalog task's deadline, or its rhythm and count."""
    s = found.schedule
    if task.due is not None:
        return s.due == task.due and not s.every
    return s.every == task.every and s.times == task.times


@dataclass(frozen=True)
class Change:
    """One line of the diff."""

    kind: str
    ref: str
    task_id: str
    before: str
    after: str
    quote: str
    new_quote: str = ""

    def __str__(self) -> str:
        label = {"add": "新增", "change": "变更", "drop": "删除", "pending": "新增待定"}[self.kind]
        who = f" {self.task_id}" if self.task_id else ""
        if self.kind == "change":
            head = f"{label}{who} {self.ref}：{self.before} → {self.after}"
            return f"{head}\n    原文：{self.quote}\n    现文：{self.new_quote}"
        schedule = f"（{self.after or self.before}）" if (self.after or self.before) else ""
        return f"{label}{who} {self.ref}{schedule}：{self.quote}"


def kept(old: str, new: str) -> float:
    """Share of the old text's words that the new text still has, in order."""
    if not old or not new:
        return 0.0
    if old in new:
        return 1.0
    blocks = SequenceMatcher(None, old, new, autojunk=False).get_matching_blocks()
    return sum(block.size for block in blocks if block.size >= 2) / len(old)


def covered(text: str, quotes: list[str]) -> float:
    """Share of a text that some quote also has (runs of 4 characters or more)."""
    if not text:
        return 0.0
    marks = [False] * len(text)
    grams = _grams(text)
    for quote in quotes:
        if not grams & _grams(quote):
            continue
        if quote in text:
            at = text.index(quote)
            marks[at : at + len(quote)] = [True] * len(quote)
            continue
        for block in SequenceMatcher(None, text, quote, autojunk=False).get_matching_blocks():
            if block.size >= 4:
                marks[block.a : block.a + block.size] = [True] * block.size
    return sum(marks) / len(text)


@lru_cache(maxsize=4096)
def _grams(text: str) -> frozenset[str]:
    return frozenset(text[i : i + 4] for i in range(len(text) - 3))


def diff(catalog: Catalog, draft: Draft) -> list[Change]:
    """Adds, changes and drops of a revised document against a catalog."""
    changes: list[Change] = []
    used: set[int] = set()
    for task in catalog.tasks:
        if not task.quote or task.quote in draft.text:
            continue
        best = max(range(len(draft.tasks)), key=lambda i: kept(task.quote, draft.tasks[i].quote), default=None)
        if best is not None and kept(task.quote, draft.tasks[best].quote) >= SIMILAR:
            found = draft.tasks[best]
            used.add(best)
            after = found.schedule.describe()
            changes.append(Change("change", task.ref, task.id, catalog_schedule(task), after, task.quote, found.quote))
            continue
        sentence = max(draft.sentences, key=lambda s: kept(task.quote, s), default="")
        if sentence and kept(task.quote, sentence) >= SIMILAR:
            changes.append(Change("change", task.ref, task.id, catalog_schedule(task), "待定", task.quote, sentence))
        else:
            changes.append(Change("drop", task.ref, task.id, catalog_schedule(task), "", task.quote))
    quotes = [t.quote for t in catalog.tasks if t.quote]
    for index, found in enumerate(draft.tasks):
        if index not in used and covered(found.quote, quotes) < SIMILAR:
            changes.append(Change("add", found.ref, "", "", found.schedule.describe(), found.quote))
    for item in draft.pending:
        if covered(item.quote, quotes) < SIMILAR:
            changes.append(Change("pending", item.ref, "", "", "", item.quote))
    return changes


def summary(changes: list[Change]) -> str:
    """One closing line of counts."""
    counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in ("add", "change", "drop", "pending")}
    return f"新增 {counts['add']}，变更 {counts['change']}，删除 {counts['drop']}，新增待定 {counts['pending']}"
