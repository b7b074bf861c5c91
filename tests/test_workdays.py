"""The workday calendar against the real 2020 and 2021 official calendars."""

from datetime import date

import pytest

from duban.workdays import CalendarCoverageError, WorkdayCalendar

CN = WorkdayCalendar("cn")


@pytest.mark.parametrize("day", [date(2020, 10, d) for d in range(1, 9)])
def test_national_day_2020_is_off(day):
    assert not CN.is_workday(day)


@pytest.mark.parametrize("day", [date(2020, 9, 27), date(2020, 10, 10), date(2021, 2, 7), date(2021, 2, 20)])
def test_make_up_weekend_workdays(day):
    assert day.weekday() >= 5
    assert CN.is_workday(day)


@pytest.mark.parametrize("day", [date(2021, 2, d) for d in range(11, 18)])
def test_spring_festival_2021_is_off(day):
    assert not CN.is_workday(day)


def test_workday_before_skips_the_holiday():
    assert CN.workday_before(date(2020, 10, 12), 1) == date(2020, 10, 10)
    assert CN.workday_before(date(2020, 10, 12), 3) == date(2020, 9, 30)
    assert CN.workday_before(date(2021, 2, 18), 1) == date(2021, 2, 10)


def test_stage_zero_is_the_day_or_the_last_workday_before():
    assert CN.workday_before(date(2020, 10, 9), 0) == date(2020, 10, 9)
    assert CN.workday_before(date(2020, 10, 4), 0) == date(2020, 9, 30)
    assert CN.workday_before(date(2020, 10, 4), 1) == date(2020, 9, 30)
    assert CN.workday_before(date(2020, 10, 4), 2) == date(2020, 9, 29)


def test_workday_after_skips_the_holiday():
    assert CN.workday_after(date(2020, 9, 30), 1) == date(2020, 10, 9)
    assert CN.workday_after(date(2020, 9, 30), 2) == date(2020, 10, 10)
    assert CN.workday_after(date(2021, 2, 10), 1) == date(2021, 2, 18)
    assert CN.workday_after(date(2020, 12, 31), 1) == date(2021, 1, 4)


def test_workdays_between_counts_only_workdays():
    assert CN.workdays_between(date(2020, 9, 30), date(2020, 10, 10)) == 2
    assert CN.workdays_between(date(2020, 10, 10), date(2020, 9, 30)) == -2
    assert len(CN.workdays_in(date(2020, 9, 26), date(2020, 10, 11))) == 6


def test_mon_fri_and_all_ignore_the_official_calendar():
    assert WorkdayCalendar("mon-fri").is_workday(date(2020, 10, 1))
    assert not WorkdayCalendar("mon-fri").is_workday(date(2020, 10, 10))
    assert WorkdayCalendar("all").is_workday(date(2020, 10, 4))


def test_plan_holidays_and_extra_workdays_override():
    calendar = WorkdayCalendar("cn", holidays=[date(2020, 9, 28)], extra_workdays=[date(2020, 10, 3)])
    assert not calendar.is_workday(date(2020, 9, 28))
    assert calendar.is_workday(date(2020, 10, 3))


def test_years_beyond_the_official_calendar_are_refused_with_the_fix():
    with pytest.raises(CalendarCoverageError) as error:
        WorkdayCalendar("cn").require(date(2026, 9, 1), date(2027, 3, 1))
    message = str(error.value)
    assert "2027" in message and "plan.holidays" in message and "mon-fri" in message


def test_plan_lists_stand_for_an_unknown_year():
    calendar = WorkdayCalendar("cn", holidays=[date(2027, 1, 1)], extra_workdays=[date(2027, 1, 9)])
    calendar.require(date(2026, 9, 1), date(2027, 3, 1))
    assert not calendar.is_workday(date(2027, 1, 1))
    assert calendar.is_workday(date(2027, 1, 9))
    assert calendar.is_workday(date(2027, 1, 4))


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError):
        WorkdayCalendar("lunar")
