"""The reports ledger (台账): reports filled in Excel, imported all together or not at all.

Columns (first row; Chinese or English headers, any order; other columns are ignored):
  编号 / occurrence   the occurrence id, as `duban calendar` prints it            (required)
  报告人 / by          the person reporting: id, email or mobile number           (required)
  办结时间 / at        when it was done (date or date and time); default the --as-of moment
  说明 / note          what was done
  数值 / value         the figure, for a task with a target (e.g. 93.5)
  佐证材料 / evidence  evidence files, paths relative to the ledger and inside its folder, separated by ';' or
                      new lines
A row with nothing but its 编号 (as the template lists pending occurrences) is not a report and is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path, PureWindowsPath
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from duban import actions, evidence
from duban.models import OccurrenceRow, PersonRow, TaskRow, UnitRow
from duban.timeutil import MomentError, parse_moment
from duban.xlsxsafe import XlsxRefused, as_text, open_workbook

COLUMNS = {
    "occurrence": ("编号", "occurrence", "occurrence id", "id"),
    "by": ("报告人", "by", "person"),
    "at": ("办结时间", "at", "reported_at", "done at"),
    "note": ("说明", "note", "办理情况"),
    "value": ("数值", "value", "figure"),
    "evidence": ("佐证材料", "evidence", "files"),
}
REQUIRED = ("occurrence", "by")
TEMPLATE_HEADERS = ["编号", "事项", "责任单位", "截止时间", "报告人", "办结时间", "说明", "数值", "佐证材料"]
TEMPLATE_HELP = [
    ("编号", "必填。事项编号，与 duban calendar 所列一致，如 projects-started/shuangjiang/2020-09-01"),
    ("报告人", "必填。报告人的人员编号、邮箱或手机号；须是该事项责任单位（或本人）的人员"),
    ("办结时间", "选填。完成的日期或时间，如 2020-10-28 或 2020-10-28 16:30；不填则为导入时间。"
                 "晚于截止时间即为逾期办结"),
    ("说明", "选填。办理情况"),
    ("数值", "有目标的事项必填，如 支出进度 93.5"),
    ("佐证材料", "选填。材料文件路径（相对本表所在文件夹），多个用分号隔开；只收照片、PDF、Word、Excel、PPT"),
    ("事项、责任单位、截止时间", "仅供参考，导入时不读"),
]


class LedgerError(ValueError):
    """A ledger with bad rows; `problems` holds one `FILE:ROW: message` line per problem. Nothing was imported."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class LedgerRow:
    """One report read from the ledger."""

    line: int
    occurrence: str
    by: str
    at: Any = None
    note: str = ""
    value: Any = None
    evidence: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    """What an import did."""

    rows: int = 0
    late: int = 0
    files: int = 0

    def summary(self) -> str:
        """One line for people."""
        return f"imported {self.rows} report(s) ({self.late} late), {self.files} evidence file(s)"


def _header_map(header: tuple[Any, ...], where: str) -> dict[str, int]:
    names = {alias.casefold(): key for key, aliases in COLUMNS.items() for alias in aliases}
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = names.get(str(cell or "").strip().casefold())
        if key and key not in found:
            found[key] = index
    missing = [COLUMNS[key][0] for key in REQUIRED if key not in found]
    if missing:
        raise LedgerError([f"{where}:1: missing column(s) {'、'.join(missing)} (需要 编号、报告人 两列)"])
    return found


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_rows(path: Path) -> Iterator[LedgerRow]:
    """The ledger's non-blank rows, with their Excel row numbers."""
    try:
        book = open_workbook(path)
    except XlsxRefused as error:
        raise LedgerError([f"{path}:1: {error.reason}"]) from None
    try:
        sheet = book.worksheets[0]
        lines = sheet.iter_rows(values_only=True)
        header = next(lines, None)
        if header is None:
            raise LedgerError([f"{path}:1: the sheet is empty"])
        columns = _header_map(header, str(path))
        for number, cells in enumerate(lines, start=2):
            get = {key: (cells[i] if i < len(cells) else None) for key, i in columns.items()}
            if all(_text(v) == "" for key, v in get.items() if key != "occurrence"):
                continue  # blank, or a template row nobody filled in: not a report
            files = [part.strip() for part in _text(get.get("evidence")).replace("\n", ";").split(";") if part.strip()]
            yield LedgerRow(line=number, occurrence=_text(get.get("occurrence")), by=_text(get.get("by")),
                            at=get.get("at"), note=_text(get.get("note")), value=get.get("value"), evidence=files)
    finally:
        book.close()


def _moment(value: Any, tz: ZoneInfo) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=tz)
    return parse_moment(str(value), tz)


class _Deferred(evidence.EvidenceStore):
    """Collects files during a trial import; writes them only once every row is good."""

    def __init__(self, real: evidence.EvidenceStore) -> None:
        super().__init__(real.root)
        self.pending: dict[str, evidence.Upload] = {}

    def put(self, upload: evidence.Upload) -> Path:
        self.pending[upload.sha256] = upload
        return self.path(upload.sha256)

    def flush(self) -> None:
        for upload in self.pending.values():
            evidence.EvidenceStore.put(self, upload)


def import_reports(
    *, engine: Engine, path: Path, plan_id: str, tz: ZoneInfo, now: datetime, store: evidence.EvidenceStore,
    max_bytes: int,
) -> ImportReport:
    """Report every row of the ledger done, in one transaction; LedgerError (and nothing imported) if any is bad."""
    rows = list(read_rows(path))
    if not rows:
        raise LedgerError([f"{path}:2: no reports in the ledger"])
    problems: list[str] = []
    result = ImportReport()
    deferred = _Deferred(store)
    seen: dict[str, int] = {}
    with engine.connect() as connection, connection.begin() as transaction:
        for row in rows:
            where = f"{path}:{row.line}"
            try:
                if not row.occurrence:
                    raise actions.ActionRefused("编号 is empty", "invalid")
                if not row.by:
                    raise actions.ActionRefused("报告人 is empty", "invalid")
                if row.occurrence in seen:
                    raise actions.ActionRefused(f"{row.occurrence} is already reported on row {seen[row.occurrence]}",
                                                "invalid")
                actor = actions.find_actor(connection, plan_id=plan_id, who=row.by)
                when = _moment(row.at, tz)
                uploads = [_evidence(path.parent, name, max_bytes) for name in row.evidence]
                outcome = actions.report(connection=connection, actor=actor, occurrence_id=row.occurrence, now=now,
                                         source="import", note=row.note, value=row.value, files=uploads,
                                         store=deferred, reported_at=when)
            except (actions.ActionRefused, evidence.EvidenceError, MomentError) as error:
                problems.append(f"{where}: {error}")
                continue
            seen[row.occurrence] = row.line
            result.rows += 1
            result.late += outcome.late
            result.files += len(uploads)
        if problems:
            transaction.rollback()
            raise LedgerError(problems)
        deferred.flush()
    return result


def _evidence(folder: Path, name: str, max_bytes: int) -> evidence.Upload:
    """A file the ledger names, relative to the ledger's folder and inside it (after links are followed)."""
    relative = PureWindowsPath(name)  # a ledger made on Windows writes 材料\开工.pdf; both slashes separate
    if relative.is_absolute() or relative.drive or relative.root or ".." in relative.parts:
        raise evidence.EvidenceError(f"佐证材料 {name}: outside the ledger's folder (name files in it or below it, "
                                     f"like 材料/开工.pdf)")
    file = folder.joinpath(*relative.parts)
    if not file.is_file():
        raise evidence.EvidenceError(f"佐证材料 {name}: no such file")
    if not file.resolve().is_relative_to(folder.resolve()):
        raise evidence.EvidenceError(f"佐证材料 {name}: outside the ledger's folder (a link to {file.resolve()})")
    with file.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    return evidence.check(file.name, data, max_bytes=max_bytes)


def write_template(
    *, out: Path, engine: Engine | None, plan_id: str | None, tz: ZoneInfo | None, now: datetime,
    days: int = 14,
) -> int:
    """An empty ledger with a help sheet; with a store, one row per pending occurrence due within `days`."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    book = Workbook()
    sheet = book.active
    sheet.title = "台账"
    sheet.append(TEMPLATE_HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="FDE7E4")
    rows = _pending(engine, plan_id, tz, now, days) if engine is not None and plan_id and tz else []
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            as_text(cell)  # titles and names are written as text, never as formulas
    for letter, width in zip("ABCDEFGHI", (46, 30, 14, 18, 18, 18, 30, 10, 30), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    guide = book.create_sheet("填写说明")
    guide.append(["列", "填写方法"])
    for cell in guide[1]:
        cell.font = Font(bold=True)
    for line in TEMPLATE_HELP:
        guide.append(list(line))
    guide.column_dimensions["A"].width = 24
    guide.column_dimensions["B"].width = 90
    for cells in guide.iter_rows(min_row=2):
        cells[1].alignment = Alignment(wrap_text=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return len(rows)


def _pending(engine: Engine, plan_id: str, tz: ZoneInfo, now: datetime, days: int) -> list[list[Any]]:
    occ, task, unit, person = OccurrenceRow.__table__, TaskRow.__table__, UnitRow.__table__, PersonRow.__table__
    horizon = now + timedelta(days=days)
    with engine.connect() as connection:
        titles = dict(connection.execute(select(task.c.id, task.c.title).where(task.c.plan_id == plan_id)).all())
        names = {r.id: r.short or r.name for r in connection.execute(
            select(unit.c.id, unit.c.name, unit.c.short).where(unit.c.plan_id == plan_id))}
        names.update(connection.execute(select(person.c.id, person.c.name).where(person.c.plan_id == plan_id)).all())
        found = connection.execute(select(occ.c.id, occ.c.task_id, occ.c.owner_id, occ.c.due).where(
            occ.c.plan_id == plan_id, occ.c.archived.is_(False), occ.c.state.in_(actions.PENDING),
            occ.c.due <= horizon).order_by(occ.c.due, occ.c.id)).all()
    return [[r.id, titles.get(r.task_id, r.task_id), names.get(r.owner_id, r.owner_id),
             r.due.astimezone(tz).strftime("%Y-%m-%d %H:%M"), None, None, None, None, None] for r in found]
