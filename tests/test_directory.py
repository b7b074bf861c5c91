"""The contacts directory: CSV and XLSX, Chinese headers, row-precise errors."""

import csv
from pathlib import Path

import pytest

from duban.catalog import CatalogError
from duban.directory import load_directory, load_people, normalize_mobile, person_id

DATA = Path(__file__).parent / "data"


def write(tmp_path: Path, text: str, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_the_mini_directory(mini_people):
    assert len(mini_people) == 9
    feng = next(p for p in mini_people if p.id == "ql-cadre-1")
    assert feng.roles == ("pairing_cadre", "liaison") and feng.unit == "qinglong" and feng.mobile == ""


def test_chinese_headers_and_derived_ids(tmp_path, mini_catalog):
    path = write(tmp_path, "姓名,单位,角色,邮箱,手机\n王五,office,head；liaison,w5@example.org,+86 138-0000-0099\n")
    [person] = load_people(path, mini_catalog)
    assert person.roles == ("head", "liaison")
    assert person.mobile == "13800000099"
    assert person.id == person_id("王五", "office", "13800000099", "w5@example.org")
    assert "13800000099" not in person.id


def test_bad_rows_are_named_by_line(tmp_path, mini_catalog):
    path = write(
        tmp_path,
        "\n".join(
            [
                "name,unit,roles,email,mobile",
                "甲,office,head,a@example.org,13800000001",
                "乙,nowhere,head,b@example.org,13800000002",
                "丙,office,wizard,c@example.org,13800000003",
                "丁,office,liaison,not-an-email,13800000004",
                "戊,office,liaison,e@example.org,12345",
                "己,office,liaison,a@example.org,13800000006",
                ",office,liaison,g@example.org,13800000007",
                "庚,office,liaison,,",
            ]
        )
        + "\n",
    )
    with pytest.raises(CatalogError) as error:
        load_people(path, mini_catalog)
    lines = [str(p) for p in error.value.problems]
    assert lines == [
        f"{path}:3:1: unknown unit 'nowhere'",
        f"{path}:4:1: unknown role 'wizard'",
        f"{path}:5:1: bad email 'not-an-email'",
        f"{path}:6:1: bad mobile number '12345' (11 digits, starting 13-19)",
        f"{path}:7:1: duplicate person: same email as line 2",
        f"{path}:8:1: name is empty",
        f"{path}:9:1: no email and no mobile: this person cannot be reached",
    ]


def test_missing_columns(tmp_path, mini_catalog):
    path = write(tmp_path, "name,email\n甲,a@example.org\n")
    with pytest.raises(CatalogError) as error:
        load_people(path, mini_catalog)
    assert "missing column(s): unit, roles" in str(error.value)


def test_xlsx_directory(tmp_path, mini_catalog):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "单位", "角色", "邮箱", "手机"])
    sheet.append(["王五", "office", "head", "w5@example.org", 13800000099])
    sheet.append(["赵六", "qinglong", "liaison", "z6@example.org", None])
    book.save(tmp_path / "contacts.xlsx")
    people = load_people(tmp_path / "contacts.xlsx", mini_catalog)
    assert [(p.name, p.mobile) for p in people] == [("王五", "13800000099"), ("赵六", "")]


@pytest.mark.parametrize(("codec", "read_as"), [("gbk", "GB18030"), ("gb18030", "GB18030"), ("utf-8-sig", "UTF-8")])
def test_gbk_and_utf8_csv_are_read_and_say_how(tmp_path, mini_catalog, codec, read_as):
    path = tmp_path / "contacts.csv"
    path.write_bytes("姓名,单位,角色,邮箱\n王五,office,head,w@example.org\n".encode(codec))
    directory = load_directory(path, mini_catalog)
    assert [p.name for p in directory.people] == ["王五"] and directory.encoding == read_as


def test_neither_utf8_nor_gb18030_names_the_line(tmp_path, mini_catalog):
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"name,unit,roles,email\n\xff\xfe,office,head,w@example.org\n")
    with pytest.raises(CatalogError) as error:
        load_people(path, mini_catalog)
    expected = "neither UTF-8 nor GB18030 (GBK) text (byte 23): save it as .xlsx or CSV UTF-8"
    assert str(error.value) == f"{path}:2:1: {expected}"


def test_full_width_digits_and_separators_in_a_mobile_become_ascii(tmp_path, mini_catalog):
    rows = "姓名,单位,角色,手机\n王五,office,head,１３８－００００－００９９\n赵六,office,liaison,(+86) 138.0000.0098\n"
    path = write(tmp_path, rows)
    assert [p.mobile for p in load_people(path, mini_catalog)] == ["13800000099", "13800000098"]
    assert normalize_mobile("＋８６　１３８００００００９９") == "13800000099"


def test_other_digits_are_not_a_mobile(tmp_path, mini_catalog):
    path = write(tmp_path, "姓名,单位,角色,手机\n王五,office,head,13٨٠٠٠٠٠٠٩٩\n")  # Arabic-Indic digits
    with pytest.raises(CatalogError, match="bad mobile number"):
        load_people(path, mini_catalog)


BREAK_HINT = " (Alt+Enter in an Excel cell makes one): remove it"


def write_rows(tmp_path: Path, rows: list[list], kind: str) -> Path:
    """A contacts file of these rows, as CSV (cells quoted as Excel does) or XLSX."""
    path = tmp_path / f"contacts.{kind}"
    if kind == "csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(rows)
    else:
        from openpyxl import Workbook

        book = Workbook()
        for row in rows:
            book.active.append(row)
        book.save(path)
    return path


CONTROLS = [
    ("王\n五", "has a line break (U+000A) after '王'" + BREAK_HINT, ("csv", "xlsx")),
    ("王\r\n五", "has a line break (U+000D) after '王'" + BREAK_HINT, ("csv", "xlsx")),
    ("王\t五", "has a tab (U+0009) after '王': remove it", ("csv", "xlsx")),
    ("王\x9b五", "has a control character (U+009B) after '王': remove it", ("csv", "xlsx")),
    ("王\u2028五", "has a line break (U+2028) after '王'" + BREAK_HINT, ("csv", "xlsx")),
    ("王\u2029五", "has a line break (U+2029) after '王'" + BREAK_HINT, ("csv", "xlsx")),
    # An XLSX cell cannot hold these (XML forbids them), a CSV can.
    ("王\x00五", "has a NUL character (U+0000) after '王': remove it", ("csv",)),
    ("\x07王五", "has a control character (U+0007) at the start: remove it", ("csv",)),
]


@pytest.mark.parametrize(
    ("cell", "expected", "kind"), [(cell, expected, kind) for cell, expected, kinds in CONTROLS for kind in kinds]
)
def test_control_characters_in_a_name_are_refused_with_the_row(tmp_path, mini_catalog, cell, expected, kind):
    header = ["姓名", "单位", "角色", "邮箱", "手机"]
    good = ["赵六", "office", "liaison", "z6@example.org", "13800000098"]
    path = write_rows(tmp_path, [header, good, [cell, "office", "head", "w5@example.org", "13800000099"]], kind)
    with pytest.raises(CatalogError) as error:
        load_people(path, mini_catalog)
    assert [str(p) for p in error.value.problems] == [f"{path}:3:1: name {expected}"]


def test_every_field_that_reaches_a_message_is_checked(tmp_path, mini_catalog):
    rows = [
        ["id", "name", "unit", "roles", "email", "mobile"],
        ["p\n1", "甲", "office", "head", "a@example.org", "13800000001"],
        ["p2", "乙", "off\x0bice", "head", "b@example.org", "13800000002"],
        ["p3", "丙", "office", "he\x1fad", "c@example.org", "13800000003"],
        ["p4", "丁", "office", "head", "d@example.org\r\nBcc: all@example.org", "13800000004"],
        ["p5", "戊", "office", "head", "e@example.org", "138000\x0000005"],
    ]
    path = write_rows(tmp_path, rows, "csv")
    with pytest.raises(CatalogError) as error:
        load_people(path, mini_catalog)
    found = [str(p).removeprefix(f"{path}:").split(" has ")[0] for p in error.value.problems]
    # Row 2's quoted id spans two lines: the rows after it are named by the line they start on.
    assert found == ["2:1: id", "4:1: unit", "5:1: roles", "6:1: email", "8:1: mobile"]
    assert all("\n" not in str(p) and "\r" not in str(p) for p in error.value.problems)


def test_leading_blank_rows_before_the_header_keep_row_numbers(tmp_path, mini_catalog):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet["A3"], sheet["B3"], sheet["C3"], sheet["D3"] = "姓名", "单位", "角色", "邮箱"
    sheet["A4"], sheet["B4"], sheet["C4"], sheet["D4"] = "王五", "nowhere", "head", "w@example.org"
    book.save(tmp_path / "contacts.xlsx")
    with pytest.raises(CatalogError) as error:
        load_people(tmp_path / "contacts.xlsx", mini_catalog)
    assert str(error.value) == f"{tmp_path / 'contacts.xlsx'}:4:1: unknown unit 'nowhere'"
