"""The contacts directory: people read from CSV or XLSX, checked row by row."""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from duban.catalog import Catalog, CatalogError, Problem
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
MOBILE = re.compile(r"^1[3-9]\d{9}$")


@dataclass(frozen=True, slots=True)
class Person:
    """A contact: who holds which roles in which unit, and how to reach them."""

    id: str
    name: str
    unit: str
    roles: tuple[str, ...]
    email: str = ""
    mobile: str = ""


def person_from_row(row: Any) -> Person:
    """A person as the store keeps them (a `person` row: roles ';'-joined, `unit_id`)."""
    roles = tuple(filter(None, row.roles.split(";")))
    return Person(row.id, row.name, row.unit_id, roles, row.email, getattr(row, "mobile", ""))


def person_id(name: str, unit: str, mobile: str, email: str) -> str:
    """A stable id for a row without one: derived, never the raw number."""
    basis = mobile or email or f"{unit}/{name}"
    return "p" + hashlib.sha1(basis.encode()).hexdigest()[:8]


def normalize_mobile(raw: str) -> str:
    """Strip spaces, dashes and a +86 / 86 prefix."""
    digits = re.sub(r"[\s-]", "", raw)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            return digits[len(prefix) :]
    return digits


def _rows_csv(path: Path) -> Iterator[tuple[int, list[str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from enumerate(csv.reader(handle), start=1)


def _rows_xlsx(path: Path) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
    for line, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        yield line, ["" if cell is None else str(cell) for cell in row]


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) for each data row, with headers mapped to English names."""
    rows = _rows_xlsx(path) if path.suffix.lower() in (".xlsx", ".xlsm") else _rows_csv(path)
    header: list[str | None] = []
    for line, row in rows:
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
        if not any(cell.strip() for cell in row):
            continue
        yield line, {key: cell.strip() for key, cell in zip(header, row, strict=False) if key}


def check_people(rows: Iterable[tuple[int, dict[str, str]]], catalog: Catalog, source: str) -> list[Person]:
    """Validate rows against the catalog; raise CatalogError naming every bad row."""
    people: list[Person] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        here = Where(source, line, 1)
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


def load_people(path: str | Path, catalog: Catalog) -> list[Person]:
    """Read and validate a contacts file (CSV or XLSX)."""
    path = Path(path)
    if not path.exists():
        raise CatalogError([Problem(Where(str(path), 1, 1), "no such file")])
    try:
        return check_people(read_rows(path), catalog, str(path))
    except UnicodeDecodeError:
        raise CatalogError([Problem(Where(str(path), 1, 1), "not UTF-8 text (save the CSV as UTF-8)")]) from None
