"""A revised plan document against an existing catalog: what it adds, changes and drops.

A catalog task whose quote is still in the text, word for word, stands: how its schedule was read is
the office's decision, not the document's change. A task whose quote is gone but whose sentence is
still recognisable (most of its words remain) has changed; one whose sentence is gone is dropped.
A task the draft finds in a sentence no catalog quote resembles is new.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

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
        start = f"from {task.start} " if task.start < task.due and task.start != task.end else ""
        return f"{start}due {task.due}"
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


def diff(catalog: Catalog, draft: Draft) -> list[Change]:
    """Adds, changes and drops of a revised document against a catalog, in the document's order."""
    text = "\n".join(draft.sentences)
    changes: list[Change] = []
    for task in catalog.tasks:
        if not task.quote or all(part in text for part in _parts(task.quote)):
            continue
        best = max(draft.tasks, key=lambda t: overlap(task.quote, t.quote), default=None)
        if best is not None and overlap(task.quote, best.quote) >= SIMILAR:
            after = best.schedule.describe()
            changes.append(Change("change", task.ref, task.id, catalog_schedule(task), after, task.quote, best.quote))
            continue
        sentence = max(draft.sentences, key=lambda s: overlap(task.quote, s), default="")
        if sentence and overlap(task.quote, sentence) >= SIMILAR:
            changes.append(Change("change", task.ref, task.id, catalog_schedule(task), "待定", task.quote, sentence))
        else:
            changes.append(Change("drop", task.ref, task.id, catalog_schedule(task), "", task.quote))
    quotes = [t.quote for t in catalog.tasks if t.quote]
    for found in draft.tasks:
        if not any(overlap(found.quote, q) >= SIMILAR for q in quotes):
            changes.append(Change("add", found.ref, "", "", found.schedule.describe(), found.quote))
    for item in draft.pending:
        if not any(overlap(item.quote, q) >= SIMILAR for q in quotes):
            changes.append(Change("pending", item.ref, "", "", "", item.quote))
    return changes


def _parts(quote: str) -> list[str]:
    """A quote may join sentences with 。; each part must still be in the text."""
    return [part for part in quote.split("。") if part]


def summary(changes: list[Change]) -> str:
    """One closing line of counts."""
    counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in ("add", "change", "drop", "pending")}
    return f"新增 {counts['add']}，变更 {counts['change']}，删除 {counts['drop']}，新增待定 {counts['pending']}"
