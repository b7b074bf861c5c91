"""The shipped plan, read as the office would before trusting it (issue 16): nobody escalates to
their own unit, no target is out of reach at the task's own pace, one report per owner per month
where the text asks for one thing, and no deadline is past the moment the plan was issued."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from duban.catalog import Catalog, Task, load_catalog
from duban.directory import load_people
from duban.schedule import PlannedOccurrence, calendar_for, expand, periods

ROOT = Path(__file__).resolve().parent.parent
ISSUED = date(2020, 9, 4)  # the plan's own date (its first line): the earliest it can be loaded


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(ROOT / "tasks_catalog.yaml")


@pytest.fixture(scope="module")
def planned(catalog) -> list[PlannedOccurrence]:
    return list(expand(catalog, load_people(ROOT / "examples" / "contacts.csv", catalog)))


def test_no_unit_escalates_to_itself(catalog, planned):
    selves = Counter()
    for occ in planned:
        for level in occ.task.policy.escalate:
            if f"unit:{occ.owner.unit_id}" in level.to:
                selves[(occ.task.id, occ.owner.unit_id)] += 1
    assert not selves, "escalates to its own unit: " + ", ".join(f"{t} ({u})" for t, u in sorted(selves))


def _pace(task: Task, catalog: Catalog) -> list[Task]:
    """Tasks of the same clause and owner whose per-period target, in the same unit, sets this task's pace."""
    if task.target is None:
        return []
    return [other for other in catalog.tasks
            if other is not task and other.ref == task.ref and other.owner == task.owner and other.every
            and other.target is not None and other.target.unit == task.target.unit
            and other.target.op in (">=", ">")]


def reachable(task: Task, catalog: Catalog) -> tuple[float, float] | None:
    """(most reachable at the pace over the task's first period, the target) when the target is out of reach."""
    calendar = calendar_for(catalog)
    first = periods(task, calendar)[0]
    for pace in _pace(task, catalog):
        inside = [p for p in periods(pace, calendar) if first.start <= p.end <= first.end]
        if not inside:  # a longer rhythm than the task's own: it sets no pace for it
            continue
        most = pace.target.value * pace.times * len(inside)
        if task.target.op in (">=", ">") and most < task.target.value:
            return most, task.target.value
    return None


def test_no_target_out_of_reach_at_the_tasks_own_pace(catalog):
    out = {task.id: reachable(task, catalog) for task in catalog.tasks if task.expands and task.target}
    assert not {k: v for k, v in out.items() if v}, f"targets out of reach (reachable, target): {out}"


def test_pace_rule_sees_an_unreachable_target(catalog):
    """The rule itself: 80 学时 a month at 2 学时 a week is out of reach (the catalog as it was)."""
    weekly = next(t for t in catalog.tasks if t.id == "home-teaching-weekly")
    hours = next(t for t in catalog.tasks if t.id == "home-teaching-hours")
    bad = Task(**{**hours.__dict__, "target": type(weekly.target)("本学年累计送教学时", ">=", 80.0, "学时")})
    assert reachable(bad, catalog) == (6.0, 80.0)  # the weeks ending 9-13, 9-20 and 9-27, 2 学时 each


def test_one_report_per_owner_per_month_per_clause_sentence(catalog, planned):
    """No owner gets two monthly items of one quote, nor a monthly item doubling another of the same people."""
    monthly = Counter((o.task.quote, o.owner.id, o.period.start) for o in planned if o.task.every == "monthly")
    assert not [k for k, n in monthly.items() if n > 1]
    carried = {t.id: t.reported_with for t in catalog.tasks if t.reported_with}
    assert carried == {
        "four-no-removals": "leading-group-meeting", "rectification-system": "ten-actions-dispatch",
        "leading-group-lead": "ten-actions-dispatch", "unit-leaders-duty": "unit-campaign-progress",
        "check-and-fix": "unit-campaign-progress", "door-to-door-cadre": "pairing-monthly-contact"}
    assert not [o for o in planned if o.task.id in carried]


def test_rectification_owners_come_from_the_problem_lists(catalog, planned):
    listed = {t.id for t in catalog.tasks if t.owners_from == "problems"}
    assert listed == {"inspection-rectification", "other-rectification", "institution-building"}
    assert not [o for o in planned if o.task.id in listed]


def test_no_deadline_already_past_when_the_plan_was_issued(catalog, planned):
    """A deadline before the first workday after the plan's issue is met before any load: done_at_load says so."""
    first_workday = calendar_for(catalog).workday_after(ISSUED, 1)  # 9-07 (9-05 and 9-06 are a weekend)
    early = {t.id: t for t in catalog.tasks if t.due and t.due < first_workday}
    assert set(early) == {"mobilize-plan", "mobilize-meeting"}
    assert all(task.done_at_load and task.done_at_load.by == task.owner for task in early.values())
    assert not [o.id for o in planned if o.due.date() < first_workday and o.task.id not in early]


def test_figures_known_after_the_year_have_a_grace(catalog, planned):
    graced = {o.task.id: o.due.date() for o in planned if o.task.report_grace}
    assert graced == {"product-sales-rank": date(2021, 1, 22), "county-funding-level": date(2021, 1, 22)}
    first_reminders = {o.task.id: o.reminders[0][1].date() for o in planned if o.task.report_grace}
    assert all(day > date(2020, 12, 31) for day in first_reminders.values())


def test_no_period_without_an_owner(catalog, planned):
    """Every task with items of its own gives them to someone (a role nobody holds would drop a duty)."""
    owned = {o.task.id for o in planned}
    assert {t.id for t in catalog.tasks if t.expands} <= owned
