"""The catalog (tasks_catalog.yaml): its format, validated into typed, immutable values."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from duban.controlchars import control_problem, printable
from duban.yamlsrc import Located, LocatedList, Where, YamlSyntaxError, load_located

BUILTIN_ROLES = {"head": "主要负责同志", "in_charge": "分管负责同志", "liaison": "联络员", "leader": "领导"}
FREQUENCIES = ("daily", "weekly", "semimonthly", "monthly", "quarterly", "yearly")
CHANNELS = ("email", "sms", "dingtalk", "wecom")
TARGET_OPS = (">=", "<=", ">", "<", "==")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# Task ids the office's own items take (duban.casework: 交办 assigned-0001, 问题 problem-0001); a catalog task
# with such an id would collide with one in the store.
CASEWORK_TASK_ID = re.compile(r"^(assigned|problem)-[0-9]+$")
SECTION = re.compile(r"^[一二三四五六七八九十]+(（[一二三四五六七八九十]+）)?")

PLAN_KEYS = {"id", "title", "timezone", "start", "end", "workdays", "holidays", "extra_workdays", "remind_at", "office"}
POLICY_KEYS = {"remind", "escalate", "repeat_every", "channels", "superseded_after"}
TASK_KEYS = {
    "id",
    "ref",
    "title",
    "quote",
    "owner",
    "co_owners",
    "every",
    "due",
    "times",
    "from",
    "to",
    "evidence",
    "target",
    "note",
    "report_grace",
    "done_at_load",
    "owners_from",
    "reported_with",
} | POLICY_KEYS - {"repeat_every"}
OWNER_LISTS = {"problems": "问题清单 (duban import-problems)"}  # lists a task's owners may come from
DONE_KEYS = {"by", "date", "note"}  # not "on": YAML 1.1 reads it as true
TOP_KEYS = {"plan", "defaults", "roles", "units", "groups", "digest", "sections", "tasks"}
# Fields that may span lines: they appear on web pages and sheets only, never in a mail header or an SMS.
MULTILINE_KEYS = {"quote", "note"}


@dataclass(frozen=True)
class Problem:
    """One mistake in an input file, with its place."""

    where: Where
    message: str

    def __str__(self) -> str:
        return printable(f"{self.where}: {self.message}")


class CatalogError(Exception):
    """A catalog with mistakes; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Target:
    """A figure an owner reports against: 支出进度 >= 92 %."""

    metric: str
    op: str
    value: float
    unit: str = ""

    def met_by(self, figure: float) -> bool:
        """Whether a reported figure meets the target."""
        return {
            ">=": figure >= self.value,
            "<=": figure <= self.value,
            ">": figure > self.value,
            "<": figure < self.value,
            "==": figure == self.value,
        }[self.op]


@dataclass(frozen=True)
class DoneAtLoad:
    """Work already done when the catalog is loaded: recorded as done (销号) at sync."""

    by: str  # the unit that did it
    day: date | None = None  # when; unknown: the deadline, or the load if that comes first
    note: str = ""


@dataclass(frozen=True)
class EscalationLevel:
    """Who hears of an overdue occurrence, some workdays after its deadline."""

    after: int
    to: tuple[str, ...]
    ack_pauses: bool = False


@dataclass(frozen=True)
class Policy:
    """When to remind, whom to escalate to, on which channels."""

    remind: tuple[int, ...] = (3, 1, 0)
    escalate: tuple[EscalationLevel, ...] = ()
    repeat_every: int = 0
    channels: tuple[str, ...] = ("email", "sms")
    superseded_after: int = 1  # periods after which an open periodic occurrence is superseded (0 = never)


@dataclass(frozen=True)
class Plan:
    """The document: title, window, timezone, workday calendar."""

    id: str
    title: str
    timezone: str
    start: date
    end: date
    workdays: str = "cn"
    holidays: tuple[date, ...] = ()
    extra_workdays: tuple[date, ...] = ()
    remind_at: time = time(9, 0)
    office: str | None = None

    @property
    def tz(self) -> ZoneInfo:
        """The plan's timezone."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Unit:
    """A body that owns work."""

    id: str
    name: str
    short: str = ""
    kind: str = ""

    @property
    def label(self) -> str:
        """The name officials use day to day."""
        return self.short or self.name


@dataclass(frozen=True)
class Group:
    """A named set of units."""

    id: str
    name: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class Task:
    """One obligation of the plan."""

    id: str
    ref: str
    title: str
    owner: str
    start: date
    end: date
    policy: Policy
    quote: str = ""
    co_owners: tuple[str, ...] = ()
    every: str | None = None
    due: date | None = None
    times: int = 1
    evidence: str = ""
    target: Target | None = None
    note: str = ""
    report_grace: int = 0  # workdays after the period's last day in which its figure is reported
    done_at_load: DoneAtLoad | None = None
    owners_from: str = ""  # a list (OWNER_LISTS) naming the owners; the catalog expands no items for the task
    reported_with: str = ""  # another task whose report carries this one; no items of its own

    @property
    def expands(self) -> bool:
        """Whether the catalog gives this task items of its own."""
        return not (self.owners_from or self.reported_with)

    @property
    def section(self) -> str:
        """The plan section the clause belongs to, e.g. 二（三） for 二（三）2."""
        match = SECTION.match(self.ref)
        return match.group(0) if match else self.ref

    @property
    def schedule(self) -> dict[str, Any]:
        """The task's schedule as plain values."""
        if self.due is not None:
            result: dict[str, Any] = {"due": self.due.isoformat(), "from": self.start.isoformat()}
        else:
            result = {"every": self.every, "times": self.times, "from": self.start.isoformat(),
                      "to": self.end.isoformat()}
        extras = {"report_grace": self.report_grace, "owners_from": self.owners_from,
                  "reported_with": self.reported_with}
        return result | {key: value for key, value in extras.items() if value}


@dataclass(frozen=True)
class Catalog:
    """A whole validated plan."""

    plan: Plan
    defaults: Policy
    units: dict[str, Unit]
    groups: dict[str, Group]
    roles: dict[str, str]
    tasks: tuple[Task, ...]
    digest_to: tuple[str, ...] = ()
    source: str = field(default="", compare=False)
    sections: dict[str, str] = field(default_factory=dict)  # section titles by clause: 二（一） -> 全面落实…

    def owner_units(self, owner: str) -> list[str]:
        """Unit ids an owner expression stands for (empty for role owners)."""
        if owner.startswith("group:"):
            return list(self.groups[owner[6:]].members)
        if owner.startswith("role:"):
            return []
        return [owner]

    def owner_label(self, owner: str) -> str:
        """An owner expression in officials' words."""
        if owner.startswith("group:"):
            return self.groups[owner[6:]].name
        if owner.startswith("role:"):
            return self.roles[owner[5:]]
        return self.units[owner].label


class _Reader:
    """Walks the located YAML, collecting every problem instead of stopping at the first."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, where: Where, message: str) -> None:
        self.problems.append(Problem(where, message))

    def mapping(self, value: Any, where: Where, what: str, allowed: set[str], required: set[str]) -> Located | None:
        if not isinstance(value, Located):
            self.problem(where, f"{what} must be a mapping")
            return None
        for key in value:
            if key not in allowed:
                self.problem(
                    value.key_where[key], f"unknown field '{key}' in {what} (allowed: {', '.join(sorted(allowed))})"
                )
        for key in sorted(required - set(value)):
            self.problem(value.where, f"missing field '{key}' in {what}")
        return value

    def text(self, m: Located, key: str, what: str, default: str = "") -> str:
        if key not in m or m[key] is None:
            return default
        value = m[key]
        if isinstance(value, (Located, LocatedList)):
            self.problem(m.value_where[key], f"{what}.{key} must be text")
            return default
        text = str(value)
        problem = control_problem(text, multiline=key in MULTILINE_KEYS)
        if problem:
            self.problem(m.value_where[key], f"{what}.{key} {problem}")
        return text

    def slug(self, m: Located, key: str, what: str) -> str:
        value = self.text(m, key, what)
        if key in m and not SLUG.match(value):
            self.problem(m.value_where[key], f"{what}.{key} '{value}' must be lowercase letters, digits, '-' or '_'")
        return value

    def day(self, m: Located, key: str, what: str) -> date | None:
        if key not in m:
            return None
        value = m[key]
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.problem(m.value_where[key], f"{what}.{key}: bad date '{value}' (write YYYY-MM-DD)")
        return None

    def days(self, m: Located, key: str, what: str) -> tuple[date, ...]:
        items = self.items(m, key, what)
        result = []
        for index, (value, where) in enumerate(items):
            if isinstance(value, date) and not hasattr(value, "hour"):
                result.append(value)
            else:
                self.problem(where, f"{what}.{key}[{index}]: bad date '{value}' (write YYYY-MM-DD)")
        return tuple(result)

    def items(self, m: Located, key: str, what: str) -> list[tuple[Any, Where]]:
        if key not in m or m[key] is None:
            return []
        value = m[key]
        if not isinstance(value, LocatedList):
            self.problem(m.value_where[key], f"{what}.{key} must be a list")
            return []
        return list(zip(value, value.item_where, strict=False))

    def count(self, m: Located, key: str, what: str, default: int, minimum: int = 0) -> int:
        if key not in m:
            return default
        value = m[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problem(m.value_where[key], f"{what}.{key} must be a whole number >= {minimum}")
            return default
        return value


def _read_plan(r: _Reader, doc: Located) -> Plan | None:
    if "plan" not in doc:
        return None
    m = r.mapping(doc["plan"], doc.value_where["plan"], "plan", PLAN_KEYS, {"id", "title", "start", "end"})
    if m is None:
        return None
    timezone = r.text(m, "timezone", "plan", "Asia/Shanghai")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        r.problem(m.value_where["timezone"], f"plan.timezone: unknown timezone '{timezone}'")
        timezone = "Asia/Shanghai"
    workdays = r.text(m, "workdays", "plan", "cn")
    if workdays not in ("cn", "mon-fri", "all"):
        r.problem(m.value_where["workdays"], f"plan.workdays: unknown calendar '{workdays}' (use cn, mon-fri or all)")
        workdays = "cn"
    remind_at = time(9, 0)
    if "remind_at" in m:
        raw = m["remind_at"]
        match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", raw) if isinstance(raw, str) else None
        if match:
            remind_at = time(int(match.group(1)), int(match.group(2)))
        else:
            r.problem(m.value_where["remind_at"], f"plan.remind_at: bad time '{raw}' (write it quoted, as \"09:00\")")
    start, end = r.day(m, "start", "plan"), r.day(m, "end", "plan")
    if start and end and end < start:
        r.problem(m.value_where["end"], f"plan.end {end} is before plan.start {start}")
    if not (start and end and "id" in m):
        return None
    plan_id = r.slug(m, "id", "plan")
    return Plan(
        id=plan_id,
        title=r.text(m, "title", "plan"),
        timezone=timezone,
        start=start,
        end=end,
        workdays=workdays,
        holidays=r.days(m, "holidays", "plan"),
        extra_workdays=r.days(m, "extra_workdays", "plan"),
        remind_at=remind_at,
        office=r.text(m, "office", "plan") or None,
    )


def _read_policy(r: _Reader, m: Located, what: str, base: Policy, targets: list[tuple[str, Where]]) -> Policy:
    remind = base.remind
    if "remind" in m:
        values = r.items(m, "remind", what)
        if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v, _ in values):
            remind = tuple(sorted({v for v, _ in values}, reverse=True))
        else:
            r.problem(m.value_where["remind"], f"{what}.remind must list whole numbers of workdays >= 0")
    escalate = base.escalate
    if "escalate" in m:
        levels = []
        for index, (value, where) in enumerate(r.items(m, "escalate", what)):
            level_what = f"{what}.escalate[{index}]"
            level = r.mapping(value, where, level_what, {"after", "to", "ack_pauses"}, {"after", "to"})
            if level is None or "after" not in level:
                continue
            after = r.count(level, "after", level_what, 1, minimum=1)
            to = []
            for target, target_where in r.items(level, "to", level_what):
                to.append(str(target))
                targets.append((str(target), target_where))
            pauses = level.get("ack_pauses", False)
            if not isinstance(pauses, bool):
                r.problem(level.value_where["ack_pauses"], f"{level_what}.ack_pauses must be true or false")
                pauses = False
            levels.append(EscalationLevel(after, tuple(to), pauses))
        afters = [level.after for level in levels]
        if len(set(afters)) != len(afters):
            r.problem(m.value_where["escalate"], f"{what}.escalate: two levels with the same 'after'")
        escalate = tuple(sorted(levels, key=lambda level: level.after))
    channels = base.channels
    if "channels" in m:
        values = r.items(m, "channels", what)
        for value, where in values:
            if value not in CHANNELS:
                r.problem(where, f"{what}.channels: unknown channel '{value}' (use {', '.join(CHANNELS)})")
        channels = tuple(str(v) for v, _ in values if v in CHANNELS)
    repeat_every = r.count(m, "repeat_every", what, base.repeat_every) if "repeat_every" in m else base.repeat_every
    superseded_after = r.count(m, "superseded_after", what, base.superseded_after)
    return Policy(remind, escalate, repeat_every, channels, superseded_after)


def _read_named(r: _Reader, doc: Located, key: str, allowed: set[str]) -> list[tuple[Located, Where]]:
    result, seen = [], {}
    for index, (value, where) in enumerate(r.items(doc, key, key) if key in doc else []):
        m = r.mapping(value, where, f"{key}[{index}]", allowed, {"id", "name"})
        if m is None or "id" not in m:
            continue
        item_id = r.slug(m, "id", f"{key}[{index}]")
        if item_id in seen:
            r.problem(m.value_where["id"], f"duplicate {key[:-1]} id '{item_id}' (first at line {seen[item_id].line})")
            continue
        seen[item_id] = m.value_where["id"]
        result.append((m, where))
    return result


def _resolve_members(
    r: _Reader, raw: dict[str, tuple[Located, list[tuple[str, Where]]]], units: dict[str, Unit]
) -> dict[str, Group]:
    groups: dict[str, Group] = {}

    def expand(group_id: str, trail: tuple[str, ...]) -> list[str]:
        _m, members = raw[group_id]
        result: list[str] = []
        for member, where in members:
            if member.startswith("group:"):
                inner = member[6:]
                if inner not in raw:
                    r.problem(where, f"group '{group_id}': unknown group '{inner}'")
                elif inner in trail:
                    r.problem(where, f"group '{group_id}': groups contain each other ({' -> '.join((*trail, inner))})")
                else:
                    result.extend(expand(inner, (*trail, inner)))
            elif member not in units:
                r.problem(where, f"group '{group_id}': unknown unit '{member}'")
            else:
                result.append(member)
        return list(dict.fromkeys(result))

    for group_id, (m, _) in raw.items():
        name = r.text(m, "name", f"group '{group_id}'")
        groups[group_id] = Group(group_id, name, tuple(expand(group_id, (group_id,))))
    return groups


def _read_target(r: _Reader, m: Located, what: str) -> Target | None:
    if "target" not in m:
        return None
    t = r.mapping(
        m["target"],
        m.value_where["target"],
        f"{what}.target",
        {"metric", "unit", "op", "value"},
        {"metric", "op", "value"},
    )
    if t is None or not {"metric", "op", "value"} <= set(t):
        return None
    if t["op"] not in TARGET_OPS:
        r.problem(t.value_where["op"], f"{what}.target.op '{t['op']}' must be one of {' '.join(TARGET_OPS)}")
        return None
    if isinstance(t["value"], bool) or not isinstance(t["value"], (int, float)):
        r.problem(t.value_where["value"], f"{what}.target.value must be a number")
        return None
    metric = r.text(t, "metric", f"{what}.target")
    return Target(metric, str(t["op"]), float(t["value"]), r.text(t, "unit", f"{what}.target"))


def _check_rrule(rule: str) -> str | None:
    from dateutil.rrule import rrulestr

    try:
        rrulestr(rule, dtstart=None)
    except (ValueError, TypeError) as error:
        return str(error) or "not a valid RRULE"
    return None


def _read_task(r: _Reader, m: Located, where: Where, index: int, ctx: dict[str, Any]) -> Task | None:
    what = f"task '{m.get('id', index)}'"
    plan: Plan = ctx["plan"]
    start = r.day(m, "from", what) or plan.start
    end = r.day(m, "to", what) or plan.end
    for key, value in (("from", start), ("to", end)):
        if key in m and not plan.start <= value <= plan.end:
            r.problem(m.value_where[key], f"{what}.{key} {value} is outside the plan ({plan.start} to {plan.end})")
    if "from" in m and "to" in m and end < start:
        r.problem(m.value_where["to"], f"{what}.to {end} is before {what}.from {start}")
    every, due = None, None
    if "every" in m and "due" in m:
        r.problem(m.key_where["due"], f"{what} has both 'due' and 'every'; a task is one-off or periodic, not both")
    elif "due" in m:
        due = r.day(m, "due", what)
        if due and not plan.start <= due <= plan.end:
            r.problem(m.value_where["due"], f"{what}.due {due} is outside the plan ({plan.start} to {plan.end})")
        if due and "to" in m:
            r.problem(m.key_where["to"], f"{what}: a one-off task takes 'due', not 'to'")
        if due and "from" in m and due < start:
            r.problem(m.value_where["due"], f"{what}.due {due} is before its 'from' {start}")
    elif "every" in m:
        every = r.text(m, "every", what)
        if every.startswith("rrule:"):
            error = _check_rrule(every[6:])
            if error:
                r.problem(m.value_where["every"], f"{what}.every: bad rrule: {error}")
        elif every not in FREQUENCIES:
            r.problem(
                m.value_where["every"],
                f"{what}.every: unknown frequency '{every}' (use {', '.join(FREQUENCIES)} or rrule:...)",
            )
    else:
        r.problem(m.where, f"{what} needs 'due' (a one-off deadline) or 'every' (a frequency)")
    owner = r.text(m, "owner", what)
    if "owner" in m:
        ctx["owners"].append((owner, m.value_where["owner"], True))
    co_owners = []
    for value, value_where in r.items(m, "co_owners", what):
        co_owners.append(str(value))
        ctx["owners"].append((str(value), value_where, False))
    policy = _read_policy(r, m, what, ctx["defaults"], ctx["targets"])
    target = _read_target(r, m, what)
    done = _read_done(r, m, what, due is not None, ctx)
    owners_from = r.text(m, "owners_from", what)
    if owners_from and owners_from not in OWNER_LISTS:
        r.problem(m.value_where["owners_from"],
                  f"{what}.owners_from: unknown list '{owners_from}' (use {', '.join(OWNER_LISTS)})")
    reported_with = r.text(m, "reported_with", what)
    if reported_with:
        ctx["reported_with"].append((str(m.get("id", "")), reported_with, m.value_where["reported_with"]))
    if sum(map(bool, (owners_from, reported_with, done))) > 1:
        r.problem(m.where, f"{what}: owners_from, reported_with and done_at_load exclude each other")
    grace = r.count(m, "report_grace", what, 0, minimum=1)
    if grace:
        ctx["graces"].append((due or end, grace, m.value_where["report_grace"], what))
    if not {"id", "ref", "title", "owner"} <= set(m):
        return None
    return Task(
        id=r.slug(m, "id", what),
        ref=r.text(m, "ref", what),
        title=r.text(m, "title", what),
        quote=r.text(m, "quote", what),
        owner=owner,
        co_owners=tuple(co_owners),
        every=every,
        due=due,
        times=r.count(m, "times", what, 1, minimum=1),
        start=start,
        end=due or end,
        evidence=r.text(m, "evidence", what),
        target=target,
        note=r.text(m, "note", what),
        policy=policy,
        report_grace=grace,
        done_at_load=done,
        owners_from=owners_from if owners_from in OWNER_LISTS else "",
        reported_with=reported_with,
    )


def _read_done(r: _Reader, m: Located, what: str, one_off: bool, ctx: dict[str, Any]) -> DoneAtLoad | None:
    if "done_at_load" not in m:
        return None
    done_what = f"{what}.done_at_load"
    d = r.mapping(m["done_at_load"], m.value_where["done_at_load"], done_what, DONE_KEYS, {"by"})
    if d is None or "by" not in d:
        return None
    if not one_off:
        r.problem(m.key_where["done_at_load"], f"{done_what}: only a one-off task (with 'due') can be done at load")
    by = r.text(d, "by", done_what)
    ctx["done_by"].append((by, d.value_where["by"], done_what))
    return DoneAtLoad(by, r.day(d, "date", done_what), r.text(d, "note", done_what))


def _check_links(r: _Reader, tasks: list[Task], ctx: dict[str, Any], units: dict[str, Unit]) -> None:
    """reported_with names another expanding task of the same owner; done_at_load names a unit."""
    by_id = {task.id: task for task in tasks}
    for task_id, host_id, where in ctx["reported_with"]:
        host = by_id.get(host_id)
        task = by_id.get(task_id)
        if host is None or host_id == task_id:
            r.problem(where, f"task '{task_id}'.reported_with: no other task '{host_id}'")
        elif not host.expands:
            r.problem(where, f"task '{task_id}'.reported_with: '{host_id}' has no items of its own to carry it")
        elif task is not None and task.owner != host.owner:
            r.problem(where, f"task '{task_id}'.reported_with: '{host_id}' is owned by {host.owner}, not {task.owner}")
    for by, where, what in ctx["done_by"]:
        if by not in units:
            r.problem(where, f"{what}.by: unknown unit '{by}'")


def _check_owner(r: _Reader, owner: str, where: Where, units: dict, groups: dict, roles: dict, primary: bool) -> None:
    if owner.startswith("group:"):
        if owner[6:] not in groups:
            r.problem(where, f"unknown group '{owner[6:]}'")
    elif owner.startswith("role:"):
        if not primary:
            r.problem(where, f"co-owner '{owner}': co-owners are units or groups")
        elif owner[5:] not in roles:
            r.problem(where, f"unknown role '{owner[5:]}' (declare it under roles:)")
    elif owner not in units:
        r.problem(where, f"unknown owner '{owner}' (a unit id, group:<id> or role:<role>)")


def _check_targets(r: _Reader, targets: list[tuple[str, Where]], units: dict, roles: dict) -> None:
    for target, where in targets:
        if target.startswith("unit:"):
            if target[5:] not in units:
                r.problem(where, f"escalation target: unknown unit '{target[5:]}'")
        elif target.startswith("role:"):
            if target[5:] not in roles:
                r.problem(where, f"escalation target: unknown role '{target[5:]}'")
        elif target not in roles:
            r.problem(where, f"bad escalation target '{target}' (a role in the owner's unit, or unit:<id>)")


def parse_catalog(text: str, path: str = "tasks_catalog.yaml") -> Catalog:
    """Validate catalog text; raise CatalogError listing every problem."""
    r = _Reader(path)
    try:
        doc = load_located(text, path)
    except YamlSyntaxError as error:
        raise CatalogError([Problem(error.where, error.message)]) from None
    top = r.mapping(doc, Where(path, 1, 1), "the catalog", TOP_KEYS, {"plan", "units", "tasks"})
    if top is None:
        raise CatalogError(r.problems)
    plan = _read_plan(r, top)
    roles = dict(BUILTIN_ROLES)
    for m, _ in _read_named(r, top, "roles", {"id", "name"}):
        roles[str(m["id"])] = r.text(m, "name", f"role '{m['id']}'")
    units = {}
    for m, _ in _read_named(r, top, "units", {"id", "name", "short", "kind"}):
        what = f"unit '{m['id']}'"
        units[str(m["id"])] = Unit(
            str(m["id"]), r.text(m, "name", what), r.text(m, "short", what), r.text(m, "kind", what)
        )
    raw_groups = {}
    for m, _ in _read_named(r, top, "groups", {"id", "name", "members"}):
        if str(m["id"]) in units:
            r.problem(m.value_where["id"], f"group id '{m['id']}' is also a unit id")
        raw_groups[str(m["id"])] = (m, [(str(v), w) for v, w in r.items(m, "members", "group")])
    groups = _resolve_members(r, raw_groups, units)
    if plan and plan.office and plan.office not in units:
        r.problem(top["plan"].value_where["office"], f"plan.office: unknown unit '{plan.office}'")
    targets: list[tuple[str, Where]] = []
    defaults = Policy()
    if "defaults" in top:
        m = r.mapping(top["defaults"], top.value_where["defaults"], "defaults", POLICY_KEYS, set())
        if m is not None:
            defaults = _read_policy(r, m, "defaults", defaults, targets)
    digest_to: list[str] = []
    if "digest" in top:
        m = r.mapping(top["digest"], top.value_where["digest"], "digest", {"to"}, {"to"})
        for value, where in r.items(m, "to", "digest") if m is not None else []:
            digest_to.append(str(value))
            targets.append((str(value), where))
    sections: dict[str, str] = {}
    if "sections" in top:
        value, where = top["sections"], top.value_where["sections"]
        if isinstance(value, dict) and all(isinstance(v, str) and v.strip() for v in value.values()):
            sections = {str(k): str(v).strip() for k, v in value.items()}
        else:
            r.problem(where, "sections: give each section's clause and title, e.g. 二（一）: 全面落实“四个不摘”要求")
    tasks: list[Task] = []
    if plan is not None:
        ctx = {"plan": plan, "defaults": defaults, "targets": targets, "owners": [], "reported_with": [],
               "done_by": [], "graces": []}
        seen: dict[str, Where] = {}
        for index, (value, where) in enumerate(r.items(top, "tasks", "tasks")):
            m = r.mapping(value, where, f"tasks[{index}]", TASK_KEYS, {"id", "ref", "title", "owner"})
            if m is None:
                continue
            task_id = str(m.get("id", ""))
            if task_id in seen:
                r.problem(m.value_where["id"], f"duplicate task id '{task_id}' (first at line {seen[task_id].line})")
            elif CASEWORK_TASK_ID.match(task_id):
                r.problem(m.value_where["id"], f"task id '{task_id}' is reserved for items the office hands out or "
                                               "imports (assigned-N, problem-N); choose another id")
            elif "id" in m:
                seen[task_id] = m.value_where["id"]
            task = _read_task(r, m, where, index, ctx)
            if task is not None:
                tasks.append(task)
        for owner, where, primary in ctx["owners"]:
            _check_owner(r, owner, where, units, groups, roles, primary)
        _check_calendar(r, plan, top)
        _check_links(r, tasks, ctx, units)
        _check_graces(r, plan, ctx["graces"])
    _check_targets(r, targets, units, roles)
    if r.problems or plan is None:
        raise CatalogError(sorted(r.problems, key=lambda p: (p.where.line, p.where.col)))
    return Catalog(plan, defaults, units, groups, roles, tuple(tasks), tuple(digest_to), source=path,
                   sections=sections)


def _check_calendar(r: _Reader, plan: Plan, top: Located) -> None:
    from duban.workdays import CalendarCoverageError, WorkdayCalendar

    try:
        WorkdayCalendar(plan.workdays, plan.holidays, plan.extra_workdays).require(plan.start, plan.end)
    except CalendarCoverageError as error:
        plan_map = top["plan"]
        r.problem(plan_map.value_where.get("end", plan_map.where), f"plan: {error}")


def _check_graces(r: _Reader, plan: Plan, graces: list[tuple[date, int, Where, str]]) -> None:
    """A report grace must end in years the workday calendar knows."""
    from duban.workdays import CalendarCoverageError, WorkdayCalendar

    calendar = WorkdayCalendar(plan.workdays, plan.holidays, plan.extra_workdays)
    for last, grace, where, what in graces:
        try:
            calendar.require(plan.start, calendar.workday_after(last, grace))
        except (CalendarCoverageError, NotImplementedError) as error:
            r.problem(where, f"{what}.report_grace: {error}")


def load_catalog(path: str | Path) -> Catalog:
    """Read and validate a catalog file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError([Problem(Where(str(path), 1, 1), "no such file")]) from None
    except IsADirectoryError:
        raise CatalogError([Problem(Where(str(path), 1, 1), "is a folder, not a catalog file")]) from None
    except UnicodeDecodeError:
        raise CatalogError([Problem(Where(str(path), 1, 1), "not UTF-8 text")]) from None
    return parse_catalog(text, str(path))
