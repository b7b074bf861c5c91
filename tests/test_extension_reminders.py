"""A granted extension (延期) moves the deadline; the owner is reminded again before the new one, once per stage,
and the reminders already put for the old deadline are not put twice (issue 15's gap), SQLite and PostgreSQL."""

from collections import Counter
from datetime import date

from conftest import at
from sqlalchemy import select

from duban import actions, runs
from duban.casework.assign import Assignment, hand_out
from duban.casework.extension import decide_extension, request_extension
from duban.casework.plan import load_setup
from duban.config import Settings
from duban.models import DeliveryRow

PLAN = "mini-2020"


def _settings(engine, tmp_path) -> Settings:
    return Settings(database_url=engine.url.render_as_string(hide_password=False), var_dir=str(tmp_path / "var"),
                    secret="test-secret-" + "x" * 20, base_url="https://duban.example.gov.cn")


def _act(engine, who, do):
    with engine.begin() as connection:
        return do(connection, load_setup(connection, PLAN),
                  actions.actor_for(connection, plan_id=PLAN, person_id=who))


def _stages_put(engine, item) -> Counter:
    with engine.connect() as connection:
        rows = connection.execute(select(DeliveryRow.stage).where(DeliveryRow.occurrence_id == item)).scalars()
        return Counter(rows)


def test_after_an_extension_the_owner_is_reminded_again_before_the_new_deadline(mini_store, tmp_path):
    item = _act(mini_store, "office-liaison", lambda c, setup, actor: hand_out(
        c, setup=setup, actor=actor, now=at("2020-10-09 10:00"), source="cli",
        assignment=Assignment("开展扶贫项目资金专项检查", "shuangjiang", date(2020, 10, 20))))[0]
    ctx = runs.context(mini_store, _settings(mini_store, tmp_path), PLAN)

    def run(day):
        return runs.notices(mini_store, ctx, at(f"{day} 09:00"), ("remind", "escalate"), collect=True)

    for day in ("2020-10-15", "2020-10-19", "2020-10-20"):
        run(day)
    before = _stages_put(mini_store, item)
    assert set(before) == {"remind-3", "remind-1", "remind-0"}

    _act(mini_store, "sj-head", lambda c, setup, actor: request_extension(
        c, setup=setup, actor=actor, occurrence_id=item, until=date(2020, 11, 10), reason="需要逐户核实",
        now=at("2020-10-20 10:00"), source="web"))
    _act(mini_store, "office-head", lambda c, setup, actor: decide_extension(
        c, setup=setup, actor=actor, occurrence_id=item, grant=True, note="同意", now=at("2020-10-20 11:00"),
        source="web"))

    run("2020-10-21")  # the old deadline has passed, the new one is far: nothing on this item
    assert _stages_put(mini_store, item) == before
    for day in ("2020-11-05", "2020-11-05", "2020-11-09", "2020-11-10", "2020-11-11"):
        run(day)
    after = _stages_put(mini_store, item) - before
    # the three reminders again, for the new deadline, each put once to each person and channel it was put before
    assert set(after) == {"remind-3@20201110", "remind-1@20201110", "remind-0@20201110", "escalate-1@20201110"}
    assert after["remind-3@20201110"] == before["remind-3"]
