"""Excel ledgers (台账): 汇总 with a totals row, one tab per plan section (named by its title), 问题整改; frozen
headers, filters, widths, traffic-light fills. Written by the streaming `duban.sheets.book`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from duban.sheets.book import Book, RowsAhead, Style, sheet_name
from duban.sheets.data import PALETTE, Item
from duban.sheets.sheet import StatusSheet, Tally
from duban.sheets.spool import Run

if TYPE_CHECKING:
    from duban.bulletin import Bulletin, UnitMonth

__all__ = ["sheet_name", "write_bulletin_workbook", "write_ledger"]

ITEM_COLUMNS: tuple[tuple[str, int], ...] = (
    ("状态", 10), ("条款", 11), ("事项", 34), ("责任单位（人）", 16), ("所属单位", 14), ("截止日期", 12),
    ("剩余/逾期", 13), ("督办等级", 22), ("报告值", 9), ("目标", 16), ("佐证数", 7), ("审核", 12),
    ("责任领导", 26), ("编号", 34),
)
UNIT_COLUMNS: tuple[tuple[str, int], ...] = (
    ("单位", 18), ("类别", 12), ("到期", 7), ("按时办结", 9), ("逾期办结", 9), ("已报告未销号", 12), ("已销号", 8),
    ("逾期未办", 9), ("未按期", 8), ("临近", 7), ("未到期", 7), ("按时办结率", 10), ("最长逾期天数", 12),
    ("最高督办等级", 22), ("责任领导", 30),
)
PROBLEM_COLUMNS: tuple[tuple[str, int], ...] = (
    ("状态", 10), ("来源", 14), ("条款", 11), ("问题", 40), ("责任单位", 14), ("整改时限", 12), ("原定时限", 12),
    ("剩余/逾期", 13), ("审核", 12), ("编号", 24),
)
MONTH_COLUMNS: tuple[tuple[str, int], ...] = (
    ("名次", 6), ("单位", 20), ("类别", 12), ("到期事项", 9), ("按时办结", 9), ("逾期办结", 9), ("未办结", 8),
    ("免办", 6), ("按时办结率", 11), ("责任领导", 30),
)
OVERDUE_COLUMNS: tuple[tuple[str, int], ...] = (
    ("状态", 12), ("条款", 11), ("事项", 34), ("责任单位（人）", 16), ("所属单位", 14), ("截止日期", 12),
    ("逾期情况", 14), ("督办等级", 22), ("责任领导", 26), ("编号", 34),
)


class Styles:
    """The cell formats of one workbook, by what they are for."""

    def __init__(self, book: Book) -> None:
        self.book = book
        self.title = Style(font="宋体", size=14, bold=True)
        self.header = Style(font="宋体", bold=True, fill="F2F2F2", center=True)
        self.wrap = book.style(Style(wrap=True))
        self.day = book.style(Style(number_format="yyyy-mm-dd"))
        self.percent = book.style(Style(number_format="0%"))
        self.total = book.style(Style(bold=True, fill="F2F2F2"))
        self.total_percent = book.style(Style(bold=True, fill="F2F2F2", number_format="0%"))
        self.officials: dict[str, str] = {}  # per unit, worked out once
        self.lights = {light: book.style(Style(ink=ink, fill=fill, bold=light == "red"))
                       for light, (ink, fill) in PALETTE.items()}
        book.style(self.title)  # (numbered now, as the first tab would, though rows may be formatted before it)
        book.style(self.header)

    def light(self, name: str | None) -> int:
        """The fill of a traffic light, or the plain format."""
        return self.lights[name] if name else 0

    def sheet(self, name: str, taken: set[str], title: str, columns: Sequence[tuple[str, int]], freeze: str,
              ahead: Run | None = None) -> Any:
        """A new tab with its title and header rows (and rows formatted `ahead`)."""
        return self.book.sheet(sheet_name(name, taken), title, columns, freeze=freeze, title_style=self.title,
                               header_style=self.header, ahead=ahead)


def item_row(item: Item, styles: Styles) -> list[Any]:
    """One ledger row for an occurrence."""
    officials = styles.officials.get(item.unit.id)
    if officials is None:
        officials = styles.officials[item.unit.id] = item.unit.officials
    return [
        (item.status_text, styles.lights[item.light]), item.task.ref, (item.task.title, styles.wrap),
        item.owner_name, item.unit.label, (item.due.date(), styles.day),
        (item.days_text, styles.light("red" if item.status == "overdue" else None)), item.level_text, item.value,
        item.target_text, item.evidence_count, item.verification, (officials, styles.wrap), item.id,
    ]


def _tally_cells(tally: Tally, styles: Styles, total: bool = False) -> list[Any]:
    c = tally.counts

    def n(value: int, light: str | None = None) -> tuple[int, int]:
        return value, styles.total if total else styles.light(light if value else None)

    rate = None if tally.on_time_rate is None else tally.on_time_rate / 100
    return [n(tally.due), n(c["done"]), n(c["done_late"]), n(tally.waiting), n(tally.verified),
            n(c["overdue"], "red"), n(c["missed"], "purple"), n(c["due_soon"], "yellow"), n(c["upcoming"]),
            (rate, styles.total_percent if total else styles.percent)]


def section_tab(code: str, titles: dict[str, str]) -> str:
    """二（三） 全面巩固提升“两不愁三保障”成果 (cut to Excel's 31 characters later), or the clause alone."""
    title = titles.get(code, "")
    return f"{code} {title}" if title else code


class Ledger:
    """An Excel ledger (台账) being made while the items are counted: each section's rows formatted ahead as its
    items come in the order shown (`add`), the tabs written once the counts are made (`write`)."""

    def __init__(self, path: Path) -> None:
        self.book, self.written = Book(path), False
        self.styles = Styles(self.book)
        self.ahead = RowsAhead(self.book, len(ITEM_COLUMNS))

    def add(self, item: Item) -> None:
        """Format the row of a shown item (a section's items come together, most pressing first)."""
        self.ahead.row(item.task.section, item_row(item, self.styles))

    def write(self, sheet: StatusSheet, cases: Iterable[Item] = ()) -> Path:
        """The ledger of `sheet`, its sections' rows those formatted ahead; see `write_ledger`."""
        try:
            path = _write_ledger(self.book, self.styles, sheet, cases, self.ahead)
        finally:
            self.ahead.close()
        self.written = True
        return path

    def close(self) -> None:
        """Let the rows formatted ahead go; a ledger not written is dropped (no .partial file is left)."""
        self.ahead.close()
        if not self.written:
            self.book.abandon()
            self.written = True


def write_ledger(sheet: StatusSheet, path: Path, cases: Iterable[Item] = ()) -> Path:
    """The status sheet as an Excel ledger: 汇总 (units, with a totals row), one tab per plan section, then
    问题整改 (problems with their original and current deadlines) when the plan has any: `cases`, every problem's
    item, shown or not, most pressing first (each section's and the cases' items are written as they come)."""
    book = Book(path)
    return _write_ledger(book, Styles(book), sheet, cases)


def _write_ledger(book: Book, styles: Styles, sheet: StatusSheet, cases: Iterable[Item],
                  ahead: RowsAhead | None = None) -> Path:
    taken: set[str] = set()
    when = sheet.as_of.strftime("%Y-%m-%d %H:%M")
    ws = styles.sheet("汇总", taken, f"{sheet.plan.title} {sheet.title}（截至{when}）", UNIT_COLUMNS, "B3")
    for block in sheet.units:
        ws.row([block.unit.label, block.unit.kind_label, *_tally_cells(block.tally, styles),
                block.worst_days or None, block.top_level, (block.unit.officials, styles.wrap)])
    ws.row([("合计", styles.total), (f"{len(sheet.units)}个单位", styles.total),
            *_tally_cells(sheet.tally, styles, total=True),
            (max((b.worst_days for b in sheet.units), default=0) or None, styles.total), ("", styles.total),
            ("", styles.total)])
    ws.finish()
    titles = sheet.plan.catalog.sections
    for section in sheet.sections:
        if sheet.has_problems and section.problems_only:
            continue  # problems have their own tab below, every one of them with both deadlines
        ws = styles.sheet(section_tab(section.name, titles), taken, f"{section_tab(section.name, titles)} 督办台账"
                          f"（截至{when}）", ITEM_COLUMNS, "C3", ahead.rows_of(section.name) if ahead else None)
        for item in () if ahead else section.items:
            ws.row(item_row(item, styles))
        ws.finish()
    if sheet.has_problems:
        ws = styles.sheet("问题整改", taken, f"问题整改台账（截至{when}）", PROBLEM_COLUMNS, "D3")
        for item in cases:
            original = item.original_due.date() if item.original_due else None
            ws.row([(item.status_text, styles.lights[item.light]), item.task.source, item.task.ref,
                    (item.task.title, styles.wrap), item.unit.label, (item.due.date(), styles.day),
                    (original, styles.day), (item.days_text, styles.light("red" if item.status == "overdue" else None)),
                    item.verification, item.id])
        ws.finish()
    return book.close()


def _month_row(m: UnitMonth, styles: Styles) -> list[Any]:
    unit = m.unit
    return [
        m.rank, unit.label if unit else "合计", unit.kind_label if unit else "", m.due, m.on_time,
        (m.late, styles.light("blue" if m.late else None)), (m.open, styles.light("red" if m.open else None)),
        m.waived, (m.rate, styles.percent), (unit.officials if unit else "", styles.wrap),
    ]


def write_bulletin_workbook(bulletin: Bulletin, path: Path) -> Path:
    """A month's bulletin as a workbook: each unit's month, the rankings, the overdue list."""
    book, taken = Book(path), set()
    styles = Styles(book)
    ws = styles.sheet("各单位情况", taken, bulletin.title, MONTH_COLUMNS, "C3")
    for m in [*bulletin.units, bulletin.total]:
        ws.row(_month_row(m, styles))
    ws.finish()
    for ranking in bulletin.rankings:
        ws = styles.sheet(f"{ranking.label}排名", taken, f"{ranking.label}按时办结率排名（{bulletin.month_text}）",
                          MONTH_COLUMNS, "C3")
        for m in ranking.units:
            ws.row(_month_row(m, styles))
        ws.finish()
    ws = styles.sheet("逾期事项", taken, f"{bulletin.month_text}到期逾期事项", OVERDUE_COLUMNS, "C3")
    for item in bulletin.overdue:
        ws.row([
            ({"overdue": "逾期未办结", "missed": "未按期"}.get(item.status, "逾期办结"), styles.lights[item.light]),
            item.task.ref, (item.task.title, styles.wrap), item.owner_name, item.unit.label,
            (item.due.date(), styles.day), item.days_text, item.level_text, (item.unit.officials, styles.wrap),
            item.id,
        ])
    ws.finish()
    return book.close()
