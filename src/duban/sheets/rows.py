"""The detail page's ledger rows, written by Python rather than Jinja: a county's ledger has 100,000 rows, and
the same titles, units and levels repeat on most of them, so each text is escaped once and rows are joined in
chunks the template streams out."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from html import escape

from markupsafe import Markup

from duban.sheets.data import Item
from duban.sheets.spool import Run, Spool

CHUNK = 2000  # rows per piece handed to the template


class Escaped(dict[object, str]):
    """Each text HTML-escaped once."""

    def __missing__(self, key: object) -> str:
        value = self[key] = escape(str(key))
        return value


def _task_cell(item: Item, cache: Escaped) -> str:
    task = item.task
    co = f"<small>配合：{cache[task.co_owners]}</small>" if task.co_owners else ""
    return f"{cache[task.title]}{co}"


def _owner_cell(item: Item, cache: Escaped) -> str:
    owner = cache[item.owner_name]
    return owner if item.owner_name == item.unit.label else f"{owner}<small>{cache[item.unit.label]}</small>"


def _due_cell(item: Item) -> str:
    text = f"{item.due.month}月{item.due.day}日"
    if item.original_due:
        text += f"<small>原定{item.original_due.month}月{item.original_due.day}日（已延期）</small>"
    return text


def _figure_cell(item: Item, cache: Escaped) -> str:
    value, target = item.value_text, item.target_text
    out = ""
    if value:
        met = item.target_met
        out = f'<span class="{"met" if met else "unmet" if met is not None else ""}">{cache[value]}</span>'
    if target:
        out += f'{" / " if value else ""}<span class="muted">{cache[target]}</span>'
    return out


def item_row(item: Item, cache: Escaped) -> str:
    """One ledger row: 状态 条款 事项 责任单位（人） 截止 剩余/逾期 督办等级 报告值/目标 佐证 审核."""
    red = ' class="l-red"' if item.status == "overdue" else ""
    return (
        f'<tr class="item" data-status="{item.status}" data-id="{escape(item.id)}">'
        f'<td><span class="pill l-{item.light}">{item.status_text}</span></td><td>{cache[item.task.ref]}</td>'
        f"<td>{_task_cell(item, cache)}</td><td>{_owner_cell(item, cache)}</td><td>{_due_cell(item)}</td>"
        f"<td{red}>{item.days_text}</td><td>{cache[item.level_text]}</td><td>{_figure_cell(item, cache)}</td>"
        f"<td>{item.evidence_count or ''}</td><td>{item.verification}</td></tr>\n"
    )


def item_rows(items: Iterable[Item] | SpooledRows, cache: Escaped | None = None) -> Iterator[Markup]:
    """The rows of `items` in pieces of CHUNK rows (or rows written ahead, as they were written), safe for the
    template."""
    if isinstance(items, SpooledRows):
        yield from items.pieces()
        return
    cache = Escaped() if cache is None else cache
    piece: list[str] = []
    for item in items:
        piece.append(item_row(item, cache))
        if len(piece) == CHUNK:
            yield Markup("".join(piece))
            piece = []
    if piece:
        yield Markup("".join(piece))


class RowSpool:
    """Ledger rows written ahead, section by section, to a temporary file, and read back as the page reaches each
    section: the detail page's counts (at its top) need every item, and the items come once, in the order shown."""

    def __init__(self) -> None:
        self.spool = Spool()
        self.cache = Escaped()

    def add(self, section: str, item: Item) -> None:
        """Write an item's row; the items of a section come together."""
        self.spool.add(section, item_row(item, self.cache))

    def rows(self, section: str) -> SpooledRows:
        """The rows written for a section (none if no item of it came)."""
        return SpooledRows(self.spool.run(section))

    def close(self) -> None:
        """Let the file go."""
        self.spool.close()


class SpooledRows:
    """A section's rows in a `RowSpool`, read back in pieces."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def pieces(self, size: int = 1 << 20) -> Iterator[Markup]:
        """The rows as written, about `size` bytes at a time."""
        decoder = codecs.getincrementaldecoder("utf-8")()  # (a piece may end inside a character)
        for data in self.run.pieces(size):
            yield Markup(decoder.decode(data))
        decoder.decode(b"", final=True)  # raises should the file end inside a character
