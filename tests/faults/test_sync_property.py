"""Random campaigns of syncs, reports, undos and verifications never lose a report or an event (issue 14, 1).

Hypothesis drives sequences of: syncs with and without the directory, with tasks dropped and re-added, a
deadline edited, people dropped and re-added, forced or not; reports, undos and verifications through
`duban.actions`. After every step: no event is gone or changed, every item keeps the state and report count
its actions gave it, a sync was refused exactly when it would archive past the limits (and then changed
nothing), and after a sync the live rows are exactly what the catalog and directory call for, so whatever
comes back comes back with its reports. Each example starts from an emptied store (SQLite, then PostgreSQL).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

from conftest import DATA, at
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import SQLModel

from duban import actions
from duban.catalog import Catalog, parse_catalog
from duban.directory import load_people
from duban.models import EventRow, OccurrenceRow, PersonRow
from duban.store import make_engine, migrate
from duban.sync import PENDING, ArchiveLimits, SyncRefused, desired_occurrences, sync

# Weekdays for workdays: the official calendar is beside the point here and costs most of the time.
MINI = (DATA / "mini.yaml").read_text(encoding="utf-8").replace("workdays: cn", "workdays: mon-fri")
HEAD, *BLOCKS = MINI.split("\n  - id: ")
TASKS = [block.split("\n", 1)[0] for block in BLOCKS]
DROPPABLE_PEOPLE = ["sj-cadre-1", "ql-cadre-1", "sj-head", "ql-in-charge", "leaders-head"]  # the office stays
NOW = at("2020-10-29 09:00")
LIMITS = ArchiveLimits()
PLAN = "mini-2020"
EXAMPLES = 20  # a few seconds on SQLite (a quarter of them on PostgreSQL)
STATES = {"report": lambda state, count: state in PENDING,
          "undo": lambda state, count: count > 0 and state in ("open", "acked", "reported"),
          "verify": lambda state, count: state == "reported"}

Sync = st.tuples(st.just("sync"), st.frozensets(st.sampled_from(TASKS), max_size=3), st.booleans(),
                 st.none() | st.frozensets(st.sampled_from(DROPPABLE_PEOPLE), max_size=3), st.booleans())
Act = st.tuples(st.sampled_from(["report", "report", "undo", "verify"]), st.integers(0, 1000))
Steps = st.lists(st.one_of(Sync, Act), min_size=1, max_size=14)


@functools.cache
def _parsed(edited: bool) -> Catalog:
    return parse_catalog(MINI.replace("due: 2020-09-15", "due: 2020-09-18") if edited else MINI)


def variant(dropped: frozenset[str], edited: bool) -> tuple[str, Catalog]:
    """The small plan without the dropped tasks, with one deadline moved when `edited`: text and catalog.
    (The catalog is the parsed whole one less those tasks: parsing every variant would take most of the time.)"""
    kept = [block for task, block in zip(TASKS, BLOCKS, strict=True) if task not in dropped]
    text = "\n  - id: ".join([HEAD, *kept]) + "\n"
    text = text.replace("due: 2020-09-15", "due: 2020-09-18") if edited else text
    whole = _parsed(edited)
    return text, dataclasses.replace(whole, tasks=tuple(t for t in whole.tasks if t.id not in dropped))


def empty(engine) -> None:
    """Delete every row, so that the next example starts from nothing (cheaper than a new store)."""
    with engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())


@dataclass
class Campaign:
    """One example: the store, and what the store must show."""

    engine: object
    plan_id: str
    everyone: list
    directory: list = field(default_factory=list)  # who the store's directory should hold
    states: dict[str, tuple[str, int]] = field(default_factory=dict)  # what actions made of each item
    events: list[tuple] = field(default_factory=list)  # every action's event, as first seen

    def rows(self) -> dict[str, tuple]:
        occ = OccurrenceRow.__table__
        with self.engine.connect() as connection:
            query = select(occ.c.id, occ.c.state, occ.c.report_count, occ.c.archived).where(
                occ.c.plan_id == self.plan_id)
            return {r.id: (r.state, r.report_count, r.archived) for r in connection.execute(query)}

    def live_people(self) -> set[str]:
        person = PersonRow.__table__
        with self.engine.connect() as connection:
            return set(connection.execute(select(person.c.id).where(
                person.c.plan_id == self.plan_id, person.c.archived.is_(False))).scalars())

    def stored_events(self) -> list[tuple]:
        event = EventRow.__table__
        with self.engine.connect() as connection:
            return [tuple(r) for r in connection.execute(select(
                event.c.id, event.c.occurrence_id, event.c.kind, event.c.actor, event.c.before, event.c.after)
                .where(event.c.plan_id == self.plan_id, event.c.kind != "sync").order_by(event.c.id))]

    def sync(self, dropped: frozenset[str], edited: bool, without: frozenset[str] | None, allow: bool) -> None:
        text, catalog = variant(dropped, edited)
        people = None if without is None else [p for p in self.everyone if p.id not in without]
        wanted = self.directory if people is None else people
        desired = set(desired_occurrences(catalog, wanted))
        before = self.rows()
        live = {i for i, row in before.items() if not row[2]}
        carry = {i for i in live if before[i][0] not in PENDING or before[i][1] > 0}
        people_live = self.live_people()
        gone_people = len(people_live - {p.id for p in wanted})
        gone_reported = len(carry - desired)
        expect_refusal = not allow and (gone_people * 100 > LIMITS.people_pct * len(people_live)
                                        or gone_reported * 100 > LIMITS.reported_pct * len(carry))
        try:
            report = sync(engine=self.engine, catalog=catalog, catalog_text=text, people=people, now=NOW,
                          limits=ArchiveLimits(allow=allow))
        except SyncRefused:
            assert expect_refusal, "refused a sync within the limits"
            assert self.rows() == before and self.live_people() == people_live
            return
        assert not expect_refusal, f"archived {gone_people} people, {gone_reported} reported items past the limits"
        self.directory = list(wanted)
        after = self.rows()
        assert {i for i, row in after.items() if not row[2]} == desired  # what comes back, comes back
        assert self.live_people() == {p.id for p in wanted}
        changes = report.kinds.get("occurrences")
        if changes is not None:  # counts reconcile: live after = live before + created + restored - archived
            assert len(desired) == len(live) + changes.created + changes.restored - changes.archived
            assert changes.archived == len(live - desired)

    def act(self, kind: str, pick: int) -> None:
        rows = self.rows()
        people = {p.id: p for p in self.directory}
        eligible = sorted(i for i, (state, count, archived) in rows.items()
                          if not archived and STATES[kind](state, count))
        if not eligible:
            return
        start = pick % len(eligible)
        with self.engine.begin() as connection:
            for occurrence_id in eligible[start:] + eligible[:start]:
                item = actions.load_item(connection, plan_id=self.plan_id, occurrence_id=occurrence_id)
                who = self._actor_for(kind, item, people)
                if who is not None and actions.refusal(actor := self._actor(connection, who), item, kind) is None:
                    break
            else:
                return
            extra = {"value": 100} if kind == "report" else {}
            outcome = actions.ACTIONS[kind](connection=connection, actor=actor, occurrence_id=occurrence_id, now=NOW,
                                            source="cli", **extra)
        state, count = outcome.after, self.rows()[occurrence_id][1]
        previous = self.states.get(occurrence_id, ("open", 0))[1]
        assert count == previous + {"report": 1, "undo": -1, "verify": 0}[kind]
        self.states[occurrence_id] = (state, count)

    def _actor(self, connection, who: str) -> actions.Actor:
        return actions.find_actor(connection, plan_id=self.plan_id, who=who)

    @staticmethod
    def _actor_for(kind: str, item: actions.Item, people: dict) -> str | None:
        """Who would take this action: the owner (or the reporter, to undo), a second office member to verify."""
        if kind == "undo":
            return item.reporter if item.reporter in people else None
        if kind == "verify":
            return "office-liaison" if item.reporter == "office-head" else "office-head"
        if item.owner_kind == "person":
            return item.owner_id if item.owner_id in people else None
        return next((p.id for p in sorted(people.values(), key=lambda p: p.id) if p.unit == item.unit_id), None)

    def check(self) -> None:
        rows = self.rows()
        for occurrence_id, (state, count, _) in rows.items():
            assert (state, count) == self.states.get(occurrence_id, ("open", 0)), occurrence_id
        assert set(self.states) <= set(rows)  # never deleted
        events = self.stored_events()
        assert events[: len(self.events)] == self.events  # nothing lost or rewritten
        self.events = events


def run_campaign(engine, everyone, steps) -> None:
    empty(engine)
    campaign = Campaign(engine, PLAN, everyone)
    campaign.sync(frozenset(), False, frozenset(), True)
    for step in steps:
        if step[0] == "sync":
            campaign.sync(*step[1:])
        else:
            campaign.act(*step)
        campaign.check()
    reports = sum(e[2] == "report" for e in campaign.events) - sum(e[2] == "undo" for e in campaign.events)
    assert reports == sum(count for _, count in campaign.states.values())


def test_random_campaigns_lose_nothing(store_url):
    engine = make_engine(store_url)
    migrate(engine)
    everyone = load_people(DATA / "mini_contacts.csv", parse_catalog(MINI))

    examples = EXAMPLES if store_url.startswith("sqlite") else EXAMPLES // 4

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(Steps)
    def campaign(steps) -> None:
        run_campaign(engine, everyone, steps)

    try:
        campaign()
    finally:
        engine.dispose()
