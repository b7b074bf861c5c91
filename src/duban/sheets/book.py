"""A streaming XLSX writer for ledgers: rows go straight into the zip as XML, one sheet after another.

openpyxl builds an object per cell and spends ~20 µs on each; a county's ledger has 1.4 million cells. This writer
formats each row as text (strings inline, never formulas; numbers and dates typed; styles as cell formats made
once per workbook), so memory does not grow with the rows and the time is the zip's. What it writes: column widths,
frozen panes, a filter over the table, print titles, A4 landscape fit to width, gridlines printed.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from duban.sheets.spool import Run, Spool
from duban.xlsxsafe import formula_like

EXCEL_EPOCH = date(1899, 12, 30)
BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML 1.0 cannot hold
SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
CACHE_LIMIT = 20_000  # escaped texts kept for reuse (titles, units repeat; ids do not), then begun afresh
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
REL_NS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


@dataclass(frozen=True, slots=True)
class Style:
    """How a cell looks: font, fill, alignment, number format. Made into a cell format once per workbook."""

    ink: str = ""  # RRGGBB
    fill: str = ""  # RRGGBB
    bold: bool = False
    size: float = 11
    font: str = "Calibri"
    wrap: bool = False
    center: bool = False
    number_format: str = ""  # "yyyy-mm-dd", "0%"
    quote: bool = False  # text that would look like a formula when edited: kept text (quotePrefix)


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name (31 characters, none of []:*?/\\)."""
    base = SHEET_NAME_BAD.sub("-", name).strip("'")[:31].strip() or "Sheet"
    candidate, n = base, 2
    while candidate.lower() in {t.lower() for t in taken}:
        suffix = f"-{n}"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate)
    return candidate


def _quoted(sheet: str) -> str:
    """A sheet's name as a formula reference spells it: '二（一） 标题' (an apostrophe doubled), XML-escaped."""
    return _escape("'" + sheet.replace("'", "''") + "'")


def _escape(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return BAD_XML.sub("", text)


def _column_letter(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class Book:
    """One workbook being written to `path` (atomically: a .partial file renamed on `close`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = path.with_name(path.name + ".partial")
        self.zip = zipfile.ZipFile(self.partial, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        self.sheets: list[tuple[str, str]] = []  # (name, the filtered area once the sheet is finished)
        self.styles: dict[Style, int] = {Style(): 0}
        self.texts: dict[str, tuple[str, bool]] = {}

    def style(self, style: Style) -> int:
        """The cell format number of a style."""
        number = self.styles.get(style)
        if number is None:
            number = self.styles[style] = len(self.styles)
        return number

    def text(self, value: str) -> tuple[str, bool]:
        """A string cell's body, escaped once per distinct text, and whether it looks like a formula."""
        known = self.texts.get(value)
        if known is None:
            space = ' xml:space="preserve"' if value != value.strip() else ""
            known = (f'" t="inlineStr"><is><t{space}>{_escape(value)}</t></is></c>', formula_like(value))
            if len(self.texts) >= CACHE_LIMIT:
                self.texts.clear()  # (texts that repeat are soon back; ids, which do not, no longer pile up)
            self.texts[value] = known
        return known

    def quoted(self, number: int) -> int:
        """The cell format like `number` that also keeps a formula-looking text text when edited (quotePrefix)."""
        style = next(s for s, n in self.styles.items() if n == number)
        return self.style(Style(style.ink, style.fill, style.bold, style.size, style.font, style.wrap, style.center,
                                style.number_format, quote=True))

    def sheet(self, name: str, title: str, columns: Sequence[tuple[str, int]], *, freeze: str = "A3",
              title_style: Style, header_style: Style, ahead: Run | None = None) -> Sheet:
        """Start a sheet (the previous one must be finished): title row, header row, the rows formatted `ahead`
        (`RowsAhead.rows_of`), then `Sheet.row`."""
        return Sheet(self, name, title, columns, freeze, title_style, header_style, ahead)

    def close(self) -> Path:
        """Write the workbook's parts and move the file into place."""
        names = "".join(f'<sheet name="{_escape(name)}" sheetId="{n}" r:id="rId{n}"/>'
                        for n, (name, _) in enumerate(self.sheets, start=1))
        titles = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{n}" hidden="1">{_quoted(name)}!{area}'
            f'</definedName><definedName name="_xlnm.Print_Titles" localSheetId="{n}">{_quoted(name)}!$1:$2'
            '</definedName>' for n, (name, area) in enumerate(self.sheets))
        self.zip.writestr("xl/workbook.xml", f"{HEAD}<workbook {NS} {REL_NS}><bookViews><workbookView/></bookViews>"
                                             f"<sheets>{names}</sheets><definedNames>{titles}</definedNames></workbook>")
        rels = "".join(f'<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                       f'relationships/worksheet" Target="worksheets/sheet{n}.xml"/>'
                       for n in range(1, len(self.sheets) + 1))
        styles_id = len(self.sheets) + 1
        rels += (f'<Relationship Id="rId{styles_id}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                 'relationships/styles" Target="styles.xml"/>')
        self.zip.writestr("xl/_rels/workbook.xml.rels", f"{HEAD}<Relationships xmlns=\"http://schemas.openxmlformats"
                                                        f".org/package/2006/relationships\">{rels}</Relationships>")
        self.zip.writestr("xl/styles.xml", self._styles_xml())
        overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.'
                            'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                            for n in range(1, len(self.sheets) + 1))
        self.zip.writestr("[Content_Types].xml", (
            f'{HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            f'spreadsheetml.styles+xml"/>{overrides}</Types>'))
        self.zip.writestr("_rels/.rels", (
            f'{HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="xl/workbook.xml"/></Relationships>'))
        self.zip.close()
        self.partial.replace(self.path)
        return self.path

    def abandon(self) -> None:
        """Drop a workbook that will not be finished: its .partial file is deleted, nothing is moved into place."""
        self.zip.close()
        self.partial.unlink(missing_ok=True)

    def _styles_xml(self) -> str:
        formats = {f: 164 + n for n, f in enumerate(dict.fromkeys(
            s.number_format for s in self.styles if s.number_format and s.number_format != "0%"))}
        formats_xml = "".join(f'<numFmt numFmtId="{i}" formatCode="{_escape(f)}"/>' for f, i in formats.items())
        fonts = list(dict.fromkeys((s.font, s.size, s.bold, s.ink) for s in self.styles))
        fills = list(dict.fromkeys(s.fill for s in self.styles if s.fill))
        fonts_xml = "".join(_font(name, size, bold, ink) for name, size, bold, ink in fonts)
        fills_xml = '<fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
        fills_xml += "".join(f'<fill><patternFill patternType="solid"><fgColor rgb="FF{f}"/></patternFill></fill>'
                             for f in fills)
        xfs = []
        for s in self.styles:  # in number order (insertion)
            number = 9 if s.number_format == "0%" else formats.get(s.number_format, 0)
            fill = fills.index(s.fill) + 2 if s.fill else 0
            font = fonts.index((s.font, s.size, s.bold, s.ink))
            xfs.append(_xf(number, font, fill, s))
        return (f'{HEAD}<styleSheet {NS}><numFmts count="{len(formats)}">{formats_xml}</numFmts>'
                f'<fonts count="{len(fonts)}">{fonts_xml}</fonts><fills count="{len(fills) + 2}">{fills_xml}</fills>'
                '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
                '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
                f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
                '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')


class Sheet:
    """One worksheet being streamed: `row` appends, `finish` closes it (the filter covers the rows written)."""

    def __init__(self, book: Book, name: str, title: str, columns: Sequence[tuple[str, int]], freeze: str,
                 title_style: Style, header_style: Style, ahead: Run | None = None) -> None:
        self.book, self.columns = book, len(columns)
        book.sheets.append((name, ""))
        self.letters = [_column_letter(i) for i in range(1, len(columns) + 1)]
        # no ZIP64 headers: a sheet stays well under 2 GiB of XML (a 1M-occurrence ledger is ~0.6 GB), and
        # some spreadsheet programs refuse ZIP64 entries they do not need
        self.out = book.zip.open(f"xl/worksheets/sheet{len(book.sheets)}.xml", "w")
        self.rows, self.buffer = 0, []
        self.out.write(f"{HEAD}<worksheet {NS} {REL_NS}><sheetPr><pageSetUpPr fitToPage=\"1\"/></sheetPr>"
                       f"<sheetViews><sheetView workbookViewId=\"0\">{_pane(freeze)}</sheetView></sheetViews>"
                       "<sheetFormatPr defaultRowHeight=\"15\"/><cols>".encode())
        self.out.write("".join(f'<col min="{i}" max="{i}" width="{width}" customWidth="1"/>'
                               for i, (_, width) in enumerate(columns, start=1)).encode())
        self.out.write(b"</cols><sheetData>")
        self.row([(title, book.style(title_style))])
        header = book.style(header_style)
        self.row([(name, header) for name, _ in columns])
        if isinstance(ahead, Run) and ahead.count:  # rows formatted ahead, numbered from 3
            self.out.write("".join(self.buffer).encode())
            self.buffer.clear()
            for piece in ahead:
                self.out.write(piece)
            self.rows += ahead.count

    def row(self, cells: Iterable[Any]) -> None:
        """Append a row: each cell a value (str, int, float, date, None) or (value, style number)."""
        self.rows += 1
        self.buffer.append(row_xml(self.book, self.letters, self.rows, cells))
        if len(self.buffer) >= 1000:
            self.out.write("".join(self.buffer).encode())
            self.buffer.clear()

    def finish(self) -> None:
        """Close the sheet: filter over the header and rows, print settings."""
        self.out.write("".join(self.buffer).encode())
        self.buffer.clear()
        last = f"{self.letters[-1]}{max(self.rows, 2)}"
        name, _ = self.book.sheets[-1]
        self.book.sheets[-1] = (name, f"$A$2:${self.letters[-1]}${max(self.rows, 2)}")
        self.out.write(f'</sheetData><autoFilter ref="A2:{last}"/><printOptions gridLines="1"/>'
                       '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
                       '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
                       "</worksheet>".encode())
        self.out.close()


def row_xml(book: Book, letters: Sequence[str], n: int, cells: Iterable[Any]) -> str:
    """Row `n` of a sheet as XML: each cell a value (str, int, float, date, None) or (value, style number)."""
    texts = book.texts
    parts = [f'<row r="{n}">']
    for letter, cell in zip(letters, cells, strict=False):
        if type(cell) is tuple:
            value, style = cell
        else:
            value, style = cell, 0
        kind = type(value)
        if kind is str:
            if not value:
                if style:
                    parts.append(f'<c r="{letter}{n}" s="{style}"/>')
                continue
            body, quote = texts.get(value) or book.text(value)
            if quote:
                style = book.quoted(style)
            parts.append(f'<c r="{letter}{n}" s="{style}{body}')
        elif value is None:
            if style:
                parts.append(f'<c r="{letter}{n}" s="{style}"/>')
        elif kind is int or kind is float:
            parts.append(f'<c r="{letter}{n}" s="{style}"><v>{value!r}</v></c>')
        elif kind is date or kind is datetime:
            day = value.date() if kind is datetime else value
            parts.append(f'<c r="{letter}{n}" s="{style}"><v>{(day - EXCEL_EPOCH).days}</v></c>')
        elif kind is bool:
            parts.append(f'<c r="{letter}{n}" s="{style}" t="b"><v>{int(value)}</v></c>')
        else:
            raise TypeError(f"xlsx cell {letter}{n}: cannot write a {kind.__name__}")
    parts.append("</row>")
    return "".join(parts)


class RowsAhead:
    """Rows of several sheets formatted before their sheets are begun (while a ledger's counts, which come first,
    are still being made), kept in a temporary file, one run of rows per key, and handed to `Book.sheet`."""

    def __init__(self, book: Book, columns: int) -> None:
        self.book, self.letters = book, [_column_letter(i) for i in range(1, columns + 1)]
        self.spool = Spool()

    def row(self, key: str, cells: Iterable[Any]) -> None:
        """Format a row of the sheet `key` (rows of one key come together)."""
        number = self.spool.counted(key) + 3  # after the title and header
        self.spool.add(key, row_xml(self.book, self.letters, number, cells))

    def rows_of(self, key: str) -> Run:
        """The rows formatted for `key` (none if none came), to pass to `Book.sheet`."""
        return self.spool.run(key)

    def close(self) -> None:
        """Let the file go."""
        self.spool.close()


def _font(name: str, size: float, bold: bool, ink: str) -> str:
    color = f'<color rgb="FF{ink}"/>' if ink else ""
    return f'<font>{"<b/>" if bold else ""}<sz val="{size:g}"/>{color}<name val="{_escape(name)}"/></font>'


def _xf(number: int, font: int, fill: int, s: Style) -> str:
    flags = ""
    if number:
        flags += ' applyNumberFormat="1"'
    if font:
        flags += ' applyFont="1"'
    if fill:
        flags += ' applyFill="1"'
    if s.quote:
        flags += ' quotePrefix="1"'
    head = f'<xf numFmtId="{number}" fontId="{font}" fillId="{fill}" borderId="0" xfId="0"{flags}'
    if not (s.wrap or s.center):
        return head + "/>"
    horizontal = ' horizontal="center"' if s.center else ""
    wrap = ' wrapText="1"' if s.wrap else ""
    return f'{head} applyAlignment="1"><alignment{horizontal} vertical="top"{wrap}/></xf>'


def _pane(freeze: str) -> str:
    match = re.fullmatch(r"([A-Z]+)(\d+)", freeze)
    if not match or freeze == "A1":
        return ""
    letters, row = match.groups()
    columns = 0
    for ch in letters:
        columns = columns * 26 + ord(ch) - 64
    x, y = columns - 1, int(row) - 1
    pane = "bottomRight" if x and y else "bottomLeft" if y else "topRight"
    split = (f' xSplit="{x}"' if x else "") + (f' ySplit="{y}"' if y else "")
    return (f'<pane{split} topLeftCell="{freeze}" activePane="{pane}" state="frozen"/>'
            f'<selection pane="{pane}"/>')
