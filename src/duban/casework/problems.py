"""问题清单: a list of inspection problems (CSV or XLSX) imported as one item per problem, all rows or none."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from duban.actions import ActionRefused, Actor
from duban.casework.create import NewItem, create_items, short_title
from duban.casework.plan import PlanSetup, local_day, match_owner
from duban.catalog import Task
from duban.controlchars import control_problem

COLUMNS = ("来源", "问题描述", "责任单位", "整改时限", "整改要求")
REQUIRED = ("问题描述", "责任单位", "整改时限")
EXAMPLE = ("市级督查", "部分贫困户“两不愁三保障”信息与实际不符", "县扶贫办", "2020-11-30",
           "逐户核实，更正系统信息，形成核查台账")
SOURCE_MAX = 100
DAY = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")


class ProblemListError(ValueError):
    """A list that is not imported; every line is `FILE:ROW: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ProblemRow:
    """One row as read: its row number and cells by column name."""

    row: int
    cells: dict[str, Any]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _rows_csv(path: Path) -> Iterator[tuple[int, list[Any]]]:
    from duban.catalog import CatalogError
    from duban.directory import decode_csv

    try:
        text, _ = decode_csv(path.read_bytes(), str(path))
    except CatalogError as error:
        raise ProblemListError([str(p) for p in error.problems]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1
    try:
        for cells in reader:
            yield line, cells
            line = reader.line_num + 1
    except csv.Error as error:
        raise ProblemListError([f"{path}:{line}: not readable as CSV: {error}"]) from None


def _rows_xlsx(path: Path) -> Iterator[tuple[int, list[Any]]]:
    from duban.xlsxsafe import XlsxRefused, open_workbook

    try:
        sheet = open_workbook(path).worksheets[0]
    except XlsxRefused as error:
        raise ProblemListError([str(error)]) from None
    yield from enumerate(sheet.iter_rows(values_only=True), start=1)


def read_problem_rows(path: Path) -> list[ProblemRow]:
    """The data rows of a problem list, by column name; a missing column is refused at the header."""
    if not path.is_file():
        raise ProblemListError([f"{path}: no such file"])
    rows = _rows_xlsx(path) if path.suffix.lower() == ".xlsx" else _rows_csv(path)
    header: list[str] = []
    result = []
    for line, cells in rows:
        texts = [_text(c) for c in cells]
        if not any(texts):
            continue
        if not header:
            header = [t.replace(" ", "") for t in texts]
            missing = [name for name in REQUIRED if name not in header]
            if missing:
                raise ProblemListError([f"{path}:{line}: missing column(s) {'、'.join(missing)} "
                                        f"(columns: {'、'.join(COLUMNS)})"])
            continue
        result.append(ProblemRow(line, {h: c for h, c in zip(header, cells, strict=False) if h in COLUMNS}))
    return result


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    match = DAY.match(_text(value))
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def catalog_task(setup: PlanSetup, task_id: str) -> Task:
    """The catalog task a list answers to: one whose owners come from problem lists (`owners_from: problems`)."""
    task = next((t for t in setup.catalog.tasks if t.id == task_id), None)
    if task is None or task.owners_from != "problems":
        wanted = [t.id for t in setup.catalog.tasks if t.owners_from == "problems"]
        raise ProblemListError([f"--task: '{task_id}' is not a catalog task whose owners come from problem lists "
                                f"(owners_from: problems){': ' + ', '.join(wanted) if wanted else ''}"])
    return task


def _checked(setup: PlanSetup, row: ProblemRow, where: str, source: str, today: date,
             task: Task | None = None) -> NewItem | list[str]:
    problems = []
    description = _text(row.cells.get("问题描述"))
    unit_text = _text(row.cells.get("责任单位"))
    requirement = _text(row.cells.get("整改要求"))
    origin = _text(row.cells.get("来源")) or source
    if not description:
        problems.append(f"{where}: 问题描述 is empty")
    if not origin:
        problems.append(f"{where}: 来源 is empty (fill the column, or give --source)")
    for name, value in (("来源", origin), ("责任单位", unit_text)):
        trouble = control_problem(value, cell=True)
        if trouble:
            problems.append(f"{where}: {name} {trouble}")
    if len(origin) > SOURCE_MAX:
        problems.append(f"{where}: 来源 is longer than {SOURCE_MAX} characters")
    owner = match_owner(setup, unit_text) if unit_text else None
    if not unit_text:
        problems.append(f"{where}: 责任单位 is empty")
    elif owner is None or owner.startswith("group:"):
        problems.append(f"{where}: 责任单位 '{unit_text}' is not a unit of the plan (write its id, full or short name)")
    elif task is not None and owner not in setup.catalog.owner_units(task.owner):
        problems.append(f"{where}: 责任单位 '{unit_text}' is not among the owners of {task.id} "
                        f"({setup.catalog.owner_label(task.owner)})")
    written = row.cells.get("整改时限")
    due = task.due if task is not None and task.due and not _text(written) else _day(written)
    plan = setup.catalog.plan
    if due is None:
        problems.append(f"{where}: 整改时限 '{_text(row.cells.get('整改时限'))}' is not a date (write 2020-11-30)")
    elif due < today:
        problems.append(f"{where}: 整改时限 {due.isoformat()} is before the import day {today.isoformat()}")
    elif due > plan.end:
        problems.append(f"{where}: 整改时限 {due.isoformat()} is after the plan's end {plan.end.isoformat()}")
    if problems:
        return problems
    data = (("file", Path(where.rsplit(":", 1)[0]).name), ("row", row.row)) + ((("task", task.id),) if task else ())
    return NewItem(title=short_title(description), owner=owner or "", due=due or today, quote=description,
                   evidence=(task.evidence if task else "") or "整改佐证材料", note=requirement, source=origin,
                   ref=task.ref if task else "", data=data)


def import_problems(connection: Connection, *, setup: PlanSetup, actor: Actor, path: Path, source: str,
                    now: datetime, task_id: str = "") -> list[str]:
    """Import every row as a problem, or none: ProblemListError lists each bad row as FILE:ROW. With `task_id`
    (a catalog task with `owners_from: problems`) each problem carries its clause and must name one of its owners;
    an empty 整改时限 takes the task's deadline."""
    if not actor.office:
        raise ActionRefused("只有督办室才能导入问题清单", "forbidden")
    task = catalog_task(setup, task_id) if task_id else None
    rows = read_problem_rows(path)
    if not rows:
        raise ProblemListError([f"{path}: no problems in this list"])
    today = local_day(setup, now)
    items, problems = [], []
    for row in rows:
        checked = _checked(setup, row, f"{path}:{row.row}", source.strip(), today, task)
        if isinstance(checked, list):
            problems.extend(checked)
        else:
            items.append(checked)
    if problems:
        raise ProblemListError(problems)
    return create_items(connection, setup=setup, origin="problem", items=items, actor=actor, now=now,
                        source="import")


def write_template(out: Path) -> Path:
    """An empty problem list with the columns and one filled example row."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    from duban.xlsxsafe import as_text

    book = Workbook()
    sheet = book.active
    sheet.title = "问题清单"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="FDE7E4")
    sheet.append(list(EXAMPLE))
    for cell in sheet[2]:
        as_text(cell)
    for letter, width in zip("ABCDE", (14, 50, 20, 14, 40), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return out
