"""Made-up plans at county scale and beyond, for the benchmarks (no real people)."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

SCHEDULES = [  # (every or due, owner group, how many such tasks per copy)
    ("daily", "towns", 2),
    ("weekly", "departments", 5),
    ("semimonthly", "all", 10),
    ("monthly", "all", 20),
    ("due", "all", 30),
]


def make_county(
    county: str = "c01", towns: int = 42, departments: int = 120, people: int = 10_000, task_copies: int = 1
) -> tuple[str, list[dict[str, str]]]:
    """(catalog YAML text, contacts rows) for a county with this many towns, departments and people."""
    units = [
        {"id": "leaders", "name": "县委、县政府", "kind": "leadership"},
        {"id": "office", "name": "县扶贫开发领导小组办公室", "short": "县扶贫办", "kind": "department"},
    ]
    units += [{"id": f"d{i:03d}", "name": f"县级部门{i:03d}", "kind": "department"} for i in range(departments)]
    units += [{"id": f"t{i:03d}", "name": f"乡镇{i:03d}", "kind": "town"} for i in range(towns)]
    town_ids = [u["id"] for u in units if u["kind"] == "town"]
    dept_ids = [u["id"] for u in units if u["kind"] == "department"]
    groups = [
        {"id": "towns", "name": "各乡镇（街道）", "members": town_ids},
        {"id": "departments", "name": "县级相关部门", "members": dept_ids},
        {"id": "all", "name": "各乡镇（街道）、县级相关部门", "members": ["group:towns", "group:departments"]},
    ]
    tasks = []
    for copy in range(task_copies):
        for schedule, group, count in SCHEDULES:
            for n in range(count):
                task = {
                    "id": f"{schedule}-{group}-{copy}-{n}",
                    "ref": f"二（{'一二三四五六'[n % 6]}）{n % 5 + 1}",
                    "title": f"{schedule}任务{copy}-{n}",
                    "quote": "按要求完成",
                    "owner": f"group:{group}",
                }
                if schedule == "due":
                    task["due"] = f"2020-{9 + n % 4}-{10 + n % 15:02d}".replace("-9-", "-09-")
                else:
                    task["every"] = schedule
                tasks.append(task)
        tasks.append(
            {
                "id": f"visits-{copy}",
                "ref": "二（一）2",
                "title": "结对帮扶干部开展帮扶联系",
                "quote": "结对帮扶干部每月至少开展一次帮扶联系工作",
                "owner": "role:pairing_cadre",
                "every": "monthly",
            }
        )
        tasks.append(
            {
                "id": f"teaching-{copy}",
                "ref": "二（三）3",
                "title": "送教上门",
                "quote": "送教上门一周不得少于一次",
                "owner": "role:teacher",
                "every": "weekly",
            }
        )
    catalog = {
        "plan": {
            "id": f"{county}-2020",
            "title": f"{county}县脱贫攻坚收官方案",
            "timezone": "Asia/Shanghai",
            "start": "2020-09-01",
            "end": "2020-12-31",
            "workdays": "cn",
            "remind_at": "09:00",
            "office": "office",
        },
        "roles": [{"id": "pairing_cadre", "name": "结对帮扶干部"}, {"id": "teacher", "name": "送教教师"}],
        "defaults": {
            "remind": [3, 1, 0],
            "repeat_every": 5,
            "channels": ["email", "sms"],
            "escalate": [
                {"after": 1, "to": ["in_charge"]},
                {"after": 3, "to": ["head"]},
                {"after": 5, "to": ["unit:office"]},
            ],
        },
        "units": units,
        "groups": groups,
        "tasks": tasks,
    }
    text = yaml.safe_dump(catalog, allow_unicode=True, sort_keys=False)
    return text, _people(county, units, town_ids, people)


def _people(county: str, units: list[dict], town_ids: list[str], total: int) -> list[dict[str, str]]:
    rows = []
    for unit in units:
        for role in ("head", "in_charge", "liaison"):
            roles = role + (";leader" if unit["kind"] == "leadership" and role == "head" else "")
            rows.append({"unit": unit["id"], "roles": roles})
    field_staff = max(total - len(rows), 0)
    for i in range(field_staff):
        role = "teacher" if i % 10 == 0 else "pairing_cadre"
        rows.append({"unit": town_ids[i % len(town_ids)], "roles": role})
    for i, row in enumerate(rows):
        row.update(
            id=f"{county}-p{i:06d}",
            name=f"干部{i:06d}",
            email=f"{county}.p{i:06d}@example.org",
            mobile=f"1380{sum(map(ord, county)) % 10:01d}{i:06d}",
        )
    return rows


def fresh_postgres(url: str, schema: str) -> str:
    """An empty schema on a PostgreSQL server, and the URL that works inside it."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.execute(f"CREATE SCHEMA {schema}")
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def bench_store(folder: Path, postgres: str | None, schema: str) -> str:
    """Where a benchmark keeps its store: a fresh PostgreSQL schema when given a server, else SQLite in `folder`."""
    return fresh_postgres(postgres, schema) if postgres else f"sqlite:///{folder / 'duban.sqlite'}"


def write_county(folder: Path, **kwargs: int | str) -> tuple[Path, Path]:
    """Write a county's catalog and contacts into `folder`; return both paths."""
    text, rows = make_county(**kwargs)  # type: ignore[arg-type]
    folder.mkdir(parents=True, exist_ok=True)
    catalog, contacts = folder / "tasks_catalog.yaml", folder / "contacts.csv"
    catalog.write_text(text, encoding="utf-8")
    with contacts.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "name", "unit", "roles", "email", "mobile"])
        writer.writeheader()
        writer.writerows(rows)
    return catalog, contacts
