"""The contacts directory: CSV and XLSX, Chinese headers, row-precise errors."""

from pathlib import Path

import pytest

from duban.catalog import CatalogError
from duban.directory import load_people, person_id

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


def test_not_utf8(tmp_path, mini_catalog):
    path = tmp_path / "contacts.csv"
    path.write_bytes("name,unit,roles,email\n王五,office,head,w@example.org\n".encode("gbk"))
    with pytest.raises(CatalogError) as error:
        load_people(path, mini_catalog)
    assert "not UTF-8" in str(error.value)
