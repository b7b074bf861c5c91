"""XLSX against hostile content: text that looks like a formula is written as text; a zip bomb is refused unread."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.cell import Cell

# Spreadsheets treat text starting with these as a formula (tab and CR too, when a sheet is pasted or re-saved as CSV).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A contacts list of 100,000 people or a ledger of 50,000 rows inflates to well under 100 MB.
MAX_INFLATED = 256 * 1024 * 1024
MAX_PARTS = 1000
# Real sheets compress 5-50 times; a part that inflates past RATIO_FROM at more than MAX_RATIO is a bomb.
MAX_RATIO = 200
RATIO_FROM = 16 * 1024 * 1024


class XlsxRefused(ValueError):
    """A file that is not read as a workbook: `FILE: reason`."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


def formula_like(value: Any) -> bool:
    """Whether a spreadsheet would take this value for a formula if it were written as typed."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def as_text(cell: Cell) -> Cell:
    """Keep a cell whose text looks like a formula a text cell (and text when someone edits it in Excel)."""
    if formula_like(cell.value):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def _mb(size: int) -> str:
    return f"{size / 1048576:,.0f} MB" if size >= 1048576 else f"{size / 1024:,.0f} kB"


def check_archive(path: str | Path) -> None:
    """Refuse a zip whose parts would inflate too far, judged by the sizes its directory declares.

    The declared sizes are enough: Python's zipfile never inflates a part past its declared size."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except IsADirectoryError:
        raise XlsxRefused(path, "is a folder, not an Excel file") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError):
        raise XlsxRefused(path, "cannot read as an Excel .xlsx file (not a zip archive): save it as .xlsx") from None
    if len(parts) > MAX_PARTS:
        raise XlsxRefused(path, f"refused: {len(parts)} parts in the archive (an Excel file has a few dozen)")
    total = sum(part.file_size for part in parts)
    if total > MAX_INFLATED:
        raise XlsxRefused(path, f"refused: its parts would inflate to {_mb(total)} (at most {_mb(MAX_INFLATED)}); "
                                f"this is not a contacts list or ledger")
    for part in parts:
        if part.file_size > RATIO_FROM and part.file_size > MAX_RATIO * max(part.compress_size, 1):
            raise XlsxRefused(path, f"refused: part {part.filename} would inflate {_mb(part.compress_size)} "
                                    f"to {_mb(part.file_size)} (a zip bomb)")


def open_workbook(path: str | Path) -> Workbook:
    """A workbook to read (read-only, values not formulas), once its archive has passed `check_archive`."""
    from openpyxl import load_workbook

    check_archive(path)
    try:
        return load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a zip that is not a workbook
        raise XlsxRefused(path, f"cannot read as an Excel .xlsx file ({type(error).__name__})") from None
