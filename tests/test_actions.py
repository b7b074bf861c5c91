"""The actions engine: who may do what, the state machine, the record, races. Real stores (SQLite, PostgreSQL)."""

import json
import threading

import pytest
from conftest import at
from sqlalchemy import select, update

from duban import actions
from duban.evidence import EvidenceStore, check
from duban.models import EventRow, EvidenceRow, NotificationRow, OccurrenceRow, PersonRow

PLAN = "mini-2020"
STARTED = "projects-started/shuangjiang/2020-09-01"  # owner shuangjiang, co-owner office, target 开工率 >= 100 %
STUDY = "leaders-study/leaders/2020-09-06"
VISIT = "visits/sj-cadre-1/2020-09-01"  # owned by the person sj-cadre-1
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"



def who(engine, person_id):
    with engine.connect() as connection:
        return actions.actor_for(connection, plan_id=PLAN, person_id=person_id)


def do(engine, kind, person_id, occurrence_id, moment="2020-09-14 10:00", **kwargs):
    with engine.begin() as connection:
        actor = actions.actor_for(connection, plan_id=PLAN, person_id=person_id)
        return actions.ACTIONS[kind](connection=connection, actor=actor, occurrence_id=occurrence_id,
                                     now=at(moment), source="cli", **kwargs)


def row(engine, occurrence_id):
    with engine.connect() as connection:
        return connection.execute(select(OccurrenceRow.__table__).where(
            OccurrenceRow.__table__.c.id == occurrence_id)).one()


def events(engine, occurrence_id):
    with engine.connect() as connection:
        return actions.history(connection, plan_id=PLAN, occurrence_id=occurrence_id)


@pytest.fixture
def refused(snapshot):
    """`refused(engine, kind, person, occurrence, code, **kwargs)`: the action is refused and nothing changed."""

    def check(engine, kind, person_id, occurrence_id, code, **kwargs):
        before = snapshot(engine)
        with pytest.raises(actions.ActionRefused) as error:
            do(engine, kind, person_id, occurrence_id, **kwargs)
        assert error.value.code == code, str(error.value)
        assert snapshot(engine) == before
        return str(error.value)

    return check


# --- the rules -----------------------------------------------------------------------------------------------

def test_actors_know_office_and_leaders(mini_store):
    office, leader = who(mini_store, "office-liaison"), who(mini_store, "leaders-head")
    town = who(mini_store, "sj-head")
    assert office.office and not office.leader
    assert leader.leader and not leader.office
    assert not town.office and not town.leader and town.unit_id == "shuangjiang"
    assert who(mini_store, "office-head").office and who(mini_store, "office-head").leader


def test_sql_lists_follow_the_same_rules_as_single_items(mini_store):
    """visible_clause/owned_clause (lists) agree with may_see/owns (one item) for every person and occurrence."""
    occ = OccurrenceRow.__table__
    with mini_store.connect() as connection:
        ids = [r.id for r in connection.execute(select(occ.c.id))]
        items = {i: actions.load_item(connection, plan_id=PLAN, occurrence_id=i) for i in ids}
        people = [r.id for r in connection.execute(select(PersonRow.id))]
        for person in people:
            actor = actions.actor_for(connection, plan_id=PLAN, person_id=person)
            seen = {r.id for r in connection.execute(select(occ.c.id).where(actions.visible_clause(connection, actor)))}
            owned = {r.id for r in connection.execute(select(occ.c.id).where(actions.owned_clause(connection, actor)))}
            assert seen == {i for i, item in items.items() if actions.may_see(actor, item)}, person
            assert owned == {i for i, item in items.items() if actions.owns(actor, item)}, person


def test_who_sees_what(mini_store):
    with mini_store.connect() as connection:
        started = actions.load_item(connection, plan_id=PLAN, occurrence_id=STARTED)
        visit = actions.load_item(connection, plan_id=PLAN, occurrence_id=VISIT)
    assert started.co_units == frozenset({"office"})
    sees = {p: actions.may_see(who(mini_store, p), started) for p in
            ("sj-head", "sj-cadre-1", "ql-head", "office-liaison", "leaders-head")}
    assert sees == {"sj-head": True, "sj-cadre-1": True, "ql-head": False, "office-liaison": True, "leaders-head": True}
    assert actions.owns(who(mini_store, "office-liaison"), started)  # the office co-owns it
    assert not actions.owns(who(mini_store, "leaders-head"), started)  # leaders read, they do not act
    # a person-owned item is the person's own, not their unit's
    assert actions.owns(who(mini_store, "sj-cadre-1"), visit)
    assert not actions.owns(who(mini_store, "sj-head"), visit)
    # the unit's head and in_charge read it (escalations tell them of it) and do nothing on it; another unit's not
    for person in ("sj-head", "sj-in-charge"):
        assert actions.may_see(who(mini_store, person), visit) and actions.allowed(who(mini_store, person), visit) == []
    assert not actions.may_see(who(mini_store, "ql-head"), visit)


def test_allowed_lists_the_buttons(mini_store):
    with mini_store.connect() as connection:
        item = actions.load_item(connection, plan_id=PLAN, occurrence_id=STARTED)
    assert actions.allowed(who(mini_store, "sj-head"), item) == ["ack", "report"]
    assert actions.allowed(who(mini_store, "office-liaison"), item) == ["ack", "report", "waive"]
    assert actions.allowed(who(mini_store, "leaders-head"), item) == []
    assert actions.allowed(who(mini_store, "ql-head"), item) == []


# --- the loop --------------------------------------------------------------------------------------------------

def test_the_whole_loop_is_on_the_record(mini_store, tmp_path, refused):
    store = EvidenceStore(tmp_path / "evidence")
    ack = do(mini_store, "ack", "sj-head", STARTED, "2020-09-10 09:00", note="收到")
    assert (ack.before, ack.after) == ("open", "acked")
    upload = check("开工照片.pdf", PDF, max_bytes=10_000)
    report = do(mini_store, "report", "sj-in-charge", STARTED, "2020-09-15 18:00", note="全部开工", value="１００％",
                files=[upload], store=store)
    assert report.after == "reported" and not report.late
    occ = row(mini_store, STARTED)
    assert occ.state == "reported" and occ.value == 100.0 and occ.report_count == 1
    assert occ.reported_at == at("2020-09-15 18:00") and occ.acked_at == at("2020-09-10 09:00")
    assert store.path(upload.sha256).read_bytes() == PDF
    verified = do(mini_store, "verify", "office-liaison", STARTED, "2020-09-16 10:00")
    assert verified.after == "verified" and row(mini_store, STARTED).verified_at == at("2020-09-16 10:00")
    history = events(mini_store, STARTED)
    assert [(e["kind"], e["before"], e["after"], e["actor"], e["source"]) for e in history] == [
        ("ack", "open", "acked", "sj-head", "cli"),
        ("report", "acked", "reported", "sj-in-charge", "cli"),
        ("verify", "reported", "verified", "office-liaison", "cli"),
    ]
    assert history[1]["data"]["value"] == 100.0 and history[1]["data"]["met"] is True
    assert history[1]["note"] == "全部开工"
    assert [f["name"] for f in history[1]["evidence"]] == ["开工照片.pdf"]
    with mini_store.connect() as connection:
        stored = connection.execute(select(EvidenceRow.__table__)).one()
    assert (stored.event_id, stored.uploaded_by, stored.size) == (report.event_id, "sj-in-charge", len(PDF))
    refused(mini_store, "undo", "sj-head", STARTED, "conflict")  # verified: no undo


def test_report_time_decides_late(mini_store):
    late = do(mini_store, "report", "ql-head", "projects-started/qinglong/2020-09-01", "2020-09-16 00:00:05",
              value="100")
    assert late.late
    assert events(mini_store, "projects-started/qinglong/2020-09-01")[-1]["data"]["late"] is True
    on_time = do(mini_store, "report", "sj-head", STARTED, "2020-09-20 10:00", value="100",
                 reported_at=at("2020-09-15 23:00"))  # done on time, recorded later (a ledger)
    assert not on_time.late and row(mini_store, STARTED).reported_at == at("2020-09-15 23:00")


def test_report_needs_the_figure_for_a_target_and_a_readable_one(mini_store, refused):
    assert "开工率" in refused(mini_store, "report", "sj-head", STARTED, "invalid")
    assert "不是数字" in refused(mini_store, "report", "sj-head", STARTED, "invalid", value="大约一半")
    refused(mini_store, "report", "sj-head", STARTED, "invalid", value="nan")
    refused(mini_store, "report", "sj-head", STARTED, "invalid", value="100", reported_at=at("2020-09-20 00:00"))
    refused(mini_store, "report", "sj-head", STARTED, "invalid", value="100", note="长" * 2001)
    below = do(mini_store, "report", "sj-head", STARTED, value="93.5")  # below target: reported, marked not met
    assert events(mini_store, STARTED)[-1]["data"]["met"] is False and below.after == "reported"


def test_undo_opens_the_item_again(mini_store, refused):
    do(mini_store, "report", "sj-cadre-1", VISIT, note="走访3户")
    assert row(mini_store, VISIT).state == "reported"
    undone = do(mini_store, "undo", "sj-cadre-1", VISIT, "2020-09-14 11:00")
    occ = row(mini_store, VISIT)
    assert (undone.before, undone.after) == ("reported", "open")
    assert occ.reported_at is None and occ.report_count == 0 and occ.value is None
    refused(mini_store, "undo", "sj-cadre-1", VISIT, "conflict")  # nothing left to undo


def test_reject_sends_back_and_tells_the_reporter(mini_store, refused):
    do(mini_store, "report", "sj-in-charge", STARTED, value="100")
    assert "原因" in refused(mini_store, "reject", "office-liaison", STARTED, "invalid", reason="  ")
    sent_back = do(mini_store, "reject", "office-liaison", STARTED, "2020-09-16 09:00", reason="缺少开工照片")
    occ = row(mini_store, STARTED)
    assert sent_back.after == "open" and occ.state == "open" and occ.reported_at is None and occ.report_count == 0
    last = events(mini_store, STARTED)[-1]
    assert (last["kind"], last["note"], last["data"]["reporter"]) == ("reject", "缺少开工照片", "sj-in-charge")
    with mini_store.connect() as connection:
        notes = connection.execute(select(NotificationRow.__table__)).all()
    assert [(n.person_id, n.channel, n.address, n.state) for n in notes] == [  # every channel the person has
        ("sj-in-charge", "email", "sun@example.org", "queued"), ("sj-in-charge", "sms", "13800000005", "queued")]
    assert len(notes[1].body_text) <= 70 and "缺少开工照片" in notes[1].body_text
    assert "缺少开工照片" in notes[0].body_text and "所有扶贫项目全面开工" in notes[0].subject
    again = do(mini_store, "report", "sj-in-charge", STARTED, "2020-09-16 12:00", value="100")
    assert again.late and row(mini_store, STARTED).report_count == 1


def test_only_the_office_verifies_and_never_its_own_report(mini_store, refused):
    do(mini_store, "report", "office-liaison", STARTED, value="100")  # the office co-owns this one
    refused(mini_store, "verify", "sj-head", STARTED, "forbidden")
    refused(mini_store, "verify", "leaders-head", STARTED, "forbidden")
    assert "本人" in refused(mini_store, "verify", "office-liaison", STARTED, "forbidden")
    assert do(mini_store, "verify", "office-head", STARTED).after == "verified"


def test_waive_needs_the_office_a_reason_and_a_pending_item(mini_store, refused):
    refused(mini_store, "waive", "sj-head", STARTED, "forbidden", reason="不需要")
    refused(mini_store, "waive", "office-head", STARTED, "invalid", reason="")
    waived = do(mini_store, "waive", "office-head", STARTED, "2020-09-12 09:00", reason="项目取消")
    assert waived.after == "waived" and row(mini_store, STARTED).waived_at == at("2020-09-12 09:00")
    refused(mini_store, "report", "sj-head", STARTED, "conflict", value="100")
    refused(mini_store, "waive", "office-head", STARTED, "conflict", reason="再次")


def test_refusals_change_nothing(mini_store, refused):
    refused(mini_store, "ack", "ql-head", STARTED, "forbidden")  # another unit
    refused(mini_store, "ack", "leaders-head", STARTED, "forbidden")  # leaders only read
    refused(mini_store, "ack", "sj-head", VISIT, "forbidden")  # a cadre's own item
    refused(mini_store, "ack", "sj-head", "no/such/item", "not_found")
    refused(mini_store, "verify", "office-head", STARTED, "conflict")  # nothing reported
    do(mini_store, "ack", "sj-head", STARTED)
    refused(mini_store, "ack", "sj-in-charge", STARTED, "conflict")  # already signed for


def test_archived_items_cannot_be_acted_on(mini_store, refused):
    with mini_store.begin() as connection:
        connection.execute(update(OccurrenceRow.__table__).where(OccurrenceRow.__table__.c.id == STARTED)
                           .values(archived=True))
    assert "撤下" in refused(mini_store, "ack", "sj-head", STARTED, "conflict")


def test_a_task_done_several_times_a_period_counts_each_report(mini_store):
    with mini_store.begin() as connection:
        connection.execute(update(OccurrenceRow.__table__).where(OccurrenceRow.__table__.c.id == STUDY).values(times=2))
    first = do(mini_store, "report", "leaders-head", STUDY, "2020-09-08 10:00", note="第一次专题会")
    assert first.after == "acked" and row(mini_store, STUDY).reported_at is None
    second = do(mini_store, "report", "leaders-head", STUDY, "2020-09-14 10:00", note="第二次专题会")
    assert second.after == "reported" and row(mini_store, STUDY).report_count == 2
    do(mini_store, "undo", "leaders-head", STUDY)
    occ = row(mini_store, STUDY)
    assert (occ.state, occ.report_count, occ.reported_at) == ("open", 1, None)


def test_a_race_has_one_winner(mini_store):
    """Eight people sign for the same item at once: one event, seven refusals, no error."""
    results, errors = [], []
    people = ["sj-head", "sj-in-charge", "sj-cadre-1", "office-head", "office-liaison"] * 2

    def attempt(person):
        try:
            results.append(do(mini_store, "ack", person, STARTED))
        except actions.ActionRefused as error:
            errors.append(error.code)

    threads = [threading.Thread(target=attempt, args=(p,)) for p in people[:8]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 1 and errors == ["conflict"] * 7
    assert [e["kind"] for e in events(mini_store, STARTED)] == ["ack"]


def test_a_stale_read_is_refused(mini_store):
    with mini_store.connect() as connection:
        stale = actions.load_item(connection, plan_id=PLAN, occurrence_id=STARTED)
    do(mini_store, "ack", "sj-head", STARTED)
    with mini_store.begin() as connection, pytest.raises(actions.ActionRefused) as error:
        actions._transition(connection, stale, "acked", at("2020-09-14 10:00"))
    assert error.value.code == "conflict"


def test_people_are_found_by_id_email_or_mobile(mini_store):
    with mini_store.connect() as connection:
        find = lambda text: actions.find_actor(connection, plan_id=PLAN, who=text).id  # noqa: E731
        assert find("sj-head") == find("QIAN@example.org") == find("13800000004") == find("138 0000 0004") == "sj-head"
        with pytest.raises(actions.ActionRefused, match="没有"):
            find("nobody@example.org")


def test_parse_figure():
    assert actions.parse_figure("93.5%") == 93.5
    assert actions.parse_figure("９３．５") == 93.5
    assert actions.parse_figure("1,200") == 1200
    assert actions.parse_figure(" ") is None and actions.parse_figure(None) is None
    assert actions.parse_figure(7) == 7.0


def test_event_data_is_json(mini_store):
    do(mini_store, "ack", "sj-head", STARTED)
    with mini_store.connect() as connection:
        data = connection.execute(select(EventRow.data).where(EventRow.kind == "ack")).scalar()
    assert json.loads(data) == {}


def test_a_co_owner_cannot_take_back_the_owners_report(mini_store, refused):
    do(mini_store, "report", "sj-head", STARTED, value="100")
    assert "报告人所在单位" in refused(mini_store, "undo", "office-liaison", STARTED, "forbidden")
    with mini_store.connect() as connection:
        item = actions.load_item(connection, plan_id=PLAN, occurrence_id=STARTED)
    assert (item.reporter, item.reporter_unit) == ("sj-head", "shuangjiang")
    assert actions.allowed(who(mini_store, "office-liaison"), item) == ["verify", "reject"]
    assert do(mini_store, "undo", "sj-in-charge", STARTED).after == "open"
