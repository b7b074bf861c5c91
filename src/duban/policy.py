"""Who must hear what at a moment: reminder stages, escalation levels, recipients. Pure: `as_of` in, decisions out."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from duban.catalog import EscalationLevel, Policy
from duban.directory import Person
from duban.schedule import escalation_moment
from duban.workdays import WorkdayCalendar

PENDING = ("open", "acked")
KINDS = ("remind", "escalate")
OWNER_ROLES = ("liaison", "in_charge")  # who hears for a unit that owns work
CO_OWNER_ROLES = ("liaison",)  # who hears for a unit that shares it
UNIT_TARGET_ROLES = ("liaison", "head")  # `unit:<id>` in an escalation level
FALLBACK_ROLES = ("head", "in_charge", "liaison")  # when a unit has none of the roles asked for


@dataclass(frozen=True, slots=True)
class Stage:
    """A reminder before the deadline or an escalation level after it, as it falls for one occurrence."""

    kind: str  # "remind" or "escalate"
    name: str  # stable, stored in `delivery.stage`: remind-3, escalate-5, escalate-5-r2
    moment: datetime
    workdays: int  # remind: workdays before the deadline; escalate: workdays after it
    level: int = 0  # escalation level, 1-based
    levels: int = 0  # how many levels the policy has
    repeat: int = 0  # how many times the top level has come round again
    to: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Pending:
    """The facts of one occurrence not yet done that the policy needs."""

    id: str
    task_id: str
    owner_id: str
    owner_kind: str
    unit_id: str
    due: datetime
    state: str
    reminders: tuple[tuple[int, datetime], ...] = ()
    superseded_at: datetime | None = None  # after it, the occurrence is missed and no longer heard of on its own
    extended: bool = False  # its deadline was moved (延期): its stages are heard of again for the new deadline


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person who must hear of an occurrence's stage, and why (owner, co_owner, superior)."""

    person_id: str
    why: str


def policy_from_json(text: str | None) -> Policy:
    """A task's policy as stored in `task.policy`."""
    raw = json.loads(text or "{}")
    levels = tuple(sorted((EscalationLevel(int(level["after"]), tuple(level.get("to", ())),
                                           bool(level.get("ack_pauses", False)))
                           for level in raw.get("escalate") or ()), key=lambda level: level.after))
    return Policy(remind=tuple(raw.get("remind", (3, 1, 0))), escalate=levels,
                  repeat_every=int(raw.get("repeat_every", 0)), channels=tuple(raw.get("channels", ("email", "sms"))),
                  superseded_after=int(raw.get("superseded_after", 1)))


def reminders_from_json(text: str | None) -> tuple[tuple[int, datetime], ...]:
    """An occurrence's reminder moments as stored in `occurrence.reminders`."""
    return tuple((int(stage), datetime.fromisoformat(at)) for stage, at in json.loads(text or "[]"))


class EscalationClock:
    """Escalation moments, cached per deadline day and workday count (many occurrences share them)."""

    def __init__(self, calendar: WorkdayCalendar, at: time, tz: ZoneInfo) -> None:
        self.calendar, self.at, self.tz = calendar, at, tz
        self._cache: dict[tuple[date, int], datetime] = {}

    def moment(self, due_day: date, after: int) -> datetime:
        """When `after` workdays past `due_day` fall, at the plan's reminder time."""
        key = (due_day, after)
        if key not in self._cache:
            self._cache[key] = escalation_moment(due_day, after, self.calendar, self.at, self.tz)
        return self._cache[key]


def reminder_stage(reminders: Sequence[tuple[int, datetime]], due: datetime, as_of: datetime) -> Stage | None:
    """The latest reminder stage that has come by `as_of` (earlier ones are superseded); none once past due."""
    if as_of > due:
        return None
    came = [(moment, stage) for stage, moment in reminders if moment <= as_of]
    if not came:
        return None
    moment, stage = max(came)
    return Stage("remind", f"remind-{stage}", moment, stage)


def escalation_stage(
    *, due: datetime, levels: Sequence[EscalationLevel], repeat_every: int, acked: bool,
    clock: EscalationClock, as_of: datetime,
) -> Stage | None:
    """The highest escalation level fallen by `as_of` (a level with ack_pauses does not fall while signed for);
    the top level comes round again every `repeat_every` workdays."""
    due_day = due.astimezone(clock.tz).date()
    current = None
    for number, level in enumerate(levels, start=1):
        if acked and level.ack_pauses:
            continue
        moment = clock.moment(due_day, level.after)
        if moment <= as_of:
            current = (number, level, moment)
    if current is None:
        return None
    number, level, moment = current
    repeat = 0
    if number == len(levels) and repeat_every > 0:
        while (following := clock.moment(due_day, level.after + (repeat + 1) * repeat_every)) <= as_of:
            repeat, moment = repeat + 1, following
    name = f"escalate-{level.after}" + (f"-r{repeat}" if repeat else "")
    return Stage("escalate", name, moment, level.after, number, len(levels), repeat, level.to)


def for_new_deadline(stage: Stage, due: datetime) -> Stage:
    """The stage as it falls for a moved deadline: named with the deadline (remind-3@20201110), so a reminder or
    level already heard of for the old deadline is heard of again for the new one, and only once."""
    return replace(stage, name=f"{stage.name}@{due.astimezone(UTC):%Y%m%d}")


def decide(
    pending: Iterable[Pending], policies: Mapping[str, Policy], clock: EscalationClock, as_of: datetime,
    kinds: Sequence[str] = KINDS,
) -> list[tuple[Pending, Stage]]:
    """For each occurrence not done and not superseded (missed), the one stage that is current at `as_of`, if any."""
    result = []
    # Many occurrences share a deadline, reminder moments and policy: work each combination out once.
    known: dict[tuple, Stage | None] = {}
    for occ in pending:
        if occ.state not in PENDING or (occ.superseded_at is not None and as_of > max(occ.superseded_at, occ.due)):
            continue
        policy = policies[occ.task_id]
        key = (occ.due, occ.reminders, id(policy), occ.state, occ.extended)
        if key not in known:
            stage = None
            if "remind" in kinds:
                stage = reminder_stage(occ.reminders, occ.due, as_of)
            if stage is None and "escalate" in kinds and as_of > occ.due:
                stage = escalation_stage(due=occ.due, levels=policy.escalate, repeat_every=policy.repeat_every,
                                         acked=occ.state == "acked", clock=clock, as_of=as_of)
            known[key] = stage if stage is None or not occ.extended else for_new_deadline(stage, occ.due)
        if known[key] is not None:
            result.append((occ, known[key]))
    return result


@dataclass
class Directory:
    """People by unit and role, for finding who must hear."""

    people: dict[str, Person] = field(default_factory=dict)
    by_unit_role: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    by_role: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, contacts: Iterable[Person]) -> Directory:
        """Index a list of contacts."""
        directory = cls()
        for person in contacts:
            directory.people[person.id] = person
            for role in person.roles:
                directory.by_unit_role.setdefault((person.unit, role), []).append(person.id)
                directory.by_role.setdefault(role, []).append(person.id)
        return directory

    def in_unit(self, unit_id: str, roles: Sequence[str], fallback: bool = True) -> list[str]:
        """People holding any of `roles` in a unit; if nobody does, its head (or whoever leads it)."""
        found = [pid for role in roles for pid in self.by_unit_role.get((unit_id, role), ())]
        if not found and fallback:
            for role in FALLBACK_ROLES:
                found = list(self.by_unit_role.get((unit_id, role), ()))
                if found:
                    break
        return list(dict.fromkeys(found))


def owner_people(occ: Pending, directory: Directory) -> list[str]:
    """Who hears for the owner: a person owner themself; a unit's liaison and in_charge people."""
    if occ.owner_kind == "person":
        return [occ.owner_id] if occ.owner_id in directory.people else []
    return directory.in_unit(occ.unit_id, OWNER_ROLES)


def level_people(to: Sequence[str], occ: Pending, directory: Directory) -> list[str]:
    """An escalation level's recipients: a role in the owner's unit, `unit:<id>` (liaison and head),
    or `role:<role>` (everyone in the plan holding it)."""
    found: list[str] = []
    for target in to:
        if target.startswith("unit:"):
            found += directory.in_unit(target[5:], UNIT_TARGET_ROLES)
        elif target.startswith("role:"):
            found += directory.by_role.get(target[5:], [])
        else:
            found += directory.by_unit_role.get((occ.unit_id, target), [])
    return found


def recipients(occ: Pending, stage: Stage, co_owner_units: Sequence[str], directory: Directory) -> list[Recipient]:
    """Everyone who must hear of this stage, each once, with the strongest reason."""
    chosen: dict[str, str] = {}
    for pid in owner_people(occ, directory):
        chosen.setdefault(pid, "owner")
    if stage.kind == "remind":
        for unit_id in co_owner_units:
            if unit_id != occ.unit_id:
                for pid in directory.in_unit(unit_id, CO_OWNER_ROLES):
                    chosen.setdefault(pid, "co_owner")
    else:
        for pid in level_people(stage.to, occ, directory):
            chosen.setdefault(pid, "superior")
    return [Recipient(pid, why) for pid, why in chosen.items()]


def person_channels(person: Person, channels: Sequence[str]) -> list[str]:
    """The task's personal channels this person has an address for; anyone reachable hears somehow."""
    found = [c for c in channels if (c == "email" and person.email) or (c == "sms" and person.mobile)]
    if not found and not any(c in ("email", "sms") for c in channels):
        return []
    if not found:
        found = ["email"] if person.email else ["sms"] if person.mobile else []
    return found


def robot_channels(channels: Sequence[str]) -> list[str]:
    """The group-robot channels a task's policy names."""
    return [c for c in channels if c in ("dingtalk", "wecom")]
