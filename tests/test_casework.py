"""Casework (issue 15): items the office hands out (交办), problem lists (问题清单), extensions (延期),
rectification with evidence, and sync leaving all of it alone; on SQLite and PostgreSQL."""

import base64
import json
from datetime import date

import pytest
from conftest import DATA, at
from sqlalchemy import func, select

from duban import actions
from duban.casework.assign import Assignment, hand_out
from duban.casework.extension import decide_extension, pending_request, request_extension
from duban.casework.plan import load_setup
from duban.casework.problems import ProblemListError, import_problems, read_problem_rows, write_template
from duban.catalog import parse_catalog
from duban.evidence import EvidenceStore, check
from duban.models import EventRow, OccurrenceRow, TaskRow
from duban.sync import sync

PLAN = "mini-2020"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
                       "RU5ErkJggg==")
HEADER = "来源,问题描述,责任单位,整改时限,整改要求\n"


def actor(connection, who):
    return actions.actor_for(connection, plan_id=PLAN, person_id=who)


def occurrence(engine, occurrence_id):
    with engine.connect() as connection:
        return connection.execute(select(OccurrenceRow.__table__).where(OccurrenceRow.id == occurrence_id)).one()


def kinds(engine, occurrence_id):
    with engine.connect() as connection:
        return connection.execute(select(EventRow.kind).where(EventRow.occurrence_id == occurrence_id)
                                  .order_by(EventRow.id)).scalars().all()


def assign(engine, owner="group:towns", due=date(2020, 10, 20), who="office-liaison", moment="2020-10-09 10:00"):
    with engine.begin() as connection:
        return hand_out(connection, setup=load_setup(connection, PLAN), actor=actor(connection, who), now=at(moment),
                        source="cli", assignment=Assignment("开展扶贫项目资金专项检查", owner, due, note="点穴式督导"))


def problems_file(tmp_path, body, name="problems.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def load_problems(engine, path, source="", moment="2020-10-09 10:00"):
    with engine.begin() as connection:
        return import_problems(connection, setup=load_setup(connection, PLAN), path=path, source=source,
                               actor=actor(connection, "office-liaison"), now=at(moment))


def test_a_handed_out_item_is_an_occurrence_per_unit_with_reminders_and_history(mini_store):
    ids = assign(mini_store)
    assert ids == ["assigned-0001/shuangjiang/2020-10-09", "assigned-0001/qinglong/2020-10-09"]
    row = occurrence(mini_store, ids[0])
    assert row.state == "open" and row.task_id == "assigned-0001" and row.original_due is None
    assert row.due == at("2020-10-20 23:59:59")
    reminders = json.loads(row.reminders)
    assert [stage for stage, _ in reminders] == [3, 1, 0]  # the plan's defaults, as any catalog item
    assert reminders[-1][1].startswith("2020-10-20T09:00")
    with mini_store.connect() as connection:
        task = connection.execute(select(TaskRow.__table__).where(TaskRow.id == "assigned-0001")).one()
    assert (task.origin, task.source, task.assigned_by, task.owner) == ("assigned", "交办", "office-liaison",
                                                                        "group:towns")
    assert json.loads(task.policy)["escalate"]  # escalates like the plan's own items
    assert kinds(mini_store, ids[0]) == ["assign"]
    assert assign(mini_store, owner="双江街道")[0].startswith("assigned-0002/shuangjiang/")  # by full name


@pytest.mark.parametrize(("who", "owner", "due", "words"), [
    ("sj-head", "shuangjiang", date(2020, 10, 20), "只有督办室才能交办"),
    ("office-liaison", "没有这个单位", date(2020, 10, 20), "owner："),
    ("office-liaison", "shuangjiang", date(2020, 10, 8), "早于今天"),
    ("office-liaison", "shuangjiang", date(2021, 1, 5), "晚于方案结束日"),
])
def test_hand_out_refused_changes_nothing(mini_store, who, owner, due, words):
    with pytest.raises(actions.ActionRefused, match=words):
        assign(mini_store, owner=owner, due=due, who=who)
    with mini_store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(TaskRow).where(TaskRow.origin != "catalog")
                                  ).scalar() == 0


def test_a_problem_list_is_imported_all_or_none_with_bad_rows_named(mini_store, tmp_path):
    bad = problems_file(tmp_path, "国家普查,危房改造未完成,双江街道,2020-11-30,限期改造\n"
                                  ",饮水不安全,没有的单位,2020-11-30,\n"
                                  "市级督查,台账不全,qinglong,2020-13-01,\n")
    with pytest.raises(ProblemListError) as refused:
        load_problems(mini_store, bad)
    assert refused.value.problems == [
        f"{bad}:3: 来源 is empty (fill the column, or give --source)",
        f"{bad}:3: 责任单位 '没有的单位' is not a unit of the plan (write its id, full or short name)",
        f"{bad}:4: 整改时限 '2020-13-01' is not a date (write 2020-11-30)",
    ]
    with mini_store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(TaskRow).where(TaskRow.origin == "problem")
                                  ).scalar() == 0
    good = problems_file(tmp_path, "国家普查,危房改造未完成,双江街道,2020-11-30,限期改造\n"
                                   ",饮水不安全,县扶贫办,2020/11/13,\n"
                                   "市级督查,台账不全,qinglong,2020年10月30日,\n")
    ids = load_problems(mini_store, good, source="县级督导")
    assert ids == ["problem-0001/shuangjiang/2020-10-09", "problem-0002/office/2020-10-09",
                   "problem-0003/qinglong/2020-10-09"]
    with mini_store.connect() as connection:
        sources = connection.execute(select(TaskRow.source).where(TaskRow.origin == "problem")
                                     .order_by(TaskRow.id)).scalars().all()
        event = connection.execute(select(EventRow.__table__).where(EventRow.occurrence_id == ids[1])).one()
    assert sources == ["国家普查", "县级督导", "市级督查"]  # an empty 来源 takes --source
    assert (event.kind, json.loads(event.data)["row"]) == ("problem", 3)


def test_the_template_has_the_columns_and_an_example_that_imports(mini_store, tmp_path):
    path = write_template(tmp_path / "问题清单.xlsx")
    rows = read_problem_rows(path)
    assert [r.row for r in rows] == [2]
    assert set(rows[0].cells) == {"来源", "问题描述", "责任单位", "整改时限", "整改要求"}
    assert load_problems(mini_store, path) == ["problem-0001/office/2020-10-09"]  # 县扶贫办: a short name


def test_a_problem_is_rectified_only_with_measures_and_evidence_and_the_office_verifies(mini_store, tmp_path):
    [item] = load_problems(mini_store, problems_file(tmp_path, "国家普查,危房改造未完成,双江街道,2020-11-30,\n"))
    store = EvidenceStore(tmp_path / "evidence")
    photo = check("整改后.png", PNG, max_bytes=10_000)
    with mini_store.begin() as connection:
        town = actor(connection, "sj-head")
        with pytest.raises(actions.ActionRefused, match="整改佐证材料"):
            actions.report(connection=connection, actor=town, occurrence_id=item, now=at("2020-11-01 10:00"),
                           source="web", note="已改造")
        with pytest.raises(actions.ActionRefused, match="整改措施"):
            actions.report(connection=connection, actor=town, occurrence_id=item, now=at("2020-11-01 10:00"),
                           source="web", files=[photo], store=store)
        actions.report(connection=connection, actor=town, occurrence_id=item, now=at("2020-11-01 10:00"),
                       source="web", note="已改造", files=[photo], store=store)
        actions.verify(connection=connection, actor=actor(connection, "office-head"), occurrence_id=item,
                       now=at("2020-11-02 10:00"), source="web")
    assert occurrence(mini_store, item).state == "verified"
    assert kinds(mini_store, item) == ["problem", "report", "verify"]


def test_an_extension_is_asked_refused_asked_again_and_granted(mini_store):
    item = assign(mini_store, owner="shuangjiang")[0]
    with mini_store.begin() as connection:
        setup = load_setup(connection, PLAN)

        def ask(who, until, reason="需要逐户核实"):
            return request_extension(connection, setup=setup, actor=actor(connection, who), occurrence_id=item,
                                     until=until, reason=reason, now=at("2020-10-15 10:00"), source="web")

        def decide(grant, note=""):
            return decide_extension(connection, setup=setup, actor=actor(connection, "office-head"),
                                    occurrence_id=item, grant=grant, note=note, now=at("2020-10-16 10:00"),
                                    source="web")

        with pytest.raises(actions.ActionRefused, match="无权"):
            ask("ql-head", date(2020, 11, 10))
        with pytest.raises(actions.ActionRefused, match="须晚于现时限"):
            ask("sj-head", date(2020, 10, 20))
        with pytest.raises(actions.ActionRefused, match="延期理由"):
            ask("sj-head", date(2020, 11, 10), reason=" ")
        with pytest.raises(actions.ActionRefused, match="没有待审批"):
            decide(True)
        ask("sj-head", date(2020, 11, 10))
        with pytest.raises(actions.ActionRefused, match="已有待审批"):
            ask("sj-in-charge", date(2020, 11, 12))
        with pytest.raises(actions.ActionRefused, match="只有督办室"):
            decide_extension(connection, setup=setup, actor=actor(connection, "sj-head"), occurrence_id=item,
                             grant=True, note="", now=at("2020-10-16 10:00"), source="web")
        with pytest.raises(actions.ActionRefused, match="理由"):
            decide(False)
        decide(False, "时间充足，请按期完成")
        assert pending_request(connection, plan_id=PLAN, occurrence_id=item) is None
        ask("sj-head", date(2020, 11, 10), "汛期道路中断")
        decide(True, "同意")
    row = occurrence(mini_store, item)
    assert row.due == at("2020-11-10 23:59:59")
    assert row.original_due == at("2020-10-20 23:59:59")
    assert json.loads(row.reminders)[-1][1].startswith("2020-11-10T09:00")
    assert kinds(mini_store, item) == ["assign", "extend_request", "extend_refuse", "extend_request", "extend_grant"]


def test_sync_never_archives_handed_out_items_or_problems(mini_store, mini_people, tmp_path):
    assigned = assign(mini_store)
    problems = load_problems(mini_store, problems_file(tmp_path, "国家普查,危房改造未完成,双江街道,2020-11-30,\n"
                                                                 "市级督查,台账不全,青龙街道,2020-11-13,\n"))
    with mini_store.begin() as connection:
        request_extension(connection, setup=load_setup(connection, PLAN), actor=actor(connection, "sj-head"),
                          occurrence_id=problems[0], until=date(2020, 12, 15), reason="汛期", now=at("2020-10-10"),
                          source="cli")
    before = {i: kinds(mini_store, i) for i in assigned + problems}
    text = (DATA / "mini.yaml").read_text(encoding="utf-8") + "\n# the office edits the plan\n"
    report = sync(engine=mini_store, catalog=parse_catalog(text), catalog_text=text, people=mini_people,
                  now=at("2020-10-20 08:00"))
    assert report.kinds["occurrences"].archived == 0 and report.kinds["tasks"].archived == 0
    with mini_store.connect() as connection:
        rows = connection.execute(select(OccurrenceRow.id, OccurrenceRow.archived).where(
            OccurrenceRow.id.in_(assigned + problems))).all()
        tasks = connection.execute(select(TaskRow.archived).where(TaskRow.origin != "catalog")).scalars().all()
    assert sorted(rows) == sorted((i, False) for i in assigned + problems)
    assert tasks == [False, False, False]
    assert {i: kinds(mini_store, i) for i in assigned + problems} == before


RECTIFY = """
  - id: rectify
    ref: 二（四）2
    title: 普查、督查、暗访等发现问题11月底前全部整改到位
    owner: group:towns
    owners_from: problems
    due: 2020-11-30
    evidence: 整改台账
"""


def test_a_list_answers_to_a_catalog_task_whose_owners_come_from_problem_lists(mini_store, mini_people, tmp_path):
    text = (DATA / "mini.yaml").read_text(encoding="utf-8") + RECTIFY
    sync(engine=mini_store, catalog=parse_catalog(text), catalog_text=text, people=mini_people,
         now=at("2020-10-01 08:00"))

    def answering(path, task_id="rectify"):
        with mini_store.begin() as connection:
            return import_problems(connection, setup=load_setup(connection, PLAN), path=path, source="",
                                   actor=actor(connection, "office-liaison"), now=at("2020-10-09 10:00"),
                                   task_id=task_id)

    bad = problems_file(tmp_path, "国家普查,危房改造未完成,县扶贫办,,\n")
    with pytest.raises(ProblemListError) as refused:
        answering(bad)
    assert refused.value.problems == [
        f"{bad}:2: 责任单位 '县扶贫办' is not among the owners of rectify (各乡镇（街道）)"]
    with pytest.raises(ProblemListError, match=r"--task: 'leaders-study' is not a catalog task .*: rectify"):
        answering(bad, "leaders-study")
    ids = answering(problems_file(tmp_path, "国家普查,危房改造未完成,双江街道,,\n"
                                            "市级督查,台账不全,青龙街道,2020-11-13,\n"))
    with mini_store.connect() as connection:
        refs = connection.execute(select(TaskRow.ref, TaskRow.evidence).where(TaskRow.origin == "problem")).all()
    assert [occurrence(mini_store, i).due for i in ids] == [at("2020-11-30 23:59:59"), at("2020-11-13 23:59:59")]
    assert [tuple(r) for r in refs] == [("二（四）2", "整改台账")] * 2
