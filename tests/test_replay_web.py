"""The web pages at a replayed moment (`duban web --as-of`, DUBAN_AS_OF): states, link validity and the time on
reports follow the replay clock, and reports made there say so; the base URL follows `duban web --host/--port`."""

import os
import re
import subprocess
import sys
import time
import warnings
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import Clock, at, free_port
from sqlalchemy import select

from duban import baseurl
from duban.doctor import check_base_url
from duban.links import item_path, make_token
from duban.models import EventRow
from duban.replay import ReplayClock
from duban.web import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PLAN = "mini-2020"
STARTED = "projects-started/shuangjiang/2020-09-01"  # due 2020-09-15
WALL = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def store_url(tmp_path):
    return f"sqlite:///{tmp_path / 'duban.sqlite'}"


def csrf(client, path):
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def test_replayed_pages_judge_links_states_and_reports_at_the_replayed_moment(mini_store, loop_settings):
    wall = Clock(WALL)
    replayed = ReplayClock(at("2020-09-14 10:00"), wall)
    token = make_token(secret=loop_settings.secret, person_id="sj-head", plan_id=PLAN, now=at("2020-09-14 09:00"))

    on_the_wall = TestClient(create_app(loop_settings, now=wall, engine=mini_store), base_url="http://testserver")
    assert "链接已过期" in on_the_wall.get(f"/login/{token}").text  # the bug: judged in 2026

    client = TestClient(create_app(loop_settings, now=replayed, engine=mini_store, replay=True),
                        base_url="http://testserver")
    assert client.get(f"/login/{token}?next={item_path(STARTED)}", follow_redirects=False).status_code == 303
    page = client.get(item_path(STARTED)).text
    assert "回放：页面时钟为 2020年9月14日" in page
    assert 'class="badge overdue"' not in page.split('class="card history"')[0]  # not 逾期 on 9-14

    wall.now = WALL + timedelta(minutes=5)  # the replay clock runs on at the wall's pace
    response = client.post(f"/do/report/{STARTED}", data={"csrf": csrf(client, item_path(STARTED)),
                                                           "note": "全部开工", "value": "100"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text[:300]
    with mini_store.connect() as connection:
        event = connection.execute(select(EventRow.__table__).where(EventRow.kind == "report")).one()
    assert event.at.astimezone(UTC) == at("2020-09-14 10:05").astimezone(UTC)
    assert '"replay": true' in event.data and '"late": false' in event.data
    history = client.get(item_path(STARTED)).text
    assert "2020年9月14日" in history and "10:05" in history and 'class="badge replay">回放' in history
    from typer.testing import CliRunner

    from duban.cli import _load_commands
    from duban.cli.common import app

    _load_commands()
    shown = CliRunner().invoke(app, ["history", STARTED], env={"DUBAN_DATABASE_URL": loop_settings.database_url})
    assert shown.exit_code == 0 and "2020-09-14 10:05" in shown.stdout and "回放" in shown.stdout, shown.output


def run_web(tmp_path, settings, *args, env_extra=None):
    port = free_port()
    env = {**os.environ, "DUBAN_DATABASE_URL": settings.database_url, "DUBAN_VAR_DIR": settings.var_dir,
           "DUBAN_SECRET": settings.secret, **(env_extra or {})}
    env.pop("DUBAN_BASE_URL", None)
    log = open(tmp_path / f"web-{port}.log", "w+")  # noqa: SIM115 - the server writes to it until stopped
    process = subprocess.Popen([sys.executable, "-m", "duban", "web", "--port", str(port), *args], env=env,
                               stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            break
        except httpx.HTTPError:
            assert process.poll() is None and time.monotonic() < deadline, Path(log.name).read_text()
            time.sleep(0.2)
    return process, port, log


@pytest.mark.parametrize("how", ["--as-of", "DUBAN_AS_OF"])
def test_duban_web_as_of_serves_the_replay_and_links_follow_its_port(mini_store, loop_settings, tmp_path, how):
    settings = replace(loop_settings, base_url=baseurl.DEFAULT)
    args, extra = (["--as-of", "2020-09-14T10:00"], None) if how == "--as-of" else ([], {"DUBAN_AS_OF": "2020-09-14"})
    process, port, log = run_web(tmp_path, settings, *args, env_extra=extra)
    try:
        token = make_token(secret=settings.secret, person_id="sj-head", plan_id=PLAN, now=at("2020-09-13 09:00"))
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert client.get(f"/login/{token}").status_code == 303
            assert "回放：页面时钟为 2020年9月14日" in client.get("/").text
    finally:
        process.terminate()
        process.wait(timeout=30)
    output = Path(log.name).read_text()
    assert "replaying from 2020-09-14" in output
    assert f"links point at http://127.0.0.1:{port}" in output
    assert baseurl.recorded(settings.var_dir) == f"http://127.0.0.1:{port}"

    if how == "--as-of":
        links_follow_the_web(settings, port)


def links_follow_the_web(settings, port):
    """`duban link` (in-process, through the CLI runner) uses and names the base `duban web` recorded."""
    from typer.testing import CliRunner

    from duban.cli import _load_commands
    from duban.cli.common import app

    _load_commands()
    env = {"DUBAN_DATABASE_URL": settings.database_url, "DUBAN_VAR_DIR": settings.var_dir,
           "DUBAN_SECRET": settings.secret, "DUBAN_BASE_URL": None}
    link = CliRunner().invoke(app, ["link", "sj-head", "--as-of", "2020-09-14"], env=env)
    assert link.exit_code == 0, link.output
    assert link.stdout.startswith(f"http://127.0.0.1:{port}/login/")
    assert f"base http://127.0.0.1:{port} (DUBAN_BASE_URL is unset: the address `duban web` serves on" in link.stderr
    told = CliRunner().invoke(app, ["link", "sj-head", "--as-of", "2020-09-14"],
                              env={**env, "DUBAN_BASE_URL": "https://duban.example.gov.cn"})
    assert told.stdout.startswith("https://duban.example.gov.cn/login/") and "(DUBAN_BASE_URL)" in told.stderr


def test_doctor_warns_about_a_loopback_base_url_outside_a_demo(loop_settings, tmp_path):
    settings = replace(loop_settings, base_url=baseurl.DEFAULT)
    warned = check_base_url(settings)
    assert warned.ok and warned.detail.startswith("warning:") and "DUBAN_BASE_URL" in warned.detail
    (Path(settings.var_dir)).mkdir(parents=True, exist_ok=True)
    (Path(settings.var_dir) / baseurl.DEMO_MARK).write_text("{}", encoding="utf-8")
    assert "fine for the demo" in check_base_url(settings).detail
    assert check_base_url(replace(settings, base_url="https://duban.example.gov.cn")).detail == \
        "https://duban.example.gov.cn"
