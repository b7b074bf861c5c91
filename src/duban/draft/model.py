"""The values the drafting pipeline passes along: lines, sentences, the words that set a task."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

HIGH, MEDIUM, LOW = "高", "中", "低"


@dataclass(frozen=True)
class Line:
    """One paragraph of the document as read, or one table."""

    number: int
    text: str = ""
    rows: tuple[tuple[str, ...], ...] = ()
    row_lines: tuple[int, ...] = ()


@dataclass(frozen=True)
class Schedule:
    """When a task is due: a deadline (with an optional start) or a rhythm, and the words that said so."""

    words: str
    confidence: str
    due: date | None = None
    start: date | None = None
    every: str | None = None
    times: int = 1
    span: tuple[int, int] = (0, 0)
    note: str = ""

    @property
    def key(self) -> tuple:
        """What makes two schedules the same."""
        return (self.due, self.start, self.every, self.times)

    def describe(self) -> str:
        """The schedule in a few words, for comments and the diff."""
        if self.every:
            times = f" ×{self.times}" if self.times > 1 else ""
            return f"every {self.every}{times}"
        start = f"from {self.start} " if self.start else ""
        return f"{start}due {self.due}"


@dataclass(frozen=True)
class Unresolved:
    """Words that name a time the draft will not turn into a date (春节前, 月初)."""

    words: str
    reason: str
    span: tuple[int, int]


@dataclass(frozen=True)
class Target:
    """A figure the owner reports against, and the words that said so."""

    metric: str
    op: str
    value: float
    unit: str
    words: str
    span: tuple[int, int]


@dataclass(frozen=True)
class Owner:
    """A body named in a sentence: a unit, a group (各乡镇) or a role (结对帮扶干部)."""

    name: str
    kind: str
    span: tuple[int, int]
    assists: bool = False


@dataclass(frozen=True)
class Sentence:
    """A sentence of a clause, with the clause's ref and where it was read."""

    ref: str
    text: str
    line: int
    heading: bool = False
    headings: tuple[str, ...] = ()
    table_owner: str = ""
    table_co_owner: str = ""
    table_due: str = ""


@dataclass
class DraftTask:
    """One obligation found: its clause, its verbatim quote, its schedule, owners, target."""

    ref: str
    title: str
    quote: str
    line: int
    schedule: Schedule
    owners: list[Owner] = field(default_factory=list)
    co_owners: list[Owner] = field(default_factory=list)
    target: Target | None = None
    more_targets: list[Target] = field(default_factory=list)
    owner_from: str = ""


@dataclass(frozen=True)
class Pending:
    """A sentence that obliges but gives no date: a person decides (待定)."""

    ref: str
    quote: str
    line: int
    words: str
    reason: str


@dataclass
class Draft:
    """Everything read from one document."""

    source: str
    title: str
    year: int
    issued: date | None
    start: date
    end: date
    window_words: str
    tasks: list[DraftTask]
    pending: list[Pending]
    sentences: list[str] = field(default_factory=list)
    text: str = ""
