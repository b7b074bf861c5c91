"""Periods, deadlines and reminder moments, as an official would compute them by hand."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from duban.catalog import Policy, Task
from duban.schedule import Period, escalation_moment, expand, periods, reminder_moments
from duban.workdays import WorkdayCalendar

CN = WorkdayCalendar("cn")
TZ = ZoneInfo("Asia/Shanghai")


def task(**kwargs) -> Task:
    values = {
        "id": "t",
        "ref": "二（一）1",
        "title": "t",
        "owner": "office",
        "start": date(2020, 9, 1),
        "end": date(2020, 12, 31),
        "policy": Policy(),
    }
    values.update(kwargs)
    return Task(**values)


def test_semimonthly_periods_are_clipped_to_the_window():
    result = periods(task(every="semimonthly", start=date(2020, 9, 6)), CN)
    assert result[0] == Period(date(2020, 9, 6), date(2020, 9, 15))
    assert result[1] == Period(date(2020, 9, 16), date(2020, 9, 30))
    assert result[-1] == Period(date(2020, 12, 16), date(2020, 12, 31))
    assert len(result) == 8


def test_monthly_periods_end_on_month_ends_and_clip():
    result = periods(task(every="monthly", start=date(2020, 9, 6), end=date(2020, 11, 20)), CN)
    assert result == [
        Period(date(2020, 9, 6), date(2020, 9, 30)),
        Period(date(2020, 10, 1), date(2020, 10, 31)),
        Period(date(2020, 11, 1), date(2020, 11, 20)),
    ]


def test_weekly_runs_monday_to_sunday_across_month_ends():
    result = periods(task(every="weekly", start=date(2020, 9, 1), end=date(2020, 10, 6)), CN)
    assert result[0] == Period(date(2020, 9, 1), date(2020, 9, 6))
    assert Period(date(2020, 9, 28), date(2020, 10, 4)) in result
    assert result[-1] == Period(date(2020, 10, 5), date(2020, 10, 6))


def test_quarterly_and_yearly():
    assert periods(task(every="quarterly"), CN) == [
        Period(date(2020, 9, 1), date(2020, 9, 30)),
        Period(date(2020, 10, 1), date(2020, 12, 31)),
    ]
    assert periods(task(every="yearly"), CN) == [Period(date(2020, 9, 1), date(2020, 12, 31))]


def test_daily_means_every_workday():
    result = periods(task(every="daily", start=date(2020, 9, 26), end=date(2020, 10, 11)), CN)
    assert [p.end for p in result] == [
        date(2020, 9, 27),
        date(2020, 9, 28),
        date(2020, 9, 29),
        date(2020, 9, 30),
        date(2020, 10, 9),
        date(2020, 10, 10),
    ]


def test_rrule_gives_deadlines_directly():
    result = periods(task(every="rrule:FREQ=MONTHLY;BYMONTHDAY=10"), CN)
    assert [p.end for p in result] == [date(2020, 9, 10), date(2020, 10, 10), date(2020, 11, 10), date(2020, 12, 10)]
    assert result[1].start == date(2020, 9, 11)


def test_one_off_runs_from_its_start_to_its_due():
    assert periods(task(due=date(2020, 9, 15), end=date(2020, 9, 15)), CN) == [
        Period(date(2020, 9, 1), date(2020, 9, 15))
    ]


def test_reminders_count_workdays_across_national_day():
    moments = reminder_moments(Period(date(2020, 9, 1), date(2020, 10, 12)), (3, 1, 0), CN, time(9), TZ)
    assert moments == (
        (3, datetime(2020, 9, 30, 9, tzinfo=TZ)),
        (1, datetime(2020, 10, 10, 9, tzinfo=TZ)),
        (0, datetime(2020, 10, 12, 9, tzinfo=TZ)),
    )


def test_reminder_for_a_deadline_on_a_holiday_falls_on_the_last_workday_before():
    moments = dict(reminder_moments(Period(date(2020, 9, 1), date(2020, 10, 4)), (1, 0), CN, time(9), TZ))
    assert moments[0] == datetime(2020, 9, 30, 9, tzinfo=TZ)
    assert moments[1] == datetime(2020, 9, 30, 9, tzinfo=TZ)


def test_reminders_across_spring_festival_2021():
    moments = dict(reminder_moments(Period(date(2021, 2, 1), date(2021, 2, 19)), (3, 1, 0), CN, time(9), TZ))
    assert moments == {
        3: datetime(2021, 2, 9, 9, tzinfo=TZ),
        1: datetime(2021, 2, 18, 9, tzinfo=TZ),
        0: datetime(2021, 2, 19, 9, tzinfo=TZ),
    }


def test_reminders_never_fall_before_the_period():
    moments = reminder_moments(Period(date(2020, 10, 9), date(2020, 10, 9)), (3, 1, 0), CN, time(9), TZ)
    assert moments == ((0, datetime(2020, 10, 9, 9, tzinfo=TZ)),)


def test_escalation_counts_workdays_after_the_deadline():
    assert escalation_moment(date(2020, 9, 30), 1, CN, time(9), TZ) == datetime(2020, 10, 9, 9, tzinfo=TZ)
    assert escalation_moment(date(2021, 2, 10), 3, CN, time(9), TZ) == datetime(2021, 2, 20, 9, tzinfo=TZ)


def test_group_and_role_fan_out(mini_catalog, mini_people):
    occurrences = list(expand(mini_catalog, mini_people))
    started = [o for o in occurrences if o.task.id == "projects-started"]
    assert sorted(o.owner.id for o in started) == ["qinglong", "shuangjiang"]
    visits = {o.owner.id for o in occurrences if o.task.id == "visits"}
    assert visits == {"sj-cadre-1", "ql-cadre-1"}
    assert next(o for o in occurrences if o.owner.id == "ql-cadre-1").owner.unit_id == "qinglong"
    assert not [o for o in expand(mini_catalog) if o.task.id == "visits"]


def test_occurrence_ids_are_task_owner_period(mini_catalog):
    ids = {o.id for o in expand(mini_catalog)}
    assert "leaders-study/leaders/2020-09-06" in ids
    assert "projects-started/qinglong/2020-09-01" in ids
    assert "poverty-day/office/2020-09-01" in ids


def test_deadline_is_end_of_day_in_plan_zone(mini_catalog):
    first = next(o for o in expand(mini_catalog) if o.task.id == "projects-started")
    assert first.due.isoformat() == "2020-09-15T23:59:59+08:00"
