"""Bad input at `check` and `sync`: one clear line naming the place, exit 1, nothing changed; never a traceback."""

from __future__ import annotations

import csv
import logging
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import DATA
from openpyxl import Workbook
from sqlalchemy import select
from typer.testing import CliRunner, Result

from duban.cli import _load_commands
from duban.cli.common import app
from duban.models import PersonRow
from duban.store import make_engine

runner = CliRunner()
_load_commands()

MINI = str(DATA / "mini.yaml")
HEADER = ["姓名", "单位", "角色", "邮箱", "手机"]
GOOD = ["赵六", "office", "liaison", "z6@example.org", "13800000098"]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings for the CLI on a store of its own under tmp_path (no duban.toml, no DUBAN_CONTACTS)."""
    for name in [name for name in os.environ if name.startswith("DUBAN_") and name != "DUBAN_TEST_POSTGRES_URL"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DUBAN_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("DUBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'duban.sqlite'}")
    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DUBAN_SECRET", "bad-input-test-secret-" + "x" * 24)
    return tmp_path


@pytest.fixture
def store_env(env: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI's settings on a fresh store: a SQLite file, then a PostgreSQL schema."""
    monkeypatch.setenv("DUBAN_DATABASE_URL", store_url)
    return store_url


@pytest.fixture
def duban_logger() -> Iterator[logging.Logger]:
    """duban's logger, put back as it was (the CLI's callback installs a handler on the runner's stderr)."""
    logger = logging.getLogger("duban")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield logger
    logger.handlers[:], logger.level, logger.propagate = saved


def duban(*args: str) -> Result:
    """Run a command through the CLI runner; a user's mistake is never a traceback."""
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def one_line(result: Result) -> str:
    """The single line a refused command printed on stderr (exit 1, nothing on stdout)."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def xlsx(path: Path, *rows: list) -> Path:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def people_in(url: str) -> list[tuple[str, str]]:
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(select(PersonRow.name, PersonRow.mobile).order_by(PersonRow.name)).all()
    engine.dispose()
    return [tuple(row) for row in rows]


# --- section 3: a name with a line break (Alt+Enter in an Excel cell) -------------------------------------


def test_a_name_with_a_line_break_is_refused_by_check_and_sync_and_changes_nothing(env: Path, store_env: str):
    good = xlsx(env / "good.xlsx", HEADER, GOOD)
    assert duban("sync", MINI, "--contacts", str(good)).exit_code == 0
    before = people_in(store_env)
    bad = xlsx(env / "contacts.xlsx", HEADER, GOOD, ["王\n五", "office", "head", "w5@example.org", "13800000099"])
    expected = f"{bad}:3:1: name has a line break (U+000A) after '王' (Alt+Enter in an Excel cell makes one): remove it"
    assert one_line(duban("check", MINI, "--contacts", str(bad))) == expected
    assert one_line(duban("sync", MINI, "--contacts", str(bad))) == expected
    assert people_in(store_env) == before == [("赵六", "13800000098")]


def test_a_title_with_a_line_break_is_refused_by_sync_with_line_and_column(env: Path):
    text = (DATA / "mini.yaml").read_text(encoding="utf-8")
    plan = env / "plan.yaml"
    title = 'title: "所有扶贫项目\\r\\n全面开工"'
    plan.write_text(text.replace("title: 所有扶贫项目全面开工", title), encoding="utf-8")
    line = one_line(duban("sync", str(plan)))
    problem = "task 'projects-started'.title has a line break (U+000D) after '所有扶贫项目': remove it"
    assert line == f"{plan}:41:12: {problem}"
    assert not (env / "duban.sqlite").exists()


# --- section 6: one line each ------------------------------------------------------------------------------


def _random_bytes(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 8)


def _truncated_zip(path: Path) -> None:
    whole = xlsx(path.with_name("whole.xlsx"), HEADER, GOOD).read_bytes()
    path.write_bytes(whole[: len(whole) // 2])


def _zip_not_a_workbook(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")


def _broken_sheet(path: Path) -> None:
    whole = xlsx(path.with_name("whole.xlsx"), HEADER, GOOD)
    with zipfile.ZipFile(whole) as source, zipfile.ZipFile(path, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            target.writestr(name, data[: len(data) // 2] if name.endswith("sheet1.xml") else data)


@pytest.mark.parametrize("make", [_random_bytes, _truncated_zip, _zip_not_a_workbook, _broken_sheet])
def test_a_corrupt_xlsx_is_one_line(env: Path, make):
    path = env / "contacts.xlsx"
    make(path)
    line = one_line(duban("check", MINI, "--contacts", str(path)))
    assert str(path) in line and "Excel" in line


@pytest.mark.parametrize("name", ["contacts.csv", "contacts.xlsx"])
def test_contacts_naming_a_folder_is_one_line(env: Path, name: str):
    folder = env / name
    folder.mkdir()
    assert one_line(duban("check", MINI, "--contacts", str(folder))) == (
        f"{folder}:1:1: is a folder, not a contacts file (CSV or XLSX)"
    )


@pytest.mark.parametrize("level", ["debug", "Debug", "DEBUG"])
def test_log_level_in_any_case_is_accepted(env: Path, monkeypatch: pytest.MonkeyPatch, duban_logger, level: str):
    monkeypatch.setenv("DUBAN_LOG_FORMAT", "json")
    monkeypatch.setenv("DUBAN_LOG_LEVEL", level)
    result = duban("check", MINI)
    assert result.exit_code == 0 and result.stdout.startswith("ok: 6 tasks")
    assert duban_logger.level == logging.DEBUG


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DUBAN_LOG_LEVEL", "verbose", "duban: DUBAN_LOG_LEVEL: unknown level 'verbose' (use debug, info, warning, "
                                       "error, critical)"),
        ("DUBAN_LOG_FORMAT", "xml", "duban: DUBAN_LOG_FORMAT: unknown format 'xml' (use json or text)"),
    ],
)
def test_an_unknown_log_setting_is_one_line(env: Path, monkeypatch, duban_logger, name: str, value: str, expected: str):
    monkeypatch.setenv(name, value)
    assert one_line(duban("check", MINI)) == expected


def test_full_width_digits_in_a_mobile_are_read_as_ascii_and_found_again(env: Path, store_env: str):
    contacts = env / "contacts.csv"
    rows = [HEADER, ["王五", "office", "head", "w5@example.org", "１３８　００００　００９９"], GOOD]
    with contacts.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    result = duban("check", MINI, "--contacts", str(contacts))
    assert result.exit_code == 0 and result.stdout.endswith(", 2 people\n"), result.output
    assert duban("sync", MINI, "--contacts", str(contacts)).exit_code == 0
    assert people_in(store_env) == [("王五", "13800000099"), ("赵六", "13800000098")]
    # The person lookup (link, ack, done, import-reports) reads a number the same way.
    for who in ("＋８６ １３８－００００－００９９", "+86 138 0000 0099"):
        found = duban("link", who, "--as-of", "2020-09-01 09:00")
        assert found.exit_code == 0 and "/login/" in found.stdout, found.output


@pytest.mark.parametrize("codec", ["gbk", "gb18030"])
def test_a_gbk_csv_is_read_and_says_so(env: Path, codec: str):
    contacts = env / "contacts.csv"
    contacts.write_bytes("姓名,单位,角色,邮箱,手机\n王五,office,head,w5@example.org,13800000099\n".encode(codec))
    result = duban("check", MINI, "--contacts", str(contacts))
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 6 tasks, 4 units, 1 groups, 21 occurrences, 2020-09-01 to 2020-12-31, 1 people\n"
    assert result.stderr == f"duban: {contacts}: read as GB18030 (GBK), not UTF-8\n"
    assert duban("sync", MINI, "--contacts", str(contacts)).exit_code == 0
    assert people_in(f"sqlite:///{env / 'duban.sqlite'}") == [("王五", "13800000099")]


def test_a_csv_in_neither_encoding_is_one_line(env: Path):
    contacts = env / "contacts.csv"
    contacts.write_bytes("姓名,单位,角色,邮箱\n".encode() + "王五,office,head,w5@example.org\n".encode("utf-16"))
    line = one_line(duban("check", MINI, "--contacts", str(contacts)))
    assert line.startswith(f"{contacts}:2:1: neither UTF-8 nor GB18030 (GBK) text")


def test_a_setting_that_is_not_a_number_names_the_variable(env: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DUBAN_SMS_DAILY_CAP", "five")
    assert one_line(duban("check", MINI)) == "duban: DUBAN_SMS_DAILY_CAP: 'five' is not a whole number"


def test_a_broken_duban_toml_names_the_file(env: Path, monkeypatch: pytest.MonkeyPatch):
    toml = env / "duban.toml"
    toml.write_text('[duban]\nsms_daily_cap = "five"\n', encoding="utf-8")
    monkeypatch.setenv("DUBAN_CONFIG", str(toml))
    assert one_line(duban("check", MINI)) == f"duban: {toml}: sms_daily_cap = 'five' is not a whole number"
    toml.write_text("[duban\n", encoding="utf-8")
    assert one_line(duban("check", MINI)).startswith(f"duban: {toml}: not valid TOML: Expected ']'")
