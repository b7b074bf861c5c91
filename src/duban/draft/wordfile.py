"""Word files: paragraphs with Word's automatic list numbering written out (一、 （一） 1.), and tables."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from duban.draft.model import Line

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_PAREN = "⑴⑵⑶⑷⑸⑹⑺⑻⑼⑽⑾⑿⒀⒁⒂⒃⒄⒅⒆⒇"
_HEAVENLY = "甲乙丙丁戊己庚辛壬癸"
_LEGAL = str.maketrans("一二三四五六七八九十百", "壹贰叁肆伍陆柒捌玖拾佰")


def docx_lines(path: Path) -> list[Line]:
    """The Word file's paragraphs (numbering labels included) and tables, in document order."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError) as error:
        raise ValueError(f"{path}: not a Word .docx file ({error})") from None
    numbering = _Numbering(document)
    lines: list[Line] = []
    for number, child in enumerate(document.element.body.iterchildren(), 1):
        if child.tag == f"{W}p":
            text = "".join(t.text or "" for t in child.iter(f"{W}t")).strip()
            label = numbering.label(child, document)
            if text or label:
                lines.append(Line(number, (label + text).strip()))
        elif child.tag == f"{W}tbl":
            lines.append(Line(number, rows=_table_rows(child)))
    return lines


def _table_rows(table: Any) -> tuple[tuple[str, ...], ...]:
    from docx.table import Table

    rows = []
    for row in Table(table, None).rows:
        cells = tuple("\n".join(p.text for p in cell.paragraphs).strip() for cell in row.cells)
        rows.append(cells)
    return tuple(rows)


def format_number(value: int, fmt: str) -> str:
    """A counter in one of Word's number formats (w:numFmt)."""
    import cn2an

    if fmt in ("chineseCounting", "chineseCountingThousand", "taiwaneseCounting", "ideographDigital"):
        return cn2an.an2cn(value)
    if fmt == "chineseLegalSimplified":
        return cn2an.an2cn(value).translate(_LEGAL)
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese") and value <= len(_CIRCLED):
        return _CIRCLED[value - 1]
    if fmt == "decimalEnclosedParen" and value <= len(_PAREN):
        return _PAREN[value - 1]
    if fmt in ("ideographTraditional", "ideographZodiac") and value <= len(_HEAVENLY):
        return _HEAVENLY[value - 1]
    if fmt == "decimalFullWidth":
        return "".join(chr(ord(c) + 0xFEE0) for c in str(value))
    if fmt in ("lowerLetter", "upperLetter"):
        letter = chr(ord("a") + (value - 1) % 26)
        return letter.upper() if fmt == "upperLetter" else letter
    if fmt in ("bullet", "none"):
        return ""
    return str(value)


class _Numbering:
    """Word's list counters, advanced paragraph by paragraph as Word does."""

    def __init__(self, document: Any) -> None:
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError):
            root = None
        self.abstract: dict[str, dict[int, dict[str, Any]]] = {}
        self.nums: dict[str, tuple[str, dict[int, int]]] = {}
        self.counters: dict[str, dict[int, int]] = {}
        if root is None:
            return
        for abstract in root.iter(f"{W}abstractNum"):
            levels = {}
            for lvl in abstract.iter(f"{W}lvl"):
                levels[int(lvl.get(f"{W}ilvl"))] = {
                    "start": int(_val(lvl, "start") or 1),
                    "fmt": _val(lvl, "numFmt") or "decimal",
                    "text": _val(lvl, "lvlText") or "",
                }
            self.abstract[abstract.get(f"{W}abstractNumId")] = levels
        for num in root.iter(f"{W}num"):
            overrides = {}
            for override in num.iter(f"{W}lvlOverride"):
                start = _val(override, "startOverride")
                if start is not None:
                    overrides[int(override.get(f"{W}ilvl"))] = int(start)
            self.nums[num.get(f"{W}numId")] = (_val(num, "abstractNumId") or "", overrides)

    def label(self, paragraph: Any, document: Any) -> str:
        """The paragraph's list label (一、 or （二） or 3.), advancing the counters; '' when unnumbered."""
        num_id, level = _num_pr(paragraph, document)
        if num_id is None or num_id == "0" or num_id not in self.nums:
            return ""
        abstract_id, overrides = self.nums[num_id]
        levels = self.abstract.get(abstract_id, {})
        if level not in levels:
            return ""
        counters = self.counters.setdefault(abstract_id, {})
        if num_id not in self.counters.setdefault("#seen", {}):
            self.counters["#seen"][num_id] = 1
            for lvl, start in overrides.items():
                counters[lvl] = start - 1
        counters[level] = counters.get(level, levels[level]["start"] - 1) + 1
        for deeper in [k for k in counters if k > level]:
            del counters[deeper]
        text = levels[level]["text"]
        for index in range(level + 1):
            info = levels.get(index, {"start": 1, "fmt": "decimal"})
            text = text.replace(f"%{index + 1}", format_number(counters.get(index, info["start"]), info["fmt"]))
        return text


def _val(element: Any, tag: str) -> str | None:
    child = element.find(f"{W}{tag}")
    return None if child is None else child.get(f"{W}val")


def _num_pr(paragraph: Any, document: Any) -> tuple[str | None, int]:
    """numId and level from the paragraph, else from its style chain."""
    ppr = paragraph.find(f"{W}pPr")
    num_pr = ppr.find(f"{W}numPr") if ppr is not None else None
    num_id, level = None, None
    if num_pr is not None:
        num_id, ilvl = _val(num_pr, "numId"), _val(num_pr, "ilvl")
        level = int(ilvl) if ilvl is not None else None
    style_id = _val(ppr, "pStyle") if ppr is not None else None
    seen: set[str] = set()
    while (num_id is None or level is None) and style_id and style_id not in seen:
        seen.add(style_id)
        style = document.styles.element.get_by_id(style_id)
        if style is None:
            break
        style_ppr = style.find(f"{W}pPr")
        style_num = style_ppr.find(f"{W}numPr") if style_ppr is not None else None
        if style_num is not None:
            num_id = num_id if num_id is not None else _val(style_num, "numId")
            ilvl = _val(style_num, "ilvl")
            level = level if level is not None or ilvl is None else int(ilvl)
        style_id = _val(style, "basedOn")
    return num_id, level or 0
