"""Sentences -> tasks: a sentence (or the part of it) that carries a deadline or a rhythm becomes a task;
one that obliges (抓紧, 持续, 常态化) without a date is listed as 待定, never given a guessed date."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise

from duban.draft.dates import Context, find_dates, find_year_scopes
from duban.draft.model import MEDIUM, DraftTask, Owner, Pending, Schedule, Sentence, Target
from duban.draft.owners import Known, find_mentions, split_cell, subjects
from duban.draft.rhythms import find_rhythms
from duban.draft.targets import find_targets

OBLIGATION = re.compile(
    r"抓紧|持续|常态化|定期|适时|及时|尽快|确保|务必|必须|要|应当|应|须|落实|推进|开展|完成|做好|加强|加快|加大|完善|"
    r"建立|健全|严格|坚决|组织|实行|推动|提高|提升|强化|深化|巩固|防止|规范|整改|举办|召开|制定|研究|报送|上报|实现|"
    r"发挥|支持|引导|鼓励|保障|做到|督促|指导|排查|清理"
)
_PRIORITY = re.compile(r"抓紧|持续|常态化|定期|适时|及时|尽快|长期")
_COMMA = re.compile(r"[，,：:]")
_BRACKETED = re.compile(r"[（(]([^（）()]+)[）)]")
_TITLE_LEAD = re.compile(r"^(?:并|同时|确保|要|务必|力争|切实|进一步|全面|及时)+")


@dataclass
class Found:
    """What one document gave: tasks and 待定 items, in document order."""

    tasks: list[DraftTask] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)


def obligation_words(text: str) -> str:
    """The word that makes a sentence an obligation ('' when none), preferring 抓紧/持续/常态化."""
    match = _PRIORITY.search(text) or OBLIGATION.search(text)
    return match.group(0) if match else ""


def heading_window(headings: tuple[str, ...], ctx: Context) -> Schedule | None:
    """A stage's window from its heading, as 动员部署（9月1日至9月5日）, innermost heading first."""
    for heading in reversed(headings):
        for match in _BRACKETED.finditer(heading):
            schedules, _ = find_dates(match[1], ctx)
            if schedules:
                s = schedules[0]
                return Schedule(f"标题“{heading}”", MEDIUM, due=s.due, start=s.start, note=f"本阶段时间{match[0]}")
    return None


def _schedules(text: str, ctx: Context) -> tuple[list[Schedule], list]:
    rhythms = find_rhythms(text)
    dates, unresolved = find_dates(text, ctx, [r.span for r in rhythms])
    return sorted(rhythms + dates, key=lambda s: s.span), unresolved


def _segments(text: str) -> list[tuple[int, int]]:
    cuts = [0, *(m.end() for m in _COMMA.finditer(text)), len(text) + 1]
    return [(a, b - 1) for a, b in pairwise(cuts) if text[a : b - 1].strip()]


def _segment_of(segments: list[tuple[int, int]], at: int) -> int:
    return next((i for i, (a, b) in enumerate(segments) if a <= at < b), len(segments) - 1)


def _groups(text: str, anchors: list[int]) -> list[tuple[int, int]]:
    """Spans of the sentence, one per anchored segment: leading segments join the first, trailing ones the last."""
    segments = _segments(text)
    starts = sorted({_segment_of(segments, a) for a in anchors})
    spans = []
    for n, index in enumerate(starts):
        first = 0 if n == 0 else index
        last = starts[n + 1] - 1 if n + 1 < len(starts) else len(segments) - 1
        spans.append((segments[first][0], segments[last][1]))
    return spans


def _clean_quote(text: str) -> str:
    return text.strip().strip("，,：:、 ")


def short_title(quote: str, schedule: Schedule) -> str:
    """A short title: the part of the quote that holds the schedule, without leading connectives."""
    segments = _segments(quote)
    at = quote.find(schedule.words) if schedule.words in quote else 0
    index = _segment_of(segments, max(at, 0))
    a, b = segments[index]
    if b - a < 8 and index + 1 < len(segments):
        b = segments[index + 1][1]
    title = _TITLE_LEAD.sub("", quote[a:b].strip("，,：: ")) or quote
    return title if len(title) <= 40 else title[:39] + "…"


class Reader:
    """Walks a document's sentences, carrying each paragraph's subject to its following sentences."""

    def __init__(self, ctx: Context, known: list[Known]) -> None:
        self.ctx = ctx
        self.known = known
        self.found = Found()
        self.carry: dict[tuple[int, str], list[Owner]] = {}

    def read(self, sentences: list[Sentence]) -> Found:
        """Every sentence's tasks and 待定 items."""
        for sentence in sentences:
            self.sentence(sentence)
        return self.found

    def _owners(self, sentence: Sentence, quote: str) -> tuple[list[Owner], list[Owner], str]:
        if sentence.table_owner or sentence.table_co_owner:
            return self._cell_owners(sentence.table_owner), self._cell_owners(sentence.table_co_owner, True), "表格"
        for text, source in ((quote, "本句"), (sentence.text, "本句")):
            owners, assists = subjects(text, find_mentions(text, self.known))
            if owners:
                return owners, assists, source
        carried = self.carry.get((sentence.line, sentence.ref))
        if carried:
            return carried, [], "同段前句"
        if sentence.headings and not sentence.heading:
            heading = sentence.headings[-1]
            owners, assists = subjects(heading, find_mentions(heading, self.known))
            if owners:
                return owners, assists, "条款标题"
        return [], [], ""

    def _cell_owners(self, cell: str, assists: bool = False) -> list[Owner]:
        result = []
        for part in split_cell(cell):
            mentions = find_mentions(part, self.known)
            whole = next((m for m in mentions if m.span == (0, len(part))), None)
            kind = whole.kind if whole else (mentions[0].kind if len(mentions) == 1 else "unit")
            name = whole.name if whole else part
            result.append(Owner(name, kind, (0, len(part)), assists=assists))
        return result

    def sentence(self, sentence: Sentence) -> None:
        """Tasks from one sentence, or a 待定 item, or nothing."""
        text = sentence.text
        owners_here, _ = subjects(text, find_mentions(text, self.known))
        if owners_here:
            self.carry[(sentence.line, sentence.ref)] = owners_here
        schedules, unresolved = self._table_schedules(sentence) if sentence.table_due else ([], [])
        if not schedules:
            own, own_unresolved = _schedules(text, self.ctx)
            schedules, unresolved = own, unresolved + own_unresolved
        if sentence.heading and schedules and all(_in_brackets(text, s) for s in schedules):
            return  # the heading's bracketed dates are its stage's window, not a task of their own
        targets = find_targets(text, [s.span for s in schedules])
        if not schedules:
            scopes = [y for y in find_year_scopes(text, self.ctx) if y.strong or targets]
            schedules = [scopes[0].schedule] if scopes else []
        obliges = obligation_words(text)
        if not schedules and not sentence.heading and obliges and not unresolved:
            window = heading_window(sentence.headings, self.ctx)
            schedules = [window] if window else []
        if not schedules:
            if (obliges or unresolved or sentence.table_due) and not sentence.heading:
                reason = (
                    unresolved[0].reason
                    if unresolved
                    else (f"完成时限：{sentence.table_due}" if sentence.table_due else f"有“{obliges}”，无日期或频次")
                )
                self.found.pending.append(Pending(sentence.ref, text, sentence.line, obliges, reason))
            return
        self._tasks(sentence, schedules, targets)

    def _table_schedules(self, sentence: Sentence) -> tuple[list[Schedule], list]:
        schedules, unresolved = _schedules(sentence.table_due, self.ctx)
        # The words sit in the deadline column, not in the quote: no span in the quote.
        return [
            Schedule(
                s.words,
                s.confidence,
                s.due,
                s.start,
                s.every,
                s.times,
                (0, 0),
                "；".join(filter(None, ["出自完成时限栏", s.note])),
            )
            for s in schedules
        ], unresolved

    def _tasks(self, sentence: Sentence, schedules: list[Schedule], targets: list[Target]) -> None:
        text = sentence.text
        in_text = [s for s in schedules if s.span != (0, 0)]
        if len(in_text) > 1:
            spans = _groups(text, [s.span[0] for s in in_text])
        elif (
            len(schedules) == 1
            and schedules[0].due
            and len({_segment_of(_segments(text), t.span[0]) for t in targets}) > 1
        ):
            spans = _groups(text, [t.span[0] for t in targets])
        else:
            spans = [(0, len(text))]
        for start, end in spans:
            quote = _clean_quote(text[start:end])
            offset = start + len(text[start:end]) - len(text[start:end].lstrip())
            mine = [s for s in schedules if s.span == (0, 0) or start <= s.span[0] < end] or schedules
            mine_targets = [t for t in targets if start <= t.span[0] < end]
            owners, assists, source = self._owners(sentence, quote)
            for schedule in mine:
                if any(t.quote == quote and t.schedule.key == schedule.key for t in self.found.tasks):
                    continue
                shifted = _shift(schedule, -offset)
                self.found.tasks.append(
                    DraftTask(
                        ref=sentence.ref,
                        title=short_title(quote, shifted),
                        quote=quote,
                        line=sentence.line,
                        schedule=schedule,
                        owners=owners,
                        co_owners=assists,
                        target=mine_targets[0] if mine_targets else None,
                        more_targets=mine_targets[1:],
                        owner_from=source,
                    )
                )


def _shift(schedule: Schedule, by: int) -> Schedule:
    a, b = schedule.span
    return Schedule(
        schedule.words,
        schedule.confidence,
        schedule.due,
        schedule.start,
        schedule.every,
        schedule.times,
        (a + by, b + by),
        schedule.note,
    )


def _in_brackets(text: str, schedule: Schedule) -> bool:
    return any(m.start() <= schedule.span[0] and schedule.span[1] <= m.end() for m in _BRACKETED.finditer(text))
