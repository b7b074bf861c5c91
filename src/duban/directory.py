"""The contacts directory: people read from CSV or XLSX, checked row by row."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from duban.catalog import Catalog, CatalogError, Problem
from duban.controlchars import control_problem
from duban.yamlsrc import Where

HEADERS = {
    "id": "id",
    "编号": "id",
    "工号": "id",
    "name": "name",
    "姓名": "name",
    "unit": "unit",
    "单位": "unit",
    "roles": "roles",
    "角色": "roles",
    "email": "email",
    "邮箱": "email",
    "电子邮箱": "email",
    "mobile": "mobile",
    "手机": "mobile",
    "手机号": "mobile",
    "手机号码": "mobile",
}
REQUIRED = ("name", "unit", "roles")
COLUMNS_HELP = "need name, unit, roles, email, mobile or 姓名, 单位, 角色, 邮箱, 手机"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
MOBILE_SEPARATORS = re.compile(r"[\s\-.()]")
SAVE_AS = "save it as .xlsx or CSV UTF-8"
# What openpyxl raises for a file that is not a whole workbook: not a zip, a truncated zip, a member
# missing, a broken XML part (lxml's and ElementTree's parse errors are both SyntaxErrors).
XLSX_BROKEN = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, SyntaxError)


@dataclass(frozen=True, slots=True)
class Person:
    """A contact: who holds which roles in which unit, and how to reach them."""

    id: str
    name: str
    unit: str
    roles: tuple[str, ...]
    email: str = ""
    mobile: str = ""


@dataclass(frozen=True, slots=True)
class Directory:
    """The people of a contacts file, and the text encoding a CSV was read in ("" for XLSX)."""

    people: list[Person]
    encoding: str = ""


def person_from_row(row: Any) -> Person:
    """A person as the store keeps them (a `person` row: roles ';'-joined, `unit_id`)."""
    roles = tuple(filter(None, row.roles.split(";")))
    return Person(row.id, row.name, row.unit_id, roles, row.email, getattr(row, "mobile", ""))


def person_id(name: str, unit: str, mobile: str, email: str) -> str:
    """A stable id for a row without one: derived, never the raw number."""
    basis = mobile or email or f"{unit}/{name}"
    return "p" + hashlib.sha1(basis.encode()).hexdigest()[:8]


def normalize_mobile(raw: str) -> str:
    """ASCII digits (full-width ones too), without spaces, dashes, dots, brackets or a +86 / 86 prefix."""
    digits = MOBILE_SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            return digits[len(prefix) :]
    return digits


def decode_csv(data: bytes, source: str) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read in: UTF-8 (with or without BOM), else GB18030."""
    here = Where(source, 1, 1)
    if data.startswith(b"PK\x03\x04"):
        raise CatalogError([Problem(here, "this is an Excel workbook (.xlsx), not a CSV: name it .xlsx")])
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise CatalogError([Problem(here, f"this is an old Excel workbook (.xls), not a CSV: {SAVE_AS}")])
    # Excel's "CSV UTF-8" (with a BOM) or plain UTF-8 first, then what Excel and WPS write as "CSV" on a
    # Chinese Windows (the ANSI code page, GBK, which GB18030 contains).
    try:
        return data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError as error:
        not_utf8 = error
    with contextlib.suppress(UnicodeDecodeError):
        return data.decode("gb18030"), "GB18030"
    line = data.count(b"\n", 0, not_utf8.start) + 1
    message = f"neither UTF-8 nor GB18030 (GBK) text (byte {not_utf8.start + 1}): {SAVE_AS}"
    raise CatalogError([Problem(Where(source, line, 1), message)])


def _rows_csv(text: str, source: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1
    try:
        for row in reader:
            yield line, row
            line = reader.line_num + 1  # a quoted cell may span lines: name the line its row starts on
    except csv.Error as error:
        raise CatalogError([Problem(Where(source, line, 1), f"not readable as CSV: {error}")]) from None


def _rows_xlsx(path: Path) -> Iterator[tuple[int, list[str]]]:
    from duban.xlsxsafe import open_workbook

    sheet = open_workbook(path).worksheets[0]
    for line, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        yield line, ["" if cell is None else str(cell) for cell in row]


def _rows_xlsx_readable(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        yield from _rows_xlsx(path)
    except XLSX_BROKEN as error:
        detail = str(error).strip("\"'") or type(error).__name__
        message = f"cannot be read as an Excel workbook ({detail}): open it in Excel and save it again, as .xlsx"
        raise CatalogError([Problem(Where(str(path), 1, 1), message)]) from None


def read_rows(rows: Iterable[tuple[int, list[str]]], path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) for each data row, with headers mapped to English names."""
    header: list[str | None] = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if not header:
            header = [HEADERS.get(cell.strip().lower(), HEADERS.get(cell.strip())) for cell in row]
            missing = [name for name in REQUIRED if name not in header]
            if missing:
                raise CatalogError(
                    [
                        Problem(
                            Where(str(path), line, 1),
                            f"missing column(s): {', '.join(missing)} ({COLUMNS_HELP})",
                        )
                    ]
                )
            continue
        yield line, {key: cell.strip() for key, cell in zip(header, row, strict=False) if key}


def check_people(rows: Iterable[tuple[int, dict[str, str]]], catalog: Catalog, source: str) -> list[Person]:
    """Validate rows against the catalog; raise CatalogError naming every bad row."""
    people: list[Person] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        here = Where(source, line, 1)
        # A control character in any field would end up in a mail header, an SMS or a sheet: refuse the row.
        controls = [(key, problem) for key, value in row.items() if (problem := control_problem(value, cell=True))]
        if controls:
            problems += [Problem(here, f"{key} {problem}") for key, problem in controls]
            continue
        unit, name = row.get("unit", ""), row.get("name", "")
        roles = tuple(r.strip() for r in re.split(r"[;；]", row.get("roles", "")) if r.strip())
        email, mobile = row.get("email", ""), normalize_mobile(row.get("mobile", ""))
        errors = []
        if not name:
            errors.append("name is empty")
        if unit not in catalog.units:
            errors.append(f"unknown unit '{unit}'")
        errors += [f"unknown role '{role}'" for role in roles if role not in catalog.roles]
        if email and not EMAIL.match(email):
            errors.append(f"bad email '{email}'")
        if mobile and not MOBILE.match(mobile):
            errors.append(f"bad mobile number '{row.get('mobile')}' (11 digits, starting 13-19)")
        if not email and not mobile:
            errors.append("no email and no mobile: this person cannot be reached")
        pid = row.get("id") or person_id(name, unit, mobile, email)
        for key in (f"id:{pid}", f"email:{email.lower()}" if email else "", f"mobile:{mobile}" if mobile else ""):
            if key and key in seen:
                errors.append(f"duplicate person: same {key.split(':')[0]} as line {seen[key]}")
            elif key:
                seen[key] = line
        problems += [Problem(here, message) for message in errors]
        if not errors:
            people.append(Person(pid, name, unit, roles, email, mobile))
    if problems:
        raise CatalogError(problems)
    return people


def load_directory(path: str | Path, catalog: Catalog) -> Directory:
    """Read and validate a contacts file (CSV in UTF-8 or GB18030, or XLSX), saying how it was read."""
    path = Path(path)
    here = Where(str(path), 1, 1)
    if not path.exists():
        raise CatalogError([Problem(here, "no such file")])
    if path.is_dir():
        raise CatalogError([Problem(here, "is a folder, not a contacts file (CSV or XLSX)")])
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        rows, encoding = _rows_xlsx_readable(path), ""
    else:
        text, encoding = decode_csv(path.read_bytes(), str(path))
        rows = _rows_csv(text, str(path))
    return Directory(check_people(read_rows(rows, path), catalog, str(path)), encoding)


def load_people(path: str | Path, catalog: Catalog) -> list[Person]:
    """Read and validate a contacts file (CSV or XLSX)."""
    return load_directory(path, catalog).people
