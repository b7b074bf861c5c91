"""One module counts for every aggregate view: SQL over the store and a tally of loaded items agree, and add up."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest

from duban.counts import Counts, count, tally, total
from duban.sheets.data import load_snapshot
from tests.conftest import at

PLAN = "mini-2020"
MOMENTS = ["2020-09-16 12:00", "2020-10-09 09:00", "2020-10-29 09:00", "2020-11-02 08:30", "2020-12-31 23:00"]


@pytest.mark.parametrize("when", MOMENTS)
def test_sql_counts_agree_with_the_tally_of_the_sheets_items(mini_campaign, when):
    moment = at(when)
    snapshot = load_snapshot(mini_campaign, PLAN, moment)
    by_unit: dict[tuple[str, ...], list] = defaultdict(list)
    for item in snapshot.items:
        by_unit[(item.unit.id,)].append((item.status, item.verification == "已销号"))
    with mini_campaign.connect() as connection:
        counted = count(connection, plan_id=PLAN, as_of=moment, by=("unit_id",))
    assert set(counted) == set(by_unit)
    for key, items in by_unit.items():
        expected, got = tally(items), counted[key]
        fields = ("upcoming", "due_soon", "overdue", "missed", "done", "done_late", "waived", "verified")
        assert [getattr(got, f) for f in fields] == [getattr(expected, f) for f in fields], key


def test_columns_add_up(mini_campaign):
    with mini_campaign.connect() as connection:
        counted = count(connection, plan_id=PLAN, as_of=at("2020-10-29 09:00"), by=("unit_id",))
    whole = total(counted.values())
    for c in [*counted.values(), whole]:
        assert c.due == c.on_time + c.late + c.overdue + c.missed
        assert c.reported == c.verified + c.waiting and c.open == c.overdue + c.missed
        assert c.total == c.due + c.upcoming + c.due_soon + c.waived
    assert (whole.due, whole.on_time, whole.late, whole.overdue, whole.missed, whole.verified) == (17, 10, 3, 2, 2, 2)
    assert whole.rate_text == "59%"


def test_owners_and_the_oldest_overdue_per_task_and_unit(mini_campaign):
    moment = at("2020-10-29 09:00")
    with mini_campaign.connect() as connection:
        counted = count(connection, plan_id=PLAN, as_of=moment, by=("task_id", "unit_id"))
        september = count(connection, plan_id=PLAN, as_of=moment, by=("task_id",), due_from=at("2020-09-01 00:00"),
                          due_before=at("2020-10-01 00:00"), tasks=["visits"])
    visits = counted[("visits", "qinglong")]  # 冯干部: September overdue, October due soon
    assert (visits.owners, visits.overdue_owners, visits.due_soon_owners) == (1, 1, 1)
    assert visits.oldest_overdue == at("2020-09-30 23:59:59")
    teaching = counted[("teaching", "qinglong")]  # the first week missed, the second waived
    assert (teaching.missed, teaching.missed_owners, teaching.waived, teaching.overdue) == (1, 1, 1, 0)
    assert september == {("visits",): september[("visits",)]} and september[("visits",)].total == 2


def test_a_bad_grouping_is_refused(mini_campaign):
    with mini_campaign.connect() as connection, pytest.raises(ValueError, match="cannot group by state"):
        count(connection, plan_id=PLAN, as_of=at("2020-10-29 09:00"), by=("state",))


def test_rates_as_printed():
    assert Counts(done=2, overdue=1).rate_text == "67%" and Counts().rate_text == "—"
    assert Counts(done=1, done_late=1, missed=2).rate_percent == 25
    late = at("2020-10-29 09:00")
    merged = total([Counts(overdue=1, oldest_overdue=late), Counts(overdue=1, oldest_overdue=late - timedelta(1))])
    assert merged.overdue == 2 and merged.oldest_overdue == late - timedelta(1)
