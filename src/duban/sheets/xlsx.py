"""Excel ledgers (台账) with openpyxl: one sheet per section, frozen headers, filters, widths, traffic-light fills."""

from __future__ import annotations

import re
from collections.abc import Sequence
from copy import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet

from duban.sheets.data import PALETTE, Item
from duban.sheets.sheet import StatusSheet, Tally
from duban.xlsxsafe import as_text, formula_like

if TYPE_CHECKING:
    from duban.bulletin import Bulletin, UnitMonth

ITEM_COLUMNS: tuple[tuple[str, int], ...] = (
    ("状态", 10), ("条款", 11), ("事项", 34), ("责任单位（人）", 16), ("所属单位", 14), ("截止日期", 12),
    ("剩余/逾期", 13), ("督办等级", 22), ("报告值", 9), ("目标", 16), ("佐证数", 7), ("审核", 8),
    ("责任领导", 26), ("编号", 34),
)
UNIT_COLUMNS: tuple[tuple[str, int], ...] = (
    ("单位", 18), ("类别", 12), ("逾期", 7), ("临近", 7), ("未到期", 7), ("逾期办结", 9), ("按时办结", 9),
    ("按时办结率", 10), ("最长逾期天数", 12), ("最高督办等级", 22), ("责任领导", 30),
)
MONTH_COLUMNS: tuple[tuple[str, int], ...] = (
    ("名次", 6), ("单位", 20), ("类别", 12), ("到期事项", 9), ("按时办结", 9), ("逾期办结", 9), ("未办结", 8),
    ("免办", 6), ("按时办结率", 11), ("责任领导", 30),
)
OVERDUE_COLUMNS: tuple[tuple[str, int], ...] = (
    ("状态", 12), ("条款", 11), ("事项", 34), ("责任单位（人）", 16), ("所属单位", 14), ("截止日期", 12),
    ("逾期情况", 14), ("督办等级", 22), ("责任领导", 26), ("编号", 34),
)
SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


class Styles:
    """Cell styles made once per workbook: each combination is built on one cell, then copied as a style array
    (openpyxl hashes style objects on every assignment, which dominates the time of a large ledger).
    Cells that need no style are written as plain values; gridlines are printed instead of cell borders."""

    def __init__(self) -> None:
        self.title = Font(name="宋体", size=14, bold=True)
        self.header = Font(name="宋体", bold=True)
        self.header_fill = PatternFill("solid", fgColor="F2F2F2")
        self.wrap = Alignment(wrap_text=True, vertical="top")
        self.center = Alignment(horizontal="center", vertical="top")
        self.fills = {light: PatternFill("solid", fgColor=fill) for light, (_, fill) in PALETTE.items()}
        self.fonts = {light: Font(color=ink, bold=light == "red") for light, (ink, _) in PALETTE.items()}
        self._arrays: dict[tuple, Any] = {}

    def array(self, ws: WriteOnlyWorksheet, light: str | None, wrap: bool, number_format: str | None,
              font: Font | None) -> Any:
        """The style array for a combination, built on first use."""
        key = (light, wrap, number_format, id(font))
        if key not in self._arrays:
            cell = WriteOnlyCell(ws)
            if light:
                cell.fill, cell.font = self.fills[light], self.fonts[light]
            if font is not None:
                cell.font = font
            if wrap:
                cell.alignment = self.wrap
            if number_format:
                cell.number_format = number_format
            self._arrays[key] = cell._style
        return self._arrays[key]


def _cell(ws: WriteOnlyWorksheet, value: Any, styles: Styles, *, light: str | None = None, wrap: bool = False,
          number_format: str | None = None, font: Font | None = None) -> WriteOnlyCell | Any:
    if not (light or wrap or number_format or font or formula_like(value)):
        return value
    cell = WriteOnlyCell(ws, value)
    cell._style = copy(styles.array(ws, light, wrap, number_format, font))
    return as_text(cell)  # a title or name typed as "=..." is text, never a formula


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name (31 characters, none of []:*?/\\)."""
    base = SHEET_NAME_BAD.sub("-", name).strip("'")[:31] or "Sheet"
    candidate, n = base, 2
    while candidate in taken:
        suffix = f"-{n}"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate)
    return candidate


def start_table(ws: WriteOnlyWorksheet, title: str, columns: Sequence[tuple[str, int]], styles: Styles,
                rows: int, freeze: str = "A3") -> None:
    """Title row, header row, frozen panes, a filter over the rows to come, widths, A4 landscape printing."""
    for index, (_, width) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = freeze
    ws.auto_filter.ref = f"A2:{get_column_letter(len(columns))}{max(rows + 2, 2)}"
    ws.print_title_rows = "1:2"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.print_options.gridLines = True
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.append([_cell(ws, title, styles, font=styles.title)])
    header = []
    for name, _ in columns:
        cell = _cell(ws, name, styles, font=styles.header)
        cell.fill, cell.alignment = styles.header_fill, styles.center
        header.append(cell)
    ws.append(header)


def item_row(ws: WriteOnlyWorksheet, item: Item, styles: Styles) -> list[WriteOnlyCell]:
    """One ledger row for an occurrence."""
    red = "red" if item.status == "overdue" else None
    return [
        _cell(ws, item.status_text, styles, light=item.light),
        _cell(ws, item.task.ref, styles),
        _cell(ws, item.task.title, styles, wrap=True),
        _cell(ws, item.owner_name, styles),
        _cell(ws, item.unit.label, styles),
        _cell(ws, item.due.date(), styles, number_format="yyyy-mm-dd"),
        _cell(ws, item.days_text, styles, light=red),
        _cell(ws, item.level_text, styles),
        _cell(ws, item.value, styles),
        _cell(ws, item.target_text, styles),
        _cell(ws, item.evidence_count, styles),
        _cell(ws, item.verification, styles),
        _cell(ws, item.unit.officials, styles, wrap=True),
        _cell(ws, item.id, styles),
    ]


def _tally_cells(ws: WriteOnlyWorksheet, tally: Tally, styles: Styles) -> list[WriteOnlyCell]:
    counts = tally.counts
    return [
        _cell(ws, counts["overdue"], styles, light="red" if counts["overdue"] else None),
        _cell(ws, counts["due_soon"], styles, light="yellow" if counts["due_soon"] else None),
        _cell(ws, counts["upcoming"], styles),
        _cell(ws, counts["done_late"], styles),
        _cell(ws, counts["done"], styles),
        _cell(ws, None if tally.on_time_rate is None else tally.on_time_rate / 100, styles, number_format="0%"),
    ]


def write_ledger(sheet: StatusSheet, path: Path) -> Path:
    """The status sheet as an Excel ledger: 汇总 (by unit), then one sheet per plan section."""
    wb, styles, taken = Workbook(write_only=True), Styles(), set()
    when = sheet.as_of.strftime("%Y-%m-%d %H:%M")
    ws = wb.create_sheet(sheet_name("汇总", taken))
    start_table(ws, f"{sheet.plan.title} {sheet.title}（截至{when}）", UNIT_COLUMNS, styles, len(sheet.units), "B3")
    for block in sheet.units:
        ws.append([_cell(ws, block.unit.label, styles), _cell(ws, block.unit.kind_label, styles),
                   *_tally_cells(ws, block.tally, styles), _cell(ws, block.worst_days or None, styles),
                   _cell(ws, block.top_level, styles), _cell(ws, block.unit.officials, styles, wrap=True)])
    for section in sheet.sections:
        ws = wb.create_sheet(sheet_name(section.name, taken))
        start_table(ws, f"{section.name} 督办台账（截至{when}）", ITEM_COLUMNS, styles, len(section.items), "C3")
        for item in section.items:
            ws.append(item_row(ws, item, styles))
    return save(wb, path)


def save(wb: Workbook, path: Path) -> Path:
    """Save atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    wb.save(partial)
    partial.replace(path)
    return path


def _month_row(ws: WriteOnlyWorksheet, m: UnitMonth, styles: Styles) -> list[WriteOnlyCell]:
    unit = m.unit
    return [
        _cell(ws, m.rank, styles), _cell(ws, unit.label if unit else "合计", styles),
        _cell(ws, unit.kind_label if unit else "", styles), _cell(ws, m.due, styles), _cell(ws, m.on_time, styles),
        _cell(ws, m.late, styles, light="blue" if m.late else None),
        _cell(ws, m.open, styles, light="red" if m.open else None), _cell(ws, m.waived, styles),
        _cell(ws, m.rate, styles, number_format="0%"), _cell(ws, unit.officials if unit else "", styles, wrap=True),
    ]


def write_bulletin_workbook(bulletin: Bulletin, path: Path) -> Path:
    """A month's bulletin as a workbook: each unit's month, the rankings, the overdue list."""
    wb, styles, taken = Workbook(write_only=True), Styles(), set()
    ws = wb.create_sheet(sheet_name("各单位情况", taken))
    start_table(ws, bulletin.title, MONTH_COLUMNS, styles, len(bulletin.units) + 1, "C3")
    for m in [*bulletin.units, bulletin.total]:
        ws.append(_month_row(ws, m, styles))
    for ranking in bulletin.rankings:
        ws = wb.create_sheet(sheet_name(f"{ranking.label}排名", taken))
        start_table(ws, f"{ranking.label}按时办结率排名（{bulletin.month_text}）", MONTH_COLUMNS, styles,
                    len(ranking.units), "C3")
        for m in ranking.units:
            ws.append(_month_row(ws, m, styles))
    ws = wb.create_sheet(sheet_name("逾期事项", taken))
    start_table(ws, f"{bulletin.month_text}到期逾期事项", OVERDUE_COLUMNS, styles, len(bulletin.overdue), "C3")
    for item in bulletin.overdue:
        ws.append([
            _cell(ws, {"overdue": "逾期未办结", "missed": "未按期"}.get(item.status, "逾期办结"), styles,
                  light=item.light),
            _cell(ws, item.task.ref, styles), _cell(ws, item.task.title, styles, wrap=True),
            _cell(ws, item.owner_name, styles), _cell(ws, item.unit.label, styles),
            _cell(ws, item.due.date(), styles, number_format="yyyy-mm-dd"), _cell(ws, item.days_text, styles),
            _cell(ws, item.level_text, styles), _cell(ws, item.unit.officials, styles, wrap=True),
            _cell(ws, item.id, styles),
        ])
    return save(wb, path)
