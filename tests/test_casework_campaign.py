"""A 问题清单 campaign (issue 15): 200 problems from three sources across 20 units, replayed through their
deadlines (some rectified and verified, some rectified, some extended, some refused an extension, some left);
the 问题整改 counts on the status sheet, the bulletin, the overview page and the weekly digest agree with each
other and with what the campaign did, and a sync afterwards leaves every problem and its history."""

import re
import warnings
from collections import Counter
from datetime import date, timedelta

import pytest
from conftest import Clock, at
from sqlalchemy import func, select

from duban import actions
from duban.bulletin import write_bulletin
from duban.casework.extension import decide_extension, request_extension
from duban.casework.plan import load_setup
from duban.casework.problems import import_problems
from duban.catalog import parse_catalog
from duban.config import Settings
from duban.digest import queue_digest
from duban.directory import load_people
from duban.evidence import EvidenceStore, check
from duban.links import make_token
from duban.models import EventRow, OccurrenceRow
from duban.sheets import write_status_sheet
from duban.store import make_engine, migrate
from duban.sync import sync
from duban.web import create_app
from duban.xlsxsafe import open_workbook

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PLAN = "campaign-2020"
SOURCES = ("国家普查", "市级督查", "媒体暗访")
DEADLINES = (date(2020, 10, 30), date(2020, 11, 13), date(2020, 11, 30))
AS_OF = "2020-12-01 10:00"
UNITS = [(f"t{n:02d}", f"测试县第{n}镇", f"{n}号镇") for n in range(1, 21)]
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def catalog_text(extra: str = "") -> str:
    units = "\n".join(f"  - {{id: {i}, name: {name}, short: {short}, kind: town}}" for i, name, short in UNITS)
    members = ", ".join(i for i, _, _ in UNITS)
    return f"""plan:
  id: {PLAN}
  title: 问题整改测试方案
  timezone: Asia/Shanghai
  start: 2020-09-01
  end: 2020-12-31
  workdays: cn
  office: office
units:
  - {{id: office, name: 县扶贫开发领导小组办公室, short: 县扶贫办, kind: department}}
{units}
groups:
  - {{id: towns, name: 各乡镇, members: [{members}]}}
tasks:
  - id: weekly
    ref: 一（一）1
    title: 报送脱贫攻坚周报
    owner: group:towns
    every: weekly
{extra}"""


@pytest.fixture
def campaign(tmp_path):
    """The plan synced into a SQLite store, and its directory: the office and one head per town."""
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("id,name,unit,roles,email,mobile\n"
                        "office-liaison,李联络,office,liaison,li@example.org,13800000001\n"
                        "office-head,王主任,office,head;leader,wang@example.org,13800000002\n"
                        + "".join(f"{i}-head,{short}书记,{i},head,{i}@example.org,139000000{n:02d}\n"
                                  for n, (i, _, short) in enumerate(UNITS)), encoding="utf-8")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'duban.sqlite'}", var_dir=str(tmp_path / "var"),
                        secret="campaign-test-" + "s" * 20, base_url="http://testserver")
    engine = make_engine(settings.database_url)
    migrate(engine)
    catalog = parse_catalog(catalog_text())
    people = load_people(contacts, catalog)
    sync(engine=engine, catalog=catalog, catalog_text=catalog_text(), people=people, now=at("2020-09-01 08:00"))
    yield settings, engine, people
    engine.dispose()


def problem_list(path):
    """200 problems: source i % 3, unit i % 20 (written by id, full name or short name in turn), deadline by i."""
    lines = ["来源,问题描述,责任单位,整改时限,整改要求"]
    for i in range(200):
        unit = UNITS[i % 20][(i // 20) % 3]
        lines.append(f"{SOURCES[i % 3]},第{i + 1}号问题：部分农户信息不准确,{unit},{DEADLINES[(i // 3) % 3]},"
                     "逐户核实更正")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fate(i):
    """0 rectified and verified, 1 rectified, 2 extended to 12-15, 3 extension refused, 4 left undone."""
    return (i + i // 20) % 5  # every unit and every source gets every fate


def replay(engine, ids, store):
    photo = check("整改照片.png", PNG, max_bytes=10_000)
    with engine.begin() as connection:
        setup = load_setup(connection, PLAN)
        office, checker = (actions.actor_for(connection, plan_id=PLAN, person_id=p)
                           for p in ("office-liaison", "office-head"))
        for i, item in enumerate(ids):
            due = DEADLINES[(i // 3) % 3]
            town = actions.actor_for(connection, plan_id=PLAN, person_id=f"{UNITS[i % 20][0]}-head")
            if fate(i) in (0, 1):
                actions.report(connection=connection, actor=town, occurrence_id=item, source="web",
                               now=at(f"{due - timedelta(days=2)} 10:00"), note="已逐户核实更正", files=[photo],
                               store=store)
            if fate(i) == 0:
                actions.verify(connection=connection, actor=checker, occurrence_id=item, source="web",
                               now=at(f"{due - timedelta(days=1)} 10:00"))
            if fate(i) in (2, 3):
                request_extension(connection, setup=setup, actor=town, occurrence_id=item, until=date(2020, 12, 15),
                                  reason="涉及农户外出务工，需逐户联系", now=at("2020-10-20 10:00"), source="web")
                decide_extension(connection, setup=setup, actor=office, occurrence_id=item, grant=fate(i) == 2,
                                 note="" if fate(i) == 2 else "时限不变，请加快进度", now=at("2020-10-21 10:00"),
                                 source="web")


def expected():
    """The counts the campaign calls for at AS_OF, by hand: every deadline has passed, extensions run to 12-15."""
    rows = {}
    for i in range(200):
        for key in (f"source:{SOURCES[i % 3]}", f"unit:{UNITS[i % 20][2]}", "total:合计"):
            counts = rows.setdefault(key, Counter())
            counts["found"] += 1
            counts["rectified"] += fate(i) in (0, 1)
            counts["verified"] += fate(i) == 0
            counts["overdue"] += fate(i) in (3, 4)
            counts["extended"] += fate(i) == 2
    return {key: {**{k: str(c[k]) for k in ("found", "rectified", "verified", "overdue", "extended")},
                  "rate": f"{c['rectified'] * 100 / c['found']:.1f}%"} for key, c in rows.items()}


def shown(html):
    """The 问题整改 rows a page shows (table rows; in an email, blocks): key -> {column: text}."""
    return {key: dict(re.findall(r'<(?:td|span) data-n="(\w+)">([^<]*)</(?:td|span)>', row))
            for _, key, row in re.findall(r'<(tr|div) data-key="([^"]+)"[^>]*>(.*?)</\1>', html)}


def test_problem_counts_agree_on_sheet_bulletin_and_overview(campaign, tmp_path):
    settings, engine, people = campaign
    with engine.begin() as connection:
        office = actions.actor_for(connection, plan_id=PLAN, person_id="office-liaison")
        ids = import_problems(connection, setup=load_setup(connection, PLAN), actor=office,
                              path=problem_list(tmp_path / "问题清单.csv"), source="", now=at("2020-10-09 09:00"))
    assert len(ids) == 200 and len({i.split("/")[1] for i in ids}) == 20
    replay(engine, ids, EvidenceStore(tmp_path / "evidence"))

    want = expected()
    assert want["total:合计"] == {"found": "200", "rectified": "80", "verified": "40", "overdue": "80",
                                  "extended": "40", "rate": "40.0%"}
    assert len(want) == 3 + 20 + 1
    sheet, detail, ledger = write_status_sheet(engine=engine, plan_id=PLAN, as_of=at(AS_OF),
                                               out_dir=tmp_path / "out", formats=("html", "xlsx"), horizon_days=14)
    [bulletin] = write_bulletin(engine=engine, plan_id=PLAN, month=date(2020, 11, 1), as_of=at(AS_OF),
                                out_dir=tmp_path / "out", formats=("html",))
    app = create_app(settings, now=Clock(at(AS_OF)), engine=engine)
    client = TestClient(app, base_url="http://testserver")
    token = make_token(secret=settings.secret, person_id="office-head", plan_id=PLAN, now=at(AS_OF))
    assert client.get(f"/login/{token}", follow_redirects=False).status_code == 303
    overview = client.get("/all")
    assert overview.status_code == 200
    assert shown(detail.read_text(encoding="utf-8")) == want  # the summary says the total in one line
    assert "发现问题200个，已整改80个（其中已销号40个），逾期未整改80个，已延期40个，整改率40.0%" in sheet.read_text(
        encoding="utf-8")
    assert shown(bulletin.read_text(encoding="utf-8")) == want
    assert shown(overview.text) == want
    digest = queue_digest(engine=engine, plan_id=PLAN, as_of=at(AS_OF), now=at(AS_OF), dry_run=True)
    [mail] = digest.notifications
    assert shown(mail["body_html"]) == want
    assert "问题整改：发现问题200个，已整改80个（其中已销号40个），逾期未整改80个，整改率40.0%。" in mail["body_text"]
    # The sheet lists extended items at their new deadline and still shows the original one.
    html = detail.read_text(encoding="utf-8")
    originals = Counter(re.findall(r"12月15日<small>原定(\d+月\d+日)（已延期）</small>", html))
    # The ledger (台账) exports every problem with the plan's own items.
    book = open_workbook(ledger)
    cells = [c for sheet_ in book.worksheets for row in sheet_.iter_rows(values_only=True) for c in row]
    assert sum(isinstance(c, str) and c.endswith("号问题：部分农户信息不准确") for c in cells) == 200
    extended = Counter(DEADLINES[(i // 3) % 3] for i in range(200) if fate(i) == 2)
    assert originals == {f"{day.month}月{day.day}日": n for day, n in extended.items()}
    assert sum(originals.values()) == 40

    # A sync with an edited catalog afterwards: every problem stays, with its history.
    with engine.connect() as connection:
        events = connection.execute(select(func.count()).select_from(EventRow)
                                    .where(EventRow.occurrence_id.like("problem-%"))).scalar()
    text = catalog_text("    note: 每周五报送\n")
    report = sync(engine=engine, catalog=parse_catalog(text), catalog_text=text, people=people, now=at(AS_OF))
    assert report.changed
    with engine.connect() as connection:
        live = connection.execute(select(func.count()).select_from(OccurrenceRow).where(
            OccurrenceRow.task_id.like("problem-%"), OccurrenceRow.archived.is_(False))).scalar()
        after = connection.execute(select(func.count()).select_from(EventRow)
                                   .where(EventRow.occurrence_id.like("problem-%"))).scalar()
    assert (live, after) == (200, events)
    assert events == 200 + 80 + 40 + 80 + 80  # imported, reported, verified, extension asked, extension decided
