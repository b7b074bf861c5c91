"""The delivery policy, pure: which reminder stage or escalation level is current at a moment, and who hears it."""

from __future__ import annotations

from datetime import date, time

import pytest
from conftest import SHANGHAI, at

from duban.catalog import EscalationLevel, Policy
from duban.directory import Person
from duban.notices import parse_quiet_hours, sms_not_before
from duban.policy import (
    Directory,
    EscalationClock,
    Pending,
    decide,
    escalation_stage,
    person_channels,
    policy_from_json,
    recipients,
    reminder_stage,
)
from duban.schedule import Period, deadline, reminder_moments
from duban.workdays import WorkdayCalendar

CN = WorkdayCalendar("cn")
CLOCK = EscalationClock(CN, time(9, 0), SHANGHAI)
LEVELS = (EscalationLevel(1, ("in_charge",)), EscalationLevel(3, ("head",)), EscalationLevel(5, ("unit:office",)))


def reminders_for(due_day: date, stages=(3, 1, 0), start: date = date(2020, 9, 1)):
    return reminder_moments(Period(start, due_day), stages, CN, time(9, 0), SHANGHAI)


def stage_at(due_day: date, when: str, stages=(3, 1, 0)):
    return reminder_stage(reminders_for(due_day, stages), deadline(due_day, SHANGHAI), at(when))


def level_at(due_day: date, when: str, repeat_every: int = 5, acked: bool = False, levels=LEVELS):
    return escalation_stage(due=deadline(due_day, SHANGHAI), levels=levels, repeat_every=repeat_every, acked=acked,
                            clock=CLOCK, as_of=at(when))


def test_reminders_before_national_day_2020_skip_the_holiday():
    # Due Friday 2020-10-09, the first workday after Oct 1-8: 1 workday before is Sept 30, 3 before is Sept 28.
    moments = dict(reminders_for(date(2020, 10, 9)))
    assert {n: m.date() for n, m in moments.items()} == {
        3: date(2020, 9, 28), 1: date(2020, 9, 30), 0: date(2020, 10, 9)}
    assert stage_at(date(2020, 10, 9), "2020-09-28 08:59") is None
    assert stage_at(date(2020, 10, 9), "2020-09-28 09:00").name == "remind-3"
    assert stage_at(date(2020, 10, 9), "2020-09-29 12:00").name == "remind-3"
    assert stage_at(date(2020, 10, 9), "2020-10-05 09:00").name == "remind-1"  # holiday: still stage 1
    assert stage_at(date(2020, 10, 9), "2020-10-09 09:00").name == "remind-0"
    assert stage_at(date(2020, 10, 9), "2020-10-09 23:59").name == "remind-0"
    assert stage_at(date(2020, 10, 9), "2020-10-10 09:00") is None  # past due: escalation's turn


def test_only_the_latest_reminder_stage_is_current():
    # A first run on the deadline day sends stage 0, never the stale stages 3 and 1.
    stage = stage_at(date(2020, 10, 9), "2020-10-09 10:00")
    assert (stage.name, stage.workdays, stage.moment) == ("remind-0", 0, at("2020-10-09 09:00"))


def test_reminders_around_spring_festival_2021_use_the_makeup_sunday():
    # Due Wednesday 2021-02-10; Sunday Feb 7 is a make-up workday, so it is 3 workdays before.
    moments = dict(reminders_for(date(2021, 2, 10), start=date(2021, 2, 1)))
    assert {n: m.date() for n, m in moments.items()} == {
        3: date(2021, 2, 7), 1: date(2021, 2, 9), 0: date(2021, 2, 10)}
    assert stage_at(date(2021, 2, 10), "2021-02-07 09:00").name == "remind-3"


def test_escalation_after_national_day_counts_workdays():
    # Due Sept 30: the 1st workday after is Oct 9, the 3rd is Oct 12 (Saturday Oct 10 is worked), the 5th Oct 14.
    assert level_at(date(2020, 9, 30), "2020-10-08 09:00") is None
    first = level_at(date(2020, 9, 30), "2020-10-09 09:00")
    assert (first.name, first.level, first.levels, first.to) == ("escalate-1", 1, 3, ("in_charge",))
    assert level_at(date(2020, 9, 30), "2020-10-10 09:00").name == "escalate-1"  # Saturday Oct 10 is worked
    assert level_at(date(2020, 9, 30), "2020-10-12 09:00").name == "escalate-3"
    assert level_at(date(2020, 9, 30), "2020-10-14 09:00").name == "escalate-5"


def test_top_level_repeats_every_n_workdays_and_never_with_zero():
    assert level_at(date(2020, 9, 30), "2020-10-20 09:00").name == "escalate-5"
    repeat = level_at(date(2020, 9, 30), "2020-10-21 09:00")  # 5 workdays after Oct 14
    assert (repeat.name, repeat.repeat, repeat.moment) == ("escalate-5-r1", 1, at("2020-10-21 09:00"))
    assert level_at(date(2020, 9, 30), "2020-10-28 09:00").name == "escalate-5-r2"
    assert level_at(date(2020, 9, 30), "2020-12-01 09:00", repeat_every=0).name == "escalate-5"


def test_escalation_after_spring_festival_2021():
    # Due Wednesday Feb 10: Feb 11-17 off, so the 1st workday after is Feb 18; the 3rd is Saturday Feb 20.
    assert level_at(date(2021, 2, 10), "2021-02-17 09:00") is None
    assert level_at(date(2021, 2, 10), "2021-02-18 09:00").name == "escalate-1"
    assert level_at(date(2021, 2, 10), "2021-02-20 09:00").name == "escalate-3"


def test_levels_below_the_current_one_are_not_sent_late():
    stage = level_at(date(2020, 9, 15), "2020-09-25 10:00", repeat_every=0)
    assert stage.name == "escalate-5"  # never escalate-1 or escalate-3 when the first run comes this late


def test_ack_pauses_levels_marked_so():
    levels = (EscalationLevel(1, ("in_charge",)), EscalationLevel(3, ("head",), ack_pauses=True))
    assert level_at(date(2020, 9, 15), "2020-09-21 09:00", levels=levels).name == "escalate-3"
    assert level_at(date(2020, 9, 15), "2020-09-21 09:00", levels=levels, acked=True).name == "escalate-1"
    only_paused = (EscalationLevel(1, ("head",), ack_pauses=True),)
    assert level_at(date(2020, 9, 15), "2020-09-21 09:00", levels=only_paused, acked=True) is None


def _pending(state="open", due_day=date(2020, 9, 15), task="t"):
    return Pending("t/u/2020-09-01", task, "u", "unit", "u", deadline(due_day, SHANGHAI), state,
                   reminders_for(due_day))


@pytest.mark.parametrize("state", ["reported", "verified", "waived"])
def test_done_or_waived_stops_everything(state):
    policies = {"t": Policy(escalate=LEVELS, repeat_every=5)}
    assert decide([_pending(state)], policies, CLOCK, at("2020-09-14 09:00")) == []
    assert decide([_pending(state)], policies, CLOCK, at("2020-09-25 09:00")) == []


def test_decide_kinds_separate_reminders_from_escalations():
    policies = {"t": Policy(escalate=LEVELS, repeat_every=5)}
    early, late = at("2020-09-14 09:00"), at("2020-09-17 09:00")
    assert [s.name for _, s in decide([_pending()], policies, CLOCK, early)] == ["remind-1"]
    assert decide([_pending()], policies, CLOCK, early, kinds=("escalate",)) == []
    assert [s.name for _, s in decide([_pending()], policies, CLOCK, late, kinds=("escalate",))] == ["escalate-1"]
    assert decide([_pending()], policies, CLOCK, late, kinds=("remind",)) == []


def test_a_moved_deadline_names_its_stages_anew_so_they_are_heard_of_again():
    policies = {"t": Policy(escalate=LEVELS, repeat_every=5)}
    first = _pending(due_day=date(2020, 9, 15))
    moved = _pending(due_day=date(2020, 9, 30))
    moved = Pending(moved.id, moved.task_id, moved.owner_id, moved.owner_kind, moved.unit_id, moved.due, moved.state,
                    moved.reminders, extended=True)
    before = decide([first], policies, CLOCK, at("2020-09-14 09:00"))
    after = decide([moved, first], policies, CLOCK, at("2020-09-29 09:00"))
    assert [s.name for _, s in before] == ["remind-1"]
    # remind-1 for the new deadline is not the remind-1 already put for the old one; unmoved items keep their names
    assert [(o.extended, s.name) for o, s in after] == [(True, "remind-1@20200930"), (False, "escalate-5-r1")]
    # National Day: 10-09 is the first workday after the moved deadline of 09-30
    late = decide([moved], policies, CLOCK, at("2020-10-09 09:00"), kinds=("escalate",))
    assert [s.name for _, s in late] == ["escalate-1@20200930"]
    assert all(len(s.name) <= 40 for _, s in after + late)  # delivery.stage holds 40 characters


def test_policy_json_round_trip():
    policy = policy_from_json('{"remind": [5, 0], "escalate": [{"after": 3, "to": ["head"], "ack_pauses": true},'
                              ' {"after": 1, "to": ["in_charge"]}], "repeat_every": 2, "channels": ["email"]}')
    assert policy.remind == (5, 0)
    assert [lv.after for lv in policy.escalate] == [1, 3]
    assert policy.escalate[1].ack_pauses and policy.repeat_every == 2 and policy.channels == ("email",)


DIRECTORY = Directory.of([
    Person("t-head", "钱书记", "town", ("head",), "qian@example.org", "13800000004"),
    Person("t-charge", "孙副主任", "town", ("in_charge",), "sun@example.org", ""),
    Person("t-liaison", "赵联络", "town", ("liaison",), "", "13800000009"),
    Person("o-head", "王主任", "office", ("head",), "wang@example.org", ""),
    Person("o-liaison", "李联络", "office", ("liaison",), "li@example.org", ""),
    Person("d-head", "周局长", "dept", ("head",), "zhou@example.org", ""),
    Person("cadre", "冯干部", "town", ("pairing_cadre",), "feng@example.org", ""),
])


def _unit_occ(unit="town"):
    return Pending("x", "t", unit, "unit", unit, deadline(date(2020, 9, 15), SHANGHAI), "open")


def test_reminder_recipients_are_liaison_and_in_charge_and_co_owner_liaisons():
    stage = stage_at(date(2020, 9, 15), "2020-09-15 09:00")
    found = recipients(_unit_occ(), stage, ("office",), DIRECTORY)
    assert {(r.person_id, r.why) for r in found} == {
        ("t-charge", "owner"), ("t-liaison", "owner"), ("o-liaison", "co_owner")}


def test_a_unit_without_liaison_or_in_charge_falls_back_to_its_head():
    stage = stage_at(date(2020, 9, 15), "2020-09-15 09:00")
    assert [r.person_id for r in recipients(_unit_occ("dept"), stage, (), DIRECTORY)] == ["d-head"]


def test_escalation_recipients_are_the_level_and_the_owner_again():
    stage = level_at(date(2020, 9, 15), "2020-09-25 09:00", repeat_every=0)  # unit:office
    found = {(r.person_id, r.why) for r in recipients(_unit_occ(), stage, ("office",), DIRECTORY)}
    assert found == {("t-charge", "owner"), ("t-liaison", "owner"), ("o-liaison", "superior"), ("o-head", "superior")}
    second = level_at(date(2020, 9, 15), "2020-09-18 09:00")  # head of the owner's unit
    assert {r.person_id for r in recipients(_unit_occ(), second, (), DIRECTORY)} == {"t-charge", "t-liaison", "t-head"}


def test_a_person_owner_hears_themself():
    occ = Pending("x", "t", "cadre", "person", "town", deadline(date(2020, 9, 15), SHANGHAI), "open")
    stage = stage_at(date(2020, 9, 15), "2020-09-15 09:00")
    assert [(r.person_id, r.why) for r in recipients(occ, stage, (), DIRECTORY)] == [("cadre", "owner")]


def test_channels_follow_the_policy_and_reach_everyone_somehow():
    people = DIRECTORY.people
    assert person_channels(people["t-head"], ("email", "sms")) == ["email", "sms"]
    assert person_channels(people["t-liaison"], ("email", "sms")) == ["sms"]
    assert person_channels(people["t-liaison"], ("email",)) == ["sms"]  # no email: reach them by SMS
    assert person_channels(people["t-head"], ("dingtalk",)) == []


def test_quiet_hours_hold_sms_until_morning():
    quiet = parse_quiet_hours("21:00-08:00")
    assert sms_not_before(at("2020-10-09 09:00"), quiet, SHANGHAI) == at("2020-10-09 09:00")
    assert sms_not_before(at("2020-10-09 22:30"), quiet, SHANGHAI) == at("2020-10-10 08:00")
    assert sms_not_before(at("2020-10-10 06:00"), quiet, SHANGHAI) == at("2020-10-10 08:00")
    assert sms_not_before(at("2020-10-10 06:00"), parse_quiet_hours("off"), SHANGHAI) == at("2020-10-10 06:00")
    with pytest.raises(ValueError, match="quiet_hours"):
        parse_quiet_hours("late")
