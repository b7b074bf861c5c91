"""Reminders and escalations from the store into the outbox: decide who must hear what at `as_of`,
merge each person's items into one message per channel, render it, and write it with its deliveries.

A delivery row (occurrence, stage, person, channel) is claimed with an insert that ignores duplicates,
so two runs at once, or a run repeated for the same moment, never put the same stage to anyone twice.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple, ParamSpec, TypeVar
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, Template
from sqlalchemy import Connection, Engine, and_, func, or_, select, update

from duban import shortlinks
from duban.bulk import insert_new, reserve_ids
from duban.catalog import Policy, parse_catalog
from duban.config import Settings
from duban.counts import Counts
from duban.directory import person_from_row
from duban.links import item_path
from duban.manyof import many_of
from duban.models import DeliveryRow, NotificationRow, OccurrenceRow, PersonRow, PlanRow, TaskRow, UnitRow
from duban.outbox import enqueue_ids
from duban.policy import (
    KINDS,
    OWNER_ROLES,
    PENDING,
    Directory,
    EscalationClock,
    Pending,
    Stage,
    person_channels,
    policy_from_json,
    recipients,
    reminders_from_json,
    robot_channels,
)
from duban.policy import (
    decide as decide_stages,
)
from duban.rollup import (
    GROUP_INTERVAL,
    Line,
    attach_counts,
    counts_by_task,
    due_to_tell,
    gather,
    missed_by_owner,
    order,
    told,
    worst,
)
from duban.store import utc
from duban.workdays import WorkdayCalendar

ROBOT = "robot"
BATCH = 500
ROBOT_ITEMS_SHOWN = 30
# A message fits a phone screen or two whatever the plan's size: at most this many of one's own items of each
# kind, and this many roll-up lines, are listed; the counts and the links carry the rest.
ITEMS_SHOWN = 4  # own items in all: the overdue first, then those due soon (at least REMINDERS_SHOWN of them)
REMINDERS_SHOWN = 1
LINES_SHOWN = 4


@dataclass(frozen=True)
class TaskInfo:
    """What messages say about a task, and its policy."""

    id: str
    ref: str
    title: str
    policy: Policy
    co_owner_units: tuple[str, ...]
    position: int = 0


@dataclass
class PlanContext:
    """Everything a run needs about one plan, loaded once."""

    plan_id: str
    title: str
    office: str
    tz: ZoneInfo
    calendar: WorkdayCalendar
    clock: EscalationClock
    tasks: dict[str, TaskInfo]
    units: dict[str, str]
    directory: Directory
    settings: Settings
    secret: str
    env: Environment
    quiet: tuple[time, time] | None
    roles: dict[str, str] = field(default_factory=dict)
    office_id: str = ""
    templates: dict[str, Template] = field(default_factory=dict)
    compiling: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def template(self, name: str) -> Template:
        """A compiled template, looked up once per run (Jinja's own lookup checks the file's age every time), and
        compiled once: the batches written at once (runbodies.write_batches) all ask for it as the run starts, and
        each compiled it again (Jinja's cache takes no lock), 5% of a city's one-worker run."""
        found = self.templates.get(name)
        if found is None:
            with self.compiling:
                found = self.templates.get(name)
                if found is None:
                    found = self.env.get_template(name)
                    # Jinja copies a template's globals (a ChainMap over the environment's) on every render; a plain
                    # dict copies at C speed. Nothing adds globals during a run.
                    found.globals = dict(found.globals)
                    self.templates[name] = found
        return found


class Item(NamedTuple):
    """One occurrence's stage, for one person (a tuple: a city's run makes millions, a third the cost of a frozen
    dataclass)."""

    occurrence_id: str
    task_id: str
    owner_id: str
    owner_kind: str
    unit_id: str
    due: datetime
    state: str
    stage: Stage
    why: str


@dataclass
class Message:
    """What one person (or a group robot) hears on one channel in one run: their own items, itemised, and
    the roll-up lines of others' items they supervise; `missed` counts their own items past their period."""

    person_id: str
    channel: str
    items: list[Item]
    lines: list[Line] = field(default_factory=list)
    missed: int = 0


class Chunk:
    """A batch of messages handed to a task run as one opaque value (Prefect does not walk into it)."""

    __slots__ = ("messages",)

    def __init__(self, messages: list[Message]) -> None:
        self.messages = messages

    def __len__(self) -> int:
        return len(self.messages)


@dataclass
class WriteReport:
    """What a run put in the outbox."""

    notifications: Counter = field(default_factory=Counter)  # by channel
    items: Counter = field(default_factory=Counter)  # by (stage kind, stage name)
    person_ids: set[str] = field(default_factory=set)  # who is told (one person may get an email and an SMS)
    held: int = 0  # SMS held for quiet hours or the daily cap
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: WriteReport) -> None:
        """Fold another report in."""
        self.notifications.update(other.notifications)
        self.items.update(other.items)
        self.person_ids |= other.person_ids
        self.held += other.held
        self.rows += other.rows

    @property
    def people(self) -> int:
        """How many people are told (not how many messages)."""
        return len(self.person_ids)

    def summary(self) -> str:
        """One line for people, people and messages apart: `206 notification(s) to 103 recipient(s)（103人，206条）`."""
        stages = ", ".join(f"{name} {n}" for (_, name), n in sorted(self.items.items())) or "none"
        channels = ", ".join(f"{c} {n}" for c, n in sorted(self.notifications.items())) or "none"
        held = f", {self.held} SMS held" if self.held else ""
        messages = sum(self.notifications.values())
        apart = f"（{self.people}人，{messages}条）" if messages else ""
        return f"{messages} notification(s) to {self.people} recipient(s){apart}: {channels}; stages: {stages}{held}"


_P = ParamSpec("_P")
_R = TypeVar("_R")


class _Pauses:
    """How many calls have the cycle collector paused, across threads: it comes back on when the last one ends (two
    batches written at once overlap; the first to finish turned it back on under the other, and ~5% of a run's CPU
    went to collections again), if it was on when the first began."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.restore = False

    def begin(self) -> None:
        with self.lock:
            if self.count == 0:
                self.restore = gc.isenabled()
                gc.disable()
            self.count += 1

    def end(self) -> None:
        with self.lock:
            self.count -= 1
            if self.count == 0 and self.restore:
                gc.enable()


_PAUSES = _Pauses()


def _collector_paused(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Python's cycle collector off while `function` makes its many small objects: it would walk the whole heap
    (the plan's context, every pending item and message) again and again, about 30% of a run's CPU. Whatever
    cycles are left behind are collected at the next collection after."""
    @functools.wraps(function)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        _PAUSES.begin()
        try:
            return function(*args, **kwargs)
        finally:
            _PAUSES.end()
    return paused


def parse_quiet_hours(text: str) -> tuple[time, time] | None:
    """'21:00-08:00' -> (21:00, 08:00); '' or 'off' -> None; a ValueError names the setting."""
    text = (text or "").strip()
    if text in ("", "off", "none"):
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"quiet_hours (DUBAN_QUIET_HOURS): cannot read '{text}' (write 21:00-08:00, or off)") from None
    return start, end


def _in_quiet(local: time, quiet: tuple[time, time]) -> bool:
    start, end = quiet
    return (start <= local or local < end) if start > end else (start <= local < end)


def sms_not_before(as_of: datetime, quiet: tuple[time, time] | None, tz: ZoneInfo) -> datetime:
    """When an SMS made at `as_of` may go: at once, or when the quiet hours end."""
    local = as_of.astimezone(tz)
    if quiet is None or not _in_quiet(local.time(), quiet):
        return as_of
    day = local.date() if local.time() < quiet[1] else local.date() + timedelta(days=1)
    return datetime.combine(day, quiet[1], tzinfo=tz)


@_collector_paused
def load_context(*, engine: Engine, plan_id: str, settings: Settings, secret: str,
                 env: Environment | None = None) -> PlanContext:
    """Load a plan's tasks, units, people and calendar from the store."""
    from duban.schedule import calendar_for
    from duban.templating import environment

    with engine.connect() as connection:
        plan = connection.execute(select(PlanRow).where(PlanRow.id == plan_id)).one()
        task_rows = connection.execute(select(TaskRow.id, TaskRow.ref, TaskRow.title, TaskRow.policy,
                                              TaskRow.co_owners, TaskRow.position)
                                       .where(TaskRow.plan_id == plan_id)).all()
        units = {r.id: r.short or r.name for r in connection.execute(
            select(UnitRow.id, UnitRow.short, UnitRow.name).where(UnitRow.plan_id == plan_id))}
        people = connection.execute(select(PersonRow.id, PersonRow.name, PersonRow.unit_id, PersonRow.roles,
                                           PersonRow.email, PersonRow.mobile).where(
            PersonRow.plan_id == plan_id, PersonRow.archived.is_(False))).all()
    catalog = parse_catalog(plan.catalog_text, f"store:{plan_id}")
    calendar = calendar_for(catalog)
    tz = catalog.plan.tz
    policies: dict[str, Policy] = {}
    tasks = {}
    for row in task_rows:
        policy = policies.setdefault(row.policy, policy_from_json(row.policy))
        co_units = [unit for expr in filter(None, row.co_owners.split(";"))
                    for unit in (catalog.owner_units(expr) if not expr.startswith("group:")
                                 or expr[6:] in catalog.groups else [])]
        tasks[row.id] = TaskInfo(row.id, row.ref, row.title, policy, tuple(dict.fromkeys(co_units)), row.position)
    directory = Directory.of(person_from_row(p) for p in people)
    office = units.get(catalog.plan.office or "", "")
    return PlanContext(
        plan_id=plan_id, title=plan.title, office=office, tz=tz, calendar=calendar,
        clock=EscalationClock(calendar, catalog.plan.remind_at, tz), tasks=tasks, units=units, directory=directory,
        settings=settings, secret=secret, env=env or environment(settings.templates_dir or None, reload=False),
        quiet=parse_quiet_hours(settings.quiet_hours), roles=dict(catalog.roles), office_id=catalog.plan.office or "",
    )


def _pending(connection: Connection, plan_id: str, as_of: datetime, kinds: Sequence[str],
             units: frozenset[str] | None = None) -> list[Pending]:
    occ = OccurrenceRow.__table__
    moment = utc(as_of)
    windows = []
    if "remind" in kinds:
        windows.append(and_(occ.c.first_reminder_at <= moment, occ.c.due >= moment))
    if "escalate" in kinds:  # past its deadline and not yet superseded (missed items are not heard of alone)
        windows.append(and_(occ.c.due < moment, or_(occ.c.superseded_at.is_(None), occ.c.superseded_at >= moment)))
    if not windows:
        return []
    query = select(occ.c.id, occ.c.task_id, occ.c.owner_id, occ.c.owner_kind, occ.c.unit_id, occ.c.due,
                   occ.c.state, occ.c.reminders, occ.c.superseded_at, occ.c.original_due).where(
        occ.c.plan_id == plan_id, occ.c.archived.is_(False), occ.c.state.in_(PENDING), or_(*windows))
    if units is not None:
        query = query.where(occ.c.unit_id.in_(sorted(units)))
    parsed: dict[str, tuple] = {}
    result = []
    for occurrence_id, task_id, owner_id, owner_kind, unit_id, due, state, reminders, superseded_at, original_due \
            in connection.execute(query):  # unpacked: a row's attributes cost a lookup each
        if reminders not in parsed:
            parsed[reminders] = reminders_from_json(reminders)
        result.append(Pending(occurrence_id, task_id, owner_id, owner_kind, unit_id, due, state, parsed[reminders],
                              superseded_at, original_due is not None))
    return result


def _delivered(connection: Connection, plan_id: str, stages: list[tuple[Pending, Stage]]) -> set[tuple]:
    """Which (occurrence, stage, person, channel) were already put: for each stage name, its occurrences only."""
    table = DeliveryRow.__table__
    by_stage: dict[str, list[str]] = defaultdict(list)
    for occ, stage in stages:
        by_stage[stage.name].append(occ.id)
    found: set[tuple] = set()
    for name, ids in by_stage.items():
        for among in many_of(connection, table.c.occurrence_id, ids):
            query = select(table.c.occurrence_id, table.c.stage, table.c.person_id, table.c.channel).where(
                table.c.plan_id == plan_id, among, table.c.stage == name)
            found.update(tuple(r) for r in connection.execute(query))
    return found


@_collector_paused
def decide(*, engine: Engine, ctx: PlanContext, as_of: datetime, kinds: Sequence[str] = KINDS,
           units: frozenset[str] | None = None, holds: Callable[[str], bool] | None = None) -> list[Message]:
    """Each person's (and group robot's) message for `as_of`: their own items not yet put to them, itemised, and
    their roll-up lines when one is due to be told (only for items owned by `units`, when given; only for the
    recipients a shard `holds`, when given: each worker of N then gathers and counts a share, not everything)."""
    with engine.connect() as connection, ThreadPoolExecutor(max_workers=1) as ahead:
        # PostgreSQL counts the whole plan on another connection (its own core) while Python sorts the items out; a
        # shard, one of several workers sharing the cores, counts after, only what its lines need
        alone = engine.dialect.name == "postgresql" and holds is None
        counting = ahead.submit(_counted, engine, ctx.plan_id, as_of) if alone else None
        pending = _pending(connection, ctx.plan_id, as_of, kinds, units)
        policies = {task_id: info.policy for task_id, info in ctx.tasks.items()}
        stages = [(occ, stage) for occ, stage in decide_stages(pending, policies, ctx.clock, as_of, kinds)
                  if occ.task_id in ctx.tasks]
        delivered = _delivered(connection, ctx.plan_id, stages) if stages else set()
        own, others = _sort_out(ctx, stages, delivered, holds)
        lines = gather(others)
        lines = _to_tell(ctx, lines, told(connection, ctx.plan_id, lines, as_of) if lines else {}, as_of)
        told_lines = [line for found in lines.values() for line in found]
        if counting is not None:
            by_task, missed = counting.result()
        else:  # only what this run needs, on the run's connection
            by_task, missed = _counted(connection, ctx.plan_id, as_of, sorted({line.task_id for line in told_lines}),
                                       missed=bool(own))
        attach_counts(told_lines, by_task)
    positions = {task_id: info.position for task_id, info in ctx.tasks.items()}
    return [Message(person_id, channel, sorted(own.get((person_id, channel), []), key=_item_order),
                    order(lines.get((person_id, channel), []), positions),
                    _missed_for(ctx, person_id, missed) if (person_id, channel) in own else 0)
            for person_id, channel in sorted(set(own) | set(lines))]


def _counted(store: Engine | Connection, plan_id: str, as_of: datetime, tasks: Sequence[str] | None = None,
             missed: bool = True) -> tuple[dict[str, list[tuple[str, Counts]]], dict[tuple[str, str], int]]:
    """The counts roll-up lines show, per task and unit (of `tasks`, or every task), and how many occurrences each
    owner (kind, id) has missed at `as_of` (when `missed`)."""
    if isinstance(store, Engine):
        with store.connect() as connection:
            return _counted(connection, plan_id, as_of, tasks, missed)
    return (counts_by_task(store, plan_id, as_of, tasks),
            missed_by_owner(store, plan_id, as_of) if missed else {})


def _sort_out(ctx: PlanContext, stages: list[tuple[Pending, Stage]], delivered: set[tuple],
              holds: Callable[[str], bool] | None = None,
              ) -> tuple[dict[tuple[str, str], list[Item]], list[tuple[str, str, str, Item]]]:
    """Owners' items not yet put to them (and group robots'), by (person, channel); everyone else's, for roll-ups."""
    own: dict[tuple[str, str], list[Item]] = defaultdict(list)
    others: list[tuple[str, str, str, Item]] = []
    robot_seen: set[tuple[str, str]] = set()
    # Who hears of a stage, and on which channels, depends on its owner and the stage's kind and targets only:
    # worked out once per combination (a county's 27,000 stages have a few thousand), a shard's people only.
    heard: dict[tuple, tuple[list[tuple[str, str, str, str]], tuple[str, ...]]] = {}
    for occ, stage in stages:
        task = ctx.tasks[occ.task_id]
        channels = task.policy.channels
        key = (occ.owner_kind, occ.owner_id, occ.unit_id, stage.kind, stage.to, task.co_owner_units, channels)
        found = heard.get(key)
        if found is None:
            found = heard[key] = _hearing(ctx, occ, stage, task, holds)
        listeners, robots = found
        items: dict[str, Item] = {}
        for person_id, channel, unit, why in listeners:
            item = items.get(why)
            if item is None:
                item = items[why] = _item(occ, stage, why)
            if why != "owner":
                others.append((person_id, channel, unit, item))
            elif (occ.id, stage.name, person_id, channel) not in delivered:
                own[(person_id, channel)].append(item)
        for channel in robots:
            if (occ.id, stage.name, ROBOT, channel) not in delivered and (occ.id, channel) not in robot_seen:
                robot_seen.add((occ.id, channel))
                own[(ROBOT, channel)].append(_item(occ, stage, "group"))
    return own, others


def _hearing(ctx: PlanContext, occ: Pending, stage: Stage, task: TaskInfo, holds: Callable[[str], bool] | None,
             ) -> tuple[list[tuple[str, str, str, str]], tuple[str, ...]]:
    """Who hears of a stage (person, channel, their unit, why), and its group robots' channels (a shard's only)."""
    channels = task.policy.channels
    listeners = []
    for recipient in recipients(occ, stage, task.co_owner_units, ctx.directory):
        if holds is not None and not holds(recipient.person_id):
            continue
        person = ctx.directory.people[recipient.person_id]
        listeners += [(person.id, channel, person.unit, recipient.why) for channel in person_channels(person, channels)]
    robots = tuple(robot_channels(channels)) if holds is None or holds(ROBOT) else ()
    return listeners, robots


def _to_tell(ctx: PlanContext, lines: dict[tuple[str, str], list[Line]],
             earlier: dict[tuple[str, str, str], list[tuple[datetime, int]]], as_of: datetime
             ) -> dict[tuple[str, str], list[Line]]:
    """Each person's lines, for those with at least one line due to be told (the others wait)."""
    today = as_of.astimezone(ctx.tz).date()

    def due(person_id: str, channel: str, line: Line) -> bool:
        policy = ctx.tasks[line.task_id].policy
        return due_to_tell(line, earlier.get((line.key, person_id, channel), ()), today=today,
                           interval=policy.repeat_every or GROUP_INTERVAL, repeats=policy.repeat_every > 0,
                           workdays_between=ctx.calendar.workdays_between, tz=ctx.tz)

    return {key: found for key, found in lines.items() if any(due(*key, line) for line in found)}


def _missed_for(ctx: PlanContext, person_id: str, missed: dict[tuple[str, str], int]) -> int:
    """How many items a person answers for as owner are missed: their own, and their unit's if they hear for it."""
    if person_id == ROBOT or not missed:
        return 0
    person = ctx.directory.people[person_id]
    count = missed.get(("person", person_id), 0)
    if person_id in ctx.directory.in_unit(person.unit, OWNER_ROLES):
        count += missed.get(("unit", person.unit), 0)
    return count


def _item(occ: Pending, stage: Stage, why: str) -> Item:
    return Item(occ.id, occ.task_id, occ.owner_id, occ.owner_kind, occ.unit_id, occ.due, occ.state, stage, why)


def _item_order(item: Item) -> tuple:
    return (item.stage.kind != "escalate", item.due, item.occurrence_id)


def chunks(messages: list[Message], size: int = BATCH) -> list[Chunk]:
    """Messages in batches, each batch a task run's worth."""
    return [Chunk(messages[start:start + size]) for start in range(0, len(messages), size)]


def _claim_deliveries(
    connection: Connection, plan_id: str, messages: list[Message], ids: list[int], at: datetime, day: date,
) -> Counter:
    """Insert the batch's delivery rows (items' stages, and lines told on `day`) where absent, each pointing at its
    message's notification id (reserved, the notification written after); return how many rows of each id this
    transaction inserted (another run may have put some first)."""
    rows = [{"plan_id": plan_id, "occurrence_id": item.occurrence_id, "stage": item.stage.name,
             "person_id": m.person_id, "channel": m.channel, "at": at, "notification_id": notification_id}
            for m, notification_id in zip(messages, ids, strict=True) for item in m.items]
    rows += [{"plan_id": plan_id, "occurrence_id": line.key, "stage": line.stage(day), "person_id": m.person_id,
              "channel": m.channel, "at": at, "notification_id": notification_id}
             for m, notification_id in zip(messages, ids, strict=True) for line in m.lines]
    return Counter(row[0] for row in insert_new(connection, DeliveryRow.__table__, rows, ("notification_id",)))


def _claimed(connection: Connection, plan_id: str, message: Message, notification_id: int, day: date) -> Message:
    """The part of a message whose deliveries this transaction inserted (the rest another run put first)."""
    table = DeliveryRow.__table__
    ours = set()
    keys = [i.occurrence_id for i in message.items] + [line.key for line in message.lines]
    for among in many_of(connection, table.c.occurrence_id, keys):
        ours.update(tuple(r) for r in connection.execute(select(table.c.occurrence_id, table.c.stage).where(
            table.c.plan_id == plan_id, among, table.c.person_id == message.person_id,
            table.c.channel == message.channel, table.c.notification_id == notification_id)))
    return Message(message.person_id, message.channel,
                   [i for i in message.items if (i.occurrence_id, i.stage.name) in ours],
                   [line for line in message.lines if (line.key, line.stage(day)) in ours], message.missed)


def _unlink(connection: Connection, plan_id: str, messages: list[Message], day: date) -> None:
    """Deliveries of messages whose key was already in the outbox (the same items at the same moment) link to
    nothing."""
    table = DeliveryRow.__table__
    for message in messages:
        keys = [(i.occurrence_id, i.stage.name) for i in message.items]
        keys += [(line.key, line.stage(day)) for line in message.lines]
        for occurrence_id, stage in keys:
            connection.execute(update(table).where(
                table.c.plan_id == plan_id, table.c.occurrence_id == occurrence_id, table.c.stage == stage,
                table.c.person_id == message.person_id, table.c.channel == message.channel).values(
                notification_id=None))


def _sms_today(connection: Connection, ctx: PlanContext, people: list[str], day: date) -> Counter:
    table = NotificationRow.__table__
    start = utc(datetime.combine(day, time(), tzinfo=ctx.tz))
    end = utc(datetime.combine(day + timedelta(days=1), time(), tzinfo=ctx.tz))
    counts: Counter = Counter()
    for among in many_of(connection, table.c.person_id, people):
        query = select(table.c.person_id, func.count()).where(
            table.c.plan_id == ctx.plan_id, table.c.channel == "sms", among,
            table.c.not_before >= start, table.c.not_before < end, table.c.state != "given_up",
        ).group_by(table.c.person_id)
        counts.update(dict(connection.execute(query).all()))
    return counts


def _sms_moment(ctx: PlanContext, as_of: datetime, sent_today: Counter, person_id: str) -> tuple[datetime, bool]:
    """Quiet hours hold an SMS till morning; past the daily cap it waits for the next morning."""
    not_before = sms_not_before(as_of, ctx.quiet, ctx.tz)
    cap = ctx.settings.sms_daily_cap
    if cap > 0 and sent_today[person_id] >= cap:
        morning = ctx.quiet[1] if ctx.quiet else time(8, 0)
        next_day = not_before.astimezone(ctx.tz).date() + timedelta(days=1)
        return datetime.combine(next_day, morning, tzinfo=ctx.tz), True
    return not_before, not_before != as_of


@_collector_paused
def write(*, engine: Engine, ctx: PlanContext, chunk: Chunk | list[Message], as_of: datetime,
          dry_run: bool = False, collect: bool = False, render: bool = True) -> WriteReport:
    """Put one batch of messages in the outbox with their deliveries, in one transaction
    (`render=False`: a one-line summary instead of the templates, for fast replays)."""
    messages = chunk.messages if isinstance(chunk, Chunk) else chunk
    report = WriteReport()
    if not messages:
        return report
    if dry_run:
        views: dict[tuple, dict[str, Any]] = {}
        for message in messages:
            _count(report, message, collect, _render(ctx, message, as_of, render, views), as_of)
        return report
    day = as_of.astimezone(ctx.tz).date()
    views: dict[tuple, dict[str, Any]] = {}
    # Rendered before the transaction, as if every message were new: the store's work is one short transaction,
    # which the batches written at once (runbodies.write_batches) take while this one renders (SQLite's write lock
    # is held for it alone). A message another run put part of first is rendered again with what is left.
    rendered = [_render(ctx, message, as_of, render, views) for message in messages]
    with engine.begin() as connection:
        ids = reserve_ids(connection, NotificationRow.__table__, len(messages))
        kept = _claim_deliveries(connection, ctx.plan_id, messages, ids, utc(as_of), day)
        fresh: list[tuple[int, Message, dict[str, Any]]] = []
        for notification_id, message, row in zip(ids, messages, rendered, strict=True):
            if kept[notification_id] < len(message.items) + len(message.lines):
                if not kept[notification_id]:
                    continue
                message = _claimed(connection, ctx.plan_id, message, notification_id, day)
                row = _render(ctx, message, as_of, render, views)
            fresh.append((notification_id, message, row))
        sms_people = sorted({m.person_id for _, m, _ in fresh if m.channel == "sms"})
        sent_today = _sms_today(connection, ctx, sms_people, day) if sms_people else Counter()
        notifications = []
        for notification_id, message, row in fresh:
            if message.channel == "sms":
                row["not_before"], held = _sms_moment(ctx, as_of, sent_today, message.person_id)
                sent_today[message.person_id] += 1
                report.held += held
            notifications.append(row | {"id": notification_id})
            _count(report, message, collect, row, as_of)
        codes = [(n.pop("short_code"), n["person_id"]) for n in notifications if "short_code" in n]
        shortlinks.bind(connection, shortlinks.rows_for(plan_id=ctx.plan_id, person_ids=codes, now=as_of))
        written = set(enqueue_ids(connection=connection, notifications=notifications).values())
        _unlink(connection, ctx.plan_id, [m for i, m, _ in fresh if i not in written], day)
    return report


def _count(report: WriteReport, message: Message, collect: bool, rendered: dict, as_of: datetime) -> None:
    report.notifications[message.channel] += 1
    report.person_ids.add(message.person_id)
    for item in message.items:
        report.items[(item.stage.kind, item.stage.name)] += 1
    for line in message.lines:
        report.items[("group", f"group-{line.level}")] += 1
    if collect:
        report.rows.append({
            "person": message.person_id, "name": rendered["data"].get("name", ""), "channel": message.channel,
            "address": rendered["address"], "items": len(message.items),
            "stages": ", ".join(sorted({i.stage.name for i in message.items}
                                       | {f"group-{line.level}" for line in message.lines})),
            "subject": rendered["subject"], "not_before": rendered.get("not_before") or as_of,
            "what": [f"{i.stage.name} {i.occurrence_id}" for i in message.items]
            + [f"group-{line.level} {line.key}" for line in message.lines], "lines": len(message.lines),
        })


def _key(ctx: PlanContext, message: Message, as_of: datetime) -> str:
    items = "|".join([f"{i.occurrence_id}#{i.stage.name}" for i in message.items]
                     + [f"{line.key}#{line.level}" for line in message.lines])
    digest = hashlib.sha1(items.encode()).hexdigest()[:16]
    return f"notice/{ctx.plan_id}/{_stamp(as_of)}/{message.person_id}/{message.channel}/{digest}"


@functools.lru_cache(maxsize=16)
def _stamp(as_of: datetime) -> str:
    """The run's moment in a key (the same for every message of a run)."""
    return f"{utc(as_of):%Y%m%dT%H%M%S}"


def _item_view(ctx: PlanContext, item: Item, as_of_day: date, link: str = "",
               views: dict[tuple, dict[str, Any]] | None = None) -> dict[str, Any]:
    """An item as the templates show it; its `url` signs the person in and lands on the item's page. `views`: the
    batch's views so far, without their links (a person's email and SMS list the same items)."""
    key = (item.occurrence_id, item.stage.name, item.why, item.state, as_of_day)
    view = views.get(key) if views is not None else None
    if view is None:
        view = _item_fields(ctx, item, as_of_day)
        if views is not None:
            views[key] = view
    path, quoted = _item_paths(item.occurrence_id)
    return {**view, "url": f"{link}?next={quoted}" if link else ctx.settings.base_url.rstrip("/") + path}


def _item_fields(ctx: PlanContext, item: Item, as_of_day: date) -> dict[str, Any]:
    task = ctx.tasks[item.task_id]
    due_local = item.due.astimezone(ctx.tz)
    due_day = due_local.date()
    stage = item.stage
    return {
        "id": item.occurrence_id, "title": task.title, "ref": task.ref, "owner_name": _owner_name(ctx, item),
        "owner_label": "责任人" if item.owner_kind == "person" else "责任单位", "due": due_local,
        "due_day": due_day, "kind": stage.kind, "stage": stage.name, "why": item.why, "acked": item.state == "acked",
        "workdays_left": _workdays(ctx.calendar, as_of_day, due_day) if due_day >= as_of_day else 0,
        "days_left": (due_day - as_of_day).days,
        "workdays_over": _workdays(ctx.calendar, due_day, as_of_day) if as_of_day > due_day else 0,
        "days_over": (as_of_day - due_day).days,
        "level": stage.level, "levels": stage.levels, "repeat": stage.repeat,
        "level_to": [_target_label(ctx, target, item.unit_id) for target in stage.to],
    }


@functools.lru_cache(maxsize=65536)
def _item_paths(occurrence_id: str) -> tuple[str, str]:
    """An item's page, as it is and quoted for ?next= (an item is listed to each channel of its people)."""
    path = item_path(occurrence_id)
    return path, quote(path, safe="/")


@functools.lru_cache(maxsize=4096)
def _workdays(calendar: WorkdayCalendar, after: date, until: date) -> int:
    """Workdays between two days (a run asks about the same few hundred deadlines thousands of times)."""
    return calendar.workdays_between(after, until)


def _owner_name(ctx: PlanContext, item: Item, with_unit: bool = True) -> str:
    """责任单位 by name, or 责任人 by name with their unit: 向刚（县扶贫办）."""
    unit = ctx.units.get(item.unit_id, item.unit_id)
    person = ctx.directory.people.get(item.owner_id) if item.owner_kind == "person" else None
    if item.owner_kind != "person":
        return unit
    name = person.name if person else item.owner_id
    return f"{name}（{unit}）" if with_unit else name


def _page_url(ctx: PlanContext, person: Any, link: str, filters: dict[str, str]) -> str:
    """The list filtered to a set: /all, which shows each person what they may see (everything, for the office and
    leaders; their unit's, for its head and in_charge), so the link lands on exactly the set they were told of."""
    path, quoted = _list_path(tuple(filters.items()))
    return f"{link}?next={quoted}" if link else ctx.settings.base_url.rstrip("/") + path


@functools.lru_cache(maxsize=4096)
def _list_path(filters: tuple[tuple[str, str], ...]) -> tuple[str, str]:
    """/all?<filters>, as it is and quoted for ?next= (a few dozen sets a run, each told to many people)."""
    path = "/all?" + urlencode(filters)
    return path, quote(path, safe="/")


def _line_view(ctx: PlanContext, line: Line, as_of_day: date, person: Any, link: str) -> dict[str, Any]:
    """A roll-up line as the templates show it: counts in its scope, the top level, the worst few, one link."""
    task, counts = ctx.tasks[line.task_id], line.counts
    by_person = any(member.owner_kind == "person" for member in line.members)
    top = max(line.members, key=lambda member: (member.stage.level, member.stage.moment))
    oldest = counts.oldest_overdue
    filters = {"task": line.task_id, "status": "overdue" if line.level else "due_soon"}
    if line.scope:
        filters["unit"] = line.scope
    worst_named = []
    for member in worst(line):
        name = _owner_name(ctx, member, with_unit=line.scope is None)
        worst_named.append(f"{name}{(as_of_day - member.due.astimezone(ctx.tz).date()).days}天")
    soonest = min(member.due for member in line.members).astimezone(ctx.tz).date()
    scope_name = ctx.units.get(line.scope, line.scope) if line.scope else ""
    # a line about one owner names it (unless its scope already does): 「已逾期28天」 alone leaves a leader asking whose
    owner = _owner_name(ctx, line.members[0], with_unit=line.scope is None) if counts.owners == 1 else ""
    return {
        "task_id": line.task_id, "title": task.title, "ref": task.ref, "why": line.why,
        "scope_name": scope_name, "owner": "" if owner == scope_name else owner,
        "kind": "escalate" if line.level else "remind", "level": line.level, "levels": top.stage.levels,
        "level_to": [_target_label(ctx, target, top.unit_id) for target in top.stage.to],
        "measure": "名责任人" if by_person else "个责任单位", "noun": "名" if by_person else "个",
        "owners": counts.owners, "overdue": counts.overdue_owners, "due_soon": counts.due_soon_owners,
        "missed": counts.missed, "oldest_days": (as_of_day - oldest.astimezone(ctx.tz).date()).days if oldest else 0,
        "worst": worst_named, "soonest": soonest, "url": _page_url(ctx, person, link, filters),
    }


def _target_label(ctx: PlanContext, target: str, unit_id: str) -> str:
    if target.startswith("unit:"):
        return ctx.units.get(target[5:], target[5:])
    role = target.removeprefix("role:")
    label = ctx.roles.get(role, role)
    return label if target.startswith("role:") else f"{ctx.units.get(unit_id, unit_id)}{label}"


def _summary(ctx: PlanContext, message: Message) -> str:
    """One line about a message, without templates: 2项已逾期、1项即将到期、督办3项工作：「title」等."""
    counts = Counter(item.stage.kind for item in message.items)
    parts = [f"{counts['escalate']}项已逾期"] if counts["escalate"] else []
    parts += [f"{counts['remind']}项即将到期"] if counts["remind"] else []
    parts += [f"督办{len(message.lines)}项工作"] if message.lines else []
    first = message.items[0].task_id if message.items else message.lines[0].task_id
    more = len(message.items) + len(message.lines) > 1
    return "、".join(parts) + f"：「{ctx.tasks[first].title}」" + ("等" if more else "")


def _render(ctx: PlanContext, message: Message, as_of: datetime, render: bool = True,
            views: dict[tuple, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The notification row for a message: address, subject, bodies, SMS template parameters (`views`: the item
    views of the batch so far, shared)."""
    robot = message.person_id == ROBOT
    person = None if robot else ctx.directory.people[message.person_id]
    groups = [[line.key, line.level, [m.occurrence_id for m in line.members]] for line in message.lines]
    if not render:
        address = "" if person is None else person.email if message.channel == "email" else person.mobile
        return {"plan_id": ctx.plan_id, "key": _key(ctx, message, as_of), "person_id": message.person_id,
                "channel": message.channel, "address": address, "subject": _summary(ctx, message),
                "data": {"name": person.name if person else "",
                         "items": [[i.occurrence_id, i.stage.name] for i in message.items], "groups": groups},
                "as_of": as_of, "created_at": as_of, "not_before": as_of}
    as_of_day = as_of.astimezone(ctx.tz).date()
    # Whatever the plan's size, a message lists a few of each kind; the counts and the links carry the rest.
    shown = ROBOT_ITEMS_SHOWN if robot else ITEMS_SHOWN
    escalating = [item for item in message.items if item.stage.kind == "escalate"]
    reminding = [item for item in message.items if item.stage.kind == "remind"]
    # A person's links, in email as in SMS, are one short code (bound in write(), beside the notification) that
    # lapses with the reminder (shortlinks.LOGIN_VALID_FOR, as the text says); item links add ?next=. A forwarded
    # email leaks a code its person can revoke by signing out, never a long login token.
    short_code = shortlinks.new_code() if person is not None else ""
    link = shortlinks.url(ctx.settings.base_url, short_code) if short_code else ""
    escalations = [_item_view(ctx, item, as_of_day, link, views) for item in escalating[:shown]]
    room = shown if robot else max(shown - len(escalations), REMINDERS_SHOWN)
    reminders = [_item_view(ctx, item, as_of_day, link, views) for item in reminding[:room]]
    lines = [_line_view(ctx, line, as_of_day, person, link) for line in message.lines[:LINES_SHOWN]]
    items = escalations + reminders
    missed_filters = {"status": "missed"} | ({"unit": person.unit} if person else {})
    values = {
        "person": person, "plan": {"id": ctx.plan_id, "title": ctx.title}, "office": ctx.office or "督办室",
        "items": items, "reminders": reminders, "escalations": escalations, "link": link, "as_of": as_of,
        "as_of_day": as_of_day, "tz": ctx.tz, "base_url": ctx.settings.base_url.rstrip("/"),
        "shown": ROBOT_ITEMS_SHOWN, "n_items": len(message.items), "n_escalations": len(escalating),
        "n_reminders": len(reminding), "lines": lines, "n_lines": len(message.lines),
        # tasks with someone overdue: owners summed over tasks count a unit once per task (「3919个单位」 at the county)
        "lines_overdue": sum(1 for line in message.lines if line.counts.overdue_owners), "missed": message.missed,
        "missed_url": _page_url(ctx, person, link, missed_filters) if message.missed else "",
        "all_url": _page_url(ctx, person, link, {"status": "overdue"}),
    }
    first = items[0] if items else {"title": lines[0]["title"], "due_day": lines[0]["soonest"]}
    sms_params = {
        "name": person.name if person else "", "count": str(len(message.items) + len(message.lines)),
        "overdue": str(len(escalating) + sum(1 for line in message.lines if line.level)),
        "first": first["title"][:20], "due": f"{first['due_day'].month}月{first['due_day'].day}日", "link": link,
    }
    values["sms_params"] = sms_params
    if message.channel == "email":
        subject = " ".join(ctx.template("email/notice_subject.txt").render(values).split())
        body_text = ctx.template("email/notice.txt").render(values)
        body_html = ctx.template("email/notice.html").render(values)
        address = person.email
    elif message.channel == "sms":
        values["short_link"] = link
        subject, body_text, body_html = "", ctx.template("sms/notice.txt").render(values).strip(), ""
        address = person.mobile
    else:
        subject = " ".join(ctx.template("robot/notice_title.txt").render(values).split())
        body_text, body_html, address = ctx.template("robot/notice.md").render(values), "", ""
    data = {"name": person.name if person else "", "from_name": f"{ctx.office}督办" if ctx.office else "督办",
            "kind": "notice", "items": [[i.occurrence_id, i.stage.name] for i in message.items], "groups": groups,
            "sms_params": sms_params}
    row = {"plan_id": ctx.plan_id, "key": _key(ctx, message, as_of), "person_id": message.person_id,
           "channel": message.channel, "address": address, "subject": subject, "body_text": body_text,
           "body_html": body_html, "data": data, "as_of": as_of, "created_at": as_of, "not_before": as_of}
    return row | ({"short_code": short_code} if short_code else {})


def preview(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """Messages as rows for people (who, how many items and roll-up lines, which stages)."""
    return [{"person": m.person_id, "channel": m.channel, "items": len(m.items), "lines": len(m.lines),
             "stages": ", ".join(sorted({i.stage.name for i in m.items} | {f"group-{x.level}" for x in m.lines}))}
            for m in messages]


def dumps(data: Any) -> str:
    """JSON for people: Chinese as it is."""
    return json.dumps(data, ensure_ascii=False, default=str, indent=2)
