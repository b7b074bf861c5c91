"""Casework from the command line and the pages (issue 15): one clear line and nothing written for every
mistake; the office's pages refuse others; the template round trip and the counts as JSON."""

import json
import warnings

import pytest
from conftest import Clock, at, store_snapshot
from sqlalchemy import select
from typer.testing import CliRunner

from duban.cli import _load_commands
from duban.cli.common import app
from duban.links import make_token
from duban.models import EventRow, OccurrenceRow, TaskRow
from duban.web import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PLAN = "mini-2020"
runner = CliRunner()
_load_commands()


@pytest.fixture
def store_url(tmp_path):
    """The commands are thin shells over duban.casework (tested on both stores): SQLite is enough here."""
    return f"sqlite:///{tmp_path / 'duban.sqlite'}"


@pytest.fixture
def cli(mini_store, loop_settings, monkeypatch, tmp_path):
    """Run `duban ...` against the test store; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("DUBAN_DATABASE_URL", loop_settings.database_url)
    monkeypatch.setenv("DUBAN_VAR_DIR", loop_settings.var_dir)
    monkeypatch.setenv("DUBAN_SECRET", loop_settings.secret)
    monkeypatch.setenv("DUBAN_CONFIG", str(tmp_path / "none.toml"))

    def run(*args):
        result = runner.invoke(app, [str(a) for a in args])
        return result.exit_code, result.stdout, result.stderr

    run.engine = mini_store
    return run


def tables(engine):
    snap = store_snapshot(engine)
    with engine.connect() as connection:
        snap["task"] = sorted(map(tuple, connection.execute(select(TaskRow.__table__)).all()), key=repr)
        snap["occurrence"] = sorted(map(tuple, connection.execute(select(OccurrenceRow.__table__)).all()), key=repr)
    return snap


def refused(cli, *args, words):
    before = tables(cli.engine)
    code, out, err = cli(*args)
    assert code == 1, out
    assert "Traceback" not in err and words in err, err
    assert tables(cli.engine) == before
    return err


ASSIGN = ("assign", "--title", "专项检查", "--due", "2020-10-20", "--as-of", "2020-10-09T10:00")


@pytest.mark.parametrize(("extra", "words"), [
    (("--owner", "towns", "--by", "sj-head"), "只有督办室才能交办事项"),
    (("--owner", "没有", "--by", "office-liaison"), "owner：没有名为“没有”的单位或单位组"),
    (("--owner", "towns", "--by", "nobody"), "通讯录中没有“nobody”"),
])
def test_assign_mistakes_are_one_line_and_change_nothing(cli, extra, words):
    err = refused(cli, *ASSIGN, *extra, words=words)
    assert err.count("\n") == 1 and err.startswith("duban: ")


def test_assign_bad_date_is_one_line(cli):
    refused(cli, "assign", "--title", "x", "--owner", "towns", "--by", "office-liaison", "--due", "10/20",
            words="--due: cannot read '10/20' as a date")


def test_assign_extend_decide_and_history_from_the_command_line(cli):
    code, out, err = cli(*ASSIGN, "--owner", "各乡镇（街道）", "--by", "office-liaison", "--note", "点穴式督导")
    assert code == 0, err
    assert out.splitlines() == ["assigned-0001/shuangjiang/2020-10-09", "assigned-0001/qinglong/2020-10-09",
                                "交办 1 项，2 个责任单位"]
    item = "assigned-0001/shuangjiang/2020-10-09"
    refused(cli, "extend", item, "--until", "2020-11-10", "--reason", "x", "--by", "ql-head", "--as-of",
            "2020-10-12", words="无权")
    refused(cli, "decide-extension", item, "--by", "office-head", "--as-of", "2020-10-12", words="没有待审批")
    assert cli("extend", item, "--until", "2020-11-10", "--reason", "汛期", "--by", "sj-head", "--as-of",
               "2020-10-12")[0] == 0
    refused(cli, "decide-extension", item, "--by", "office-head", "--refuse", " ", "--as-of", "2020-10-13",
            words="请写明不同意延期的理由")
    code, out, err = cli("decide-extension", item, "--by", "office-head", "--as-of", "2020-10-13")
    assert code == 0 and "同意延期" in out, err
    code, out, _ = cli("history", item, "--format", "json")
    assert [e["kind"] for e in json.loads(out)] == ["assign", "extend_request", "extend_grant"]


def test_import_problems_cli_all_or_none_then_counts(cli, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("来源,问题描述,责任单位,整改时限\n国家普查,问题一,双江街道,2020-11-30\n国家普查,问题二,火星,2020-11-30\n",
                   encoding="utf-8")
    before = tables(cli.engine)
    code, out, err = cli("import-problems", bad, "--by", "office-liaison", "--as-of", "2020-10-09")
    assert code == 1
    assert err.splitlines() == [
        f"{bad}:3: 责任单位 '火星' is not a unit of the plan (write its id, full or short name)",
        "duban: nothing imported (1 problem(s))"]
    assert tables(cli.engine) == before
    refused(cli, "import-problems", tmp_path / "none.xlsx", "--by", "office-liaison", words="no such file")
    refused(cli, "import-problems", bad, words="--by: name the person of the office")
    template = tmp_path / "问题清单.xlsx"
    assert cli("import-problems", "--template", template)[0] == 0
    code, out, err = cli("import-problems", template, "--by", "office-liaison", "--as-of", "2020-10-09")
    assert (code, out.strip()) == (0, f"{template}: 1 problem(s) imported"), err
    code, out, _ = cli("problems", "--as-of", "2020-12-01", "--format", "json")
    counts = json.loads(out)
    assert counts["total"] == {"label": "合计", "found": 1, "rectified": 0, "verified": 0, "overdue": 1,
                               "extended": 0, "rate": 0.0}
    assert [t["label"] for t in counts["by_source"]] == ["市级督查"]


def test_the_office_pages_refuse_others_and_forms_need_their_token(mini_store, loop_settings):
    clock = Clock(at("2020-10-09 10:00"))
    web = create_app(loop_settings, now=clock, engine=mini_store)

    def login(person):
        client = TestClient(web, base_url="http://testserver")
        token = make_token(secret=loop_settings.secret, person_id=person, plan_id=PLAN, now=clock.now)
        assert client.get(f"/login/{token}", follow_redirects=False).status_code == 303
        return client

    town, office = login("sj-head"), login("office-liaison")
    assert town.get("/assign").status_code == 403
    assert town.get("/extensions").status_code == 403
    before = tables(mini_store)
    form = {"title": "专项检查", "owner": "shuangjiang", "due": "2020-10-20"}
    assert office.post("/assign", data={**form, "csrf": "wrong"}).status_code == 403
    assert town.post("/assign", data=form).status_code == 403
    bad = office.post("/assign", data={**form, "due": "", "csrf": _csrf(office, "/assign")})
    assert bad.status_code == 400 and "due：请填写日期" in bad.text
    assert tables(mini_store) == before
    done = office.post("/assign", data={**form, "csrf": _csrf(office, "/assign")})
    assert done.status_code == 200 and "已交办，共 1 个责任单位" in done.text
    item = "assigned-0001/shuangjiang/2020-10-09"
    assert login("ql-head").get(f"/extend/{item}").status_code == 403
    asked = town.post(f"/extend/{item}", data={"until": "2020-10-30", "reason": "汛期",
                                                "csrf": _csrf(town, f"/extend/{item}")}, follow_redirects=False)
    assert asked.status_code == 303
    assert "汛期" in office.get("/extensions").text


def _csrf(client, path):
    import re

    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def test_hand_out_and_extensions_on_replayed_pages_are_marked(mini_store, loop_settings):
    clock = Clock(at("2020-10-09 10:00"))
    web = create_app(loop_settings, now=clock, engine=mini_store, replay=True)
    clients = {}
    for person in ("office-liaison", "sj-head"):
        clients[person] = TestClient(web, base_url="http://testserver")
        token = make_token(secret=loop_settings.secret, person_id=person, plan_id=PLAN, now=clock.now)
        assert clients[person].get(f"/login/{token}", follow_redirects=False).status_code == 303
    office, town = clients["office-liaison"], clients["sj-head"]
    form = {"title": "专项检查", "owner": "shuangjiang", "due": "2020-10-20", "csrf": _csrf(office, "/assign")}
    assert office.post("/assign", data=form).status_code == 200
    item = "assigned-0001/shuangjiang/2020-10-09"
    asked = town.post(f"/extend/{item}", data={"until": "2020-10-30", "reason": "汛期",
                                                "csrf": _csrf(town, f"/extend/{item}")}, follow_redirects=False)
    assert asked.status_code == 303
    decided = office.post(f"/extend/{item}", data={"decision": "grant", "csrf": _csrf(office, f"/extend/{item}")},
                          follow_redirects=False)
    assert decided.status_code == 303
    with mini_store.connect() as connection:
        events = connection.execute(select(EventRow.kind, EventRow.at, EventRow.data).where(
            EventRow.occurrence_id == item).order_by(EventRow.id)).all()
    assert [(e.kind, e.at, json.loads(e.data).get("replay")) for e in events] == [
        ("assign", at("2020-10-09 10:00"), True), ("extend_request", at("2020-10-09 10:00"), True),
        ("extend_grant", at("2020-10-09 10:00"), True)]
