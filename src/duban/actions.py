"""Closing the loop: sign for (签收), report done (办结), undo, verify (销号) or send back (退回), waive (免办).

Pure of web and CLI: callers pass a connection inside their own transaction, the acting person, the source
(web / cli / import) and `now`. The permission rules live here and nowhere else: the web pages, the CLI and
the Excel import all ask these functions. A refused action raises ActionRefused before it writes anything.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, insert, or_, select, true, update

from duban.directory import normalize_mobile
from duban.evidence import EvidenceStore, Upload
from duban.models import EventRow, EvidenceRow, GroupRow, OccurrenceRow, PersonRow, PlanRow, TaskRow, UnitRow
from duban.store import utc

KIND_LABELS = {"ack": "签收", "report": "报告办结", "undo": "撤回报告", "verify": "审核通过（销号）",
               "reject": "退回", "waive": "免办", "sync": "同步方案", "assign": "交办", "problem": "问题清单导入",
               "extend_request": "申请延期", "extend_grant": "同意延期", "extend_refuse": "不同意延期"}
STATE_NAMES = {"open": "待办", "acked": "已签收", "reported": "已报告办结，待销号", "verified": "已销号",
               "waived": "免办"}
SOURCE_NAMES = {"web": "网页", "cli": "命令行", "import": "台账导入", "sync": "同步", "flow": "自动"}
SOURCES = ("web", "cli", "import")
PENDING = ("open", "acked")
NOTE_MAX = 2000


class ActionRefused(ValueError):
    """An action that may not be taken; nothing changed. `code`: forbidden, not_found, conflict or invalid."""

    def __init__(self, message: str, code: str = "forbidden") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Actor:
    """A person as the rules see them."""

    plan_id: str
    id: str
    name: str
    unit_id: str
    roles: tuple[str, ...]
    office: bool
    leader: bool


@dataclass(frozen=True)
class Item:
    """An occurrence with the facts the rules need."""

    plan_id: str
    id: str
    task_id: str
    owner_kind: str
    owner_id: str
    unit_id: str
    state: str
    report_count: int
    times: int
    due: datetime
    archived: bool
    acked_at: datetime | None
    reported_at: datetime | None
    value: float | None
    target: dict[str, Any] | None
    co_units: frozenset[str] = field(default_factory=frozenset)
    reporter: str | None = None
    reporter_unit: str | None = None
    origin: str = "catalog"  # catalog | assigned (交办) | problem (问题清单): a problem closes only with evidence


@dataclass(frozen=True)
class Outcome:
    """What an accepted action did."""

    occurrence_id: str
    kind: str
    before: str
    after: str
    event_id: int
    late: bool = False

    @property
    def message(self) -> str:
        """One line for the person who acted."""
        extra = "（逾期）" if self.kind == "report" and self.late else ""
        return f"{KIND_LABELS[self.kind]}{extra}完成，当前状态：{STATE_NAMES.get(self.after, self.after)}"


# --- who is acting -------------------------------------------------------------------------------------------


def _actor(row: Any, office_unit: str | None) -> Actor:
    roles = tuple(r for r in row.roles.split(";") if r)
    return Actor(plan_id=row.plan_id, id=row.id, name=row.name, unit_id=row.unit_id, roles=roles,
                 office=bool(office_unit) and row.unit_id == office_unit, leader="leader" in roles)


def _office_unit(connection: Connection, plan_id: str) -> str | None:
    return connection.execute(select(PlanRow.office).where(PlanRow.id == plan_id)).scalar()


def actor_for(connection: Connection, *, plan_id: str, person_id: str) -> Actor:
    """The person with this id in the plan's directory (not archived), or ActionRefused(not_found)."""
    person, plan = PersonRow.__table__, PlanRow.__table__
    row = connection.execute(select(person, plan.c.office).join(plan, plan.c.id == person.c.plan_id).where(
        person.c.plan_id == plan_id, person.c.id == person_id, person.c.archived.is_(False))).first()
    if row is None:
        raise ActionRefused(f"通讯录中没有“{person_id}”这个人", "not_found")
    return _actor(row, row.office)


def find_actor(connection: Connection, *, plan_id: str, who: str) -> Actor:
    """A person named by id, email or mobile number, as the CLI and the Excel import take them."""
    person = PersonRow.__table__
    text = who.strip()
    mobile = normalize_mobile(text)  # the one reading of a mobile number, as `duban check` stores it
    rows = connection.execute(select(person).where(person.c.plan_id == plan_id, person.c.archived.is_(False)).where(
        or_(person.c.id == text, person.c.email == text, person.c.email == text.lower(),
            and_(person.c.mobile != "", person.c.mobile == (mobile or text))))).all()
    if not rows and "@" in text:
        rows = [r for r in connection.execute(select(person).where(
            person.c.plan_id == plan_id, person.c.archived.is_(False), person.c.email != "")).all()
                if r.email.casefold() == text.casefold()]
    if not rows:
        raise ActionRefused(f"通讯录中没有“{text}”（请写人员编号、邮箱或手机号）", "not_found")
    if len(rows) > 1:
        raise ActionRefused(f"“{text}”对应多人（{'、'.join(r.id for r in rows)}），请写人员编号", "invalid")
    return _actor(rows[0], _office_unit(connection, plan_id))


# --- what is acted on ----------------------------------------------------------------------------------------


def _groups(connection: Connection, plan_id: str) -> dict[str, frozenset[str]]:
    group = GroupRow.__table__
    rows = connection.execute(select(group.c.id, group.c.members).where(group.c.plan_id == plan_id))
    return {r.id: frozenset(m for m in r.members.split(";") if m) for r in rows}


def co_units(co_owners: str, groups: dict[str, frozenset[str]]) -> frozenset[str]:
    """The unit ids a task's co-owner list names (`unit` or `group:<id>`, ';'-joined)."""
    units: set[str] = set()
    for entry in (e for e in co_owners.split(";") if e):
        if entry.startswith("group:"):
            units |= groups.get(entry[6:], frozenset())
        elif ":" not in entry:
            units.add(entry)
    return frozenset(units)


def last_reporter(connection: Connection, *, plan_id: str, occurrence_id: str) -> str | None:
    """Who made the newest report of an occurrence."""
    event = EventRow.__table__
    return connection.execute(select(event.c.actor).where(
        event.c.plan_id == plan_id, event.c.occurrence_id == occurrence_id, event.c.kind == "report",
    ).order_by(event.c.id.desc()).limit(1)).scalar()


def load_item(connection: Connection, *, plan_id: str, occurrence_id: str) -> Item:
    """The occurrence with its task's co-owners and target, or ActionRefused(not_found)."""
    occ, task = OccurrenceRow.__table__, TaskRow.__table__
    row = connection.execute(
        select(occ, task.c.co_owners, task.c.target, task.c.origin)
        .join(task, and_(task.c.plan_id == occ.c.plan_id, task.c.id == occ.c.task_id))
        .where(occ.c.plan_id == plan_id, occ.c.id == occurrence_id)
    ).first()
    if row is None:
        raise ActionRefused(f"没有编号为“{occurrence_id}”的事项", "not_found")
    reporter = last_reporter(connection, plan_id=plan_id, occurrence_id=occurrence_id) if row.report_count else None
    reporter_unit = None if reporter is None else connection.execute(select(PersonRow.unit_id).where(
        PersonRow.plan_id == plan_id, PersonRow.id == reporter)).scalar()
    return Item(
        plan_id=row.plan_id, id=row.id, task_id=row.task_id, owner_kind=row.owner_kind, owner_id=row.owner_id,
        unit_id=row.unit_id, state=row.state, report_count=row.report_count, times=row.times, due=row.due,
        archived=row.archived, acked_at=row.acked_at, reported_at=row.reported_at, value=row.value,
        target=json.loads(row.target) if row.target else None,
        co_units=co_units(row.co_owners, _groups(connection, plan_id)) if row.co_owners else frozenset(),
        reporter=reporter, reporter_unit=reporter_unit, origin=row.origin,
    )


# --- the rules: who may see and do what (the one place) ------------------------------------------------------


def owns(actor: Actor, item: Item) -> bool:
    """The item is the person's own: their unit's, theirs personally, or their unit co-owns it."""
    if actor.plan_id != item.plan_id:
        return False
    mine = item.owner_id == actor.id if item.owner_kind == "person" else item.unit_id == actor.unit_id
    return mine or actor.unit_id in item.co_units


SUPERVISING_ROLES = ("head", "in_charge")  # escalations reach them over their unit's people's items


def supervises(actor: Actor, item: Item) -> bool:
    """A unit's head and in_charge read every item of their unit, their people's too (they hear of them)."""
    return (actor.plan_id == item.plan_id and item.unit_id == actor.unit_id
            and any(role in SUPERVISING_ROLES for role in actor.roles))


def may_see(actor: Actor, item: Item) -> bool:
    """Owners see their items, a unit's head and in_charge their unit's; the office and leaders everything."""
    return actor.plan_id == item.plan_id and (actor.office or actor.leader or owns(actor, item)
                                              or supervises(actor, item))


def may_undo(actor: Actor, item: Item) -> bool:
    """Owners take back their own side's report: a co-owner unit cannot take back the owner's, nor the reverse."""
    return owns(actor, item) and (item.reporter_unit is None or item.reporter_unit == actor.unit_id)


def may_verify(actor: Actor, item: Item) -> bool:
    """Only the supervising office verifies, sends back and waives."""
    return actor.plan_id == item.plan_id and actor.office


PERMISSION: dict[str, Callable[[Actor, Item], bool]] = {
    "ack": owns, "report": owns, "undo": may_undo, "verify": may_verify, "reject": may_verify, "waive": may_verify,
}
FORBIDDEN = {"ack": "只有责任单位（或本人）才能签收此事项", "report": "只有责任单位（或本人）才能报告办结",
             "undo": "只有报告人所在单位才能撤回报告", "verify": "只有督办室才能审核销号",
             "reject": "只有督办室才能退回报告", "waive": "只有督办室才能免办事项"}


def _state_allows(kind: str, item: Item) -> bool:
    if kind == "ack":
        return item.state == "open"
    if kind in ("report", "waive"):
        return item.state in PENDING
    if kind == "undo":
        return item.report_count > 0 and item.state in ("open", "acked", "reported")
    return item.state == "reported"  # verify, reject


def refusal(actor: Actor, item: Item, kind: str) -> ActionRefused | None:
    """Why `actor` may not take action `kind` on `item` now, or None when they may."""
    if not may_see(actor, item):
        return ActionRefused("这不是您单位的事项，您无权查看或办理", "forbidden")
    if not PERMISSION[kind](actor, item):
        return ActionRefused(FORBIDDEN[kind], "forbidden")
    if item.archived:
        return ActionRefused("此事项已从方案中撤下，不能再办理", "conflict")
    if not _state_allows(kind, item):
        state = STATE_NAMES.get(item.state, item.state)
        return ActionRefused(f"此事项当前状态为“{state}”，不能{KIND_LABELS[kind]}", "conflict")
    return None


def allowed(actor: Actor, item: Item) -> list[str]:
    """The actions `actor` may take on `item` now, in the order pages show them."""
    return [kind for kind in PERMISSION if refusal(actor, item, kind) is None]


def _co_owned_tasks(connection: Connection, actor: Actor) -> list[str]:
    task = TaskRow.__table__
    rows = connection.execute(select(task.c.id, task.c.co_owners).where(
        task.c.plan_id == actor.plan_id, task.c.co_owners != "")).all()
    groups = _groups(connection, actor.plan_id) if rows else {}
    return [r.id for r in rows if actor.unit_id in co_units(r.co_owners, groups)]


def owned_branches(connection: Connection, actor: Actor) -> list[ColumnElement[bool]]:
    """SQL for `owns`, as branches to OR (or to query one by one: each is served by one index,
    (plan_id, unit_id) or (plan_id, task_id), where SQLite without statistics would scan the plan for an OR)."""
    occ = OccurrenceRow.__table__
    # A person-owned occurrence carries its person's unit too, so both owner kinds are found by unit.
    branches = [and_(occ.c.plan_id == actor.plan_id, occ.c.unit_id == actor.unit_id,
                     or_(occ.c.owner_kind != "person", occ.c.owner_id == actor.id))]
    co_tasks = _co_owned_tasks(connection, actor)
    if co_tasks:
        branches.append(and_(occ.c.plan_id == actor.plan_id, occ.c.task_id.in_(co_tasks)))
    return branches


def visible_branches(connection: Connection, actor: Actor) -> list[ColumnElement[bool]]:
    """SQL for `may_see`, as branches to OR."""
    occ = OccurrenceRow.__table__
    if actor.office or actor.leader:
        return [and_(occ.c.plan_id == actor.plan_id, true())]
    branches = owned_branches(connection, actor)
    if any(role in SUPERVISING_ROLES for role in actor.roles):  # the unit's branch, person-owned items included
        branches[0] = and_(occ.c.plan_id == actor.plan_id, occ.c.unit_id == actor.unit_id)
    return branches


def owned_clause(connection: Connection, actor: Actor) -> ColumnElement[bool]:
    """SQL for `owns`: the same rule, for lists."""
    return or_(*owned_branches(connection, actor))


def visible_clause(connection: Connection, actor: Actor) -> ColumnElement[bool]:
    """SQL for `may_see`: the same rule, for lists."""
    return or_(*visible_branches(connection, actor))


# --- the actions ---------------------------------------------------------------------------------------------


def parse_figure(raw: str | float | None) -> float | None:
    """A reported figure from what people type: 93.5, 93.5%, ９３．５ (full-width), 1,200; None when blank."""
    if raw is None:
        return None
    if isinstance(raw, (int, float)):
        number = float(raw)
    else:
        text = unicodedata.normalize("NFKC", raw).strip().replace(",", "").removesuffix("%").strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            raise ActionRefused(f"数值“{raw}”不是数字（例如 93.5）", "invalid") from None
    if not math.isfinite(number):
        raise ActionRefused(f"数值“{raw}”不是有限的数字", "invalid")
    return number


def _note(text: str, required: str = "") -> str:
    text = (text or "").strip()
    if required and not text:
        raise ActionRefused(required, "invalid")
    if len(text) > NOTE_MAX:
        raise ActionRefused(f"说明太长（{len(text)} 字），请控制在 {NOTE_MAX} 字以内", "invalid")
    return text


def _check(connection: Connection, actor: Actor, occurrence_id: str, kind: str, source: str) -> Item:
    if source not in SOURCES:
        raise ValueError(f"unknown source '{source}'")
    item = load_item(connection, plan_id=actor.plan_id, occurrence_id=occurrence_id)
    problem = refusal(actor, item, kind)
    if problem is not None:
        raise problem
    return item


def _transition(connection: Connection, item: Item, after: str, now: datetime, **values: Any) -> None:
    """Move the occurrence on, only if nobody moved it since we read it (conditional UPDATE)."""
    occ = OccurrenceRow.__table__
    result = connection.execute(update(occ).where(
        occ.c.plan_id == item.plan_id, occ.c.id == item.id, occ.c.state == item.state,
        occ.c.report_count == item.report_count, occ.c.archived.is_(False),
    ).values(state=after, updated_at=utc(now), **values))
    if result.rowcount != 1:
        raise ActionRefused("此事项刚刚被他人办理，状态已变化，请刷新后再试", "conflict")


def _record(connection: Connection, item: Item, actor: Actor, *, kind: str, after: str, now: datetime,
            source: str, note: str = "", data: dict[str, Any] | None = None) -> int:
    result = connection.execute(insert(EventRow.__table__).values(
        plan_id=item.plan_id, occurrence_id=item.id, at=utc(now), actor=actor.id, source=source, kind=kind,
        before=item.state, after=after, note=note, data=json.dumps(data or {}, ensure_ascii=False, sort_keys=True)))
    return int(result.inserted_primary_key[0])


def _act(connection: Connection, item: Item, actor: Actor, kind: str, after: str, now: datetime, source: str,
         note: str = "", data: dict[str, Any] | None = None, **values: Any) -> Outcome:
    _transition(connection, item, after, now, **values)
    event_id = _record(connection, item, actor, kind=kind, after=after, now=now, source=source, note=note, data=data)
    return Outcome(item.id, kind, item.state, after, event_id, bool((data or {}).get("late")))


def ack(*, connection: Connection, actor: Actor, occurrence_id: str, now: datetime, source: str,
        note: str = "") -> Outcome:
    """签收: the owner says the item has reached them."""
    item = _check(connection, actor, occurrence_id, "ack", source)
    note = _note(note)
    return _act(connection, item, actor, "ack", "acked", now, source, note, acked_at=utc(now))


def report(
    *, connection: Connection, actor: Actor, occurrence_id: str, now: datetime, source: str, note: str = "",
    value: str | float | None = None, files: Sequence[Upload] = (), store: EvidenceStore | None = None,
    reported_at: datetime | None = None,
) -> Outcome:
    """办结: the owner reports the item done, with a note, the figure for a target, and evidence files.

    `reported_at` (default `now`, never later) decides on time or late; a task done `times` times a period
    is reported once per time and counts as done at the last one.
    """
    item = _check(connection, actor, occurrence_id, "report", source)
    note = _note(note, required="请写明整改措施" if item.origin == "problem" else "")
    if item.origin == "problem" and not files:
        raise ActionRefused("问题整改须附整改佐证材料（照片、文件等），请上传后再报告", "invalid")
    figure = parse_figure(value)
    if item.target and figure is None:
        target = item.target
        raise ActionRefused(f"请填写{target.get('metric', '完成数值')}（目标 {target.get('op', '')} "
                            f"{_number(target.get('value'))}{target.get('unit', '')}）", "invalid")
    when = utc(reported_at or now)
    if when > utc(now):
        raise ActionRefused("办结时间不能晚于现在", "invalid")
    if files and store is None:
        raise ValueError("report(files=...) needs the evidence store")
    count = item.report_count + 1
    complete = count >= item.times
    late = complete and when > utc(item.due)
    data: dict[str, Any] = {"count": count, "times": item.times, "late": late, "reported_at": when.isoformat()}
    if figure is not None:
        data["value"] = figure
        if item.target:
            data["met"] = _met(item.target, figure)
    if files:
        data["evidence"] = [{"name": f.name, "sha256": f.sha256, "size": f.size, "type": f.content_type}
                            for f in files]
    values: dict[str, Any] = {"report_count": count}
    if figure is not None:
        values["value"] = figure
    if complete:
        after = "reported"
        values["reported_at"] = when
    else:
        after = "acked"
    if item.acked_at is None:
        values["acked_at"] = when
    outcome = _act(connection, item, actor, "report", after, now, source, note, data, **values)
    for upload in files:
        store.put(upload)  # type: ignore[union-attr] - checked above
    if files:
        connection.execute(insert(EvidenceRow.__table__), [
            {"plan_id": item.plan_id, "occurrence_id": item.id, "event_id": outcome.event_id, "sha256": f.sha256,
             "name": f.name, "content_type": f.content_type, "size": f.size, "uploaded_by": actor.id, "at": utc(now)}
            for f in files])
    return outcome


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _met(target: dict[str, Any], figure: float) -> bool:
    goal = float(target.get("value", 0))
    return {">=": figure >= goal, "<=": figure <= goal, ">": figure > goal, "<": figure < goal,
            "==": figure == goal}.get(str(target.get("op", ">=")), True)


def _unreport(item: Item) -> dict[str, Any]:
    """The columns that take back the last report."""
    values: dict[str, Any] = {"report_count": item.report_count - 1}
    if item.state == "reported":
        values.update(reported_at=None, value=None)
    return values


def undo(*, connection: Connection, actor: Actor, occurrence_id: str, now: datetime, source: str,
         note: str = "") -> Outcome:
    """Take back the last report, while it is not yet verified; the item is open again."""
    item = _check(connection, actor, occurrence_id, "undo", source)
    note = _note(note)
    after = "open" if item.state == "reported" else item.state
    return _act(connection, item, actor, "undo", after, now, source, note, {"count": item.report_count - 1},
                **_unreport(item))


def verify(*, connection: Connection, actor: Actor, occurrence_id: str, now: datetime, source: str,
           note: str = "") -> Outcome:
    """销号: the office accepts the report; the item is closed. Nobody verifies their own report."""
    item = _check(connection, actor, occurrence_id, "verify", source)
    note = _note(note)
    if item.reporter == actor.id:
        raise ActionRefused("不能审核本人报告的事项，请由督办室其他同志审核", "forbidden")
    late = item.reported_at is not None and item.reported_at > item.due
    return _act(connection, item, actor, "verify", "verified", now, source, note, {"late": late},
                verified_at=utc(now))


def reject(*, connection: Connection, actor: Actor, occurrence_id: str, now: datetime, source: str,
           reason: str, base_url: str = "", quiet_hours: str = "off") -> Outcome:
    """退回: the office sends the report back with a reason; the item is open again and the reporter (and a
    person owner) is told on every channel they have; `base_url` puts a short link to the item in the notices,
    and an SMS made in `quiet_hours` (the reminders' setting, e.g. "21:00-08:00") waits for the morning."""
    item = _check(connection, actor, occurrence_id, "reject", source)
    reason = _note(reason, required="请写明退回原因")
    reporter = item.reporter
    outcome = _act(connection, item, actor, "reject", "open", now, source, reason,
                   {"reporter": reporter, "count": item.report_count - 1}, **_unreport(item))
    _tell_reporter(connection, item=item, actor=actor, reporter_id=reporter, reason=reason,
                   event_id=outcome.event_id, now=now, base_url=base_url, quiet_hours=quiet_hours)
    return outcome


def waive(*, connection: Connection, actor: Actor, occurrence_id: str, now: datetime, source: str,
          reason: str) -> Outcome:
    """免办: the office decides an occurrence need not be done (a reason is required)."""
    item = _check(connection, actor, occurrence_id, "waive", source)
    reason = _note(reason, required="请写明免办原因")
    return _act(connection, item, actor, "waive", "waived", now, source, reason, waived_at=utc(now))


ACTIONS: dict[str, Callable[..., Outcome]] = {"ack": ack, "report": report, "undo": undo, "verify": verify,
                                              "reject": reject, "waive": waive}


# --- telling the owner of a rejection ------------------------------------------------------------------------


def _tell_reporter(connection: Connection, *, item: Item, actor: Actor, reporter_id: str | None, reason: str,
                   event_id: int, now: datetime, base_url: str, quiet_hours: str) -> None:
    """Put the return notices (email and SMS, to the reporter and a person owner) in the outbox, in the same
    transaction: keyed by the return's event, so a return is told once."""
    from duban import outbox, returnnotice

    outbox.enqueue(connection=connection, notifications=returnnotice.return_notifications(
        connection, plan_id=item.plan_id, occurrence_id=item.id, task_id=item.task_id, owner_kind=item.owner_kind,
        owner_id=item.owner_id, reporter_id=reporter_id, actor_name=actor.name, reason=reason, event_id=event_id,
        now=now, base_url=base_url, quiet_hours=quiet_hours))


# --- history ---------------------------------------------------------------------------------------------------


def history(connection: Connection, *, plan_id: str, occurrence_id: str) -> list[dict[str, Any]]:
    """Every event of an occurrence, oldest first, with actor names and the evidence each report brought."""
    event, evidence, person = EventRow.__table__, EvidenceRow.__table__, PersonRow.__table__
    rows = connection.execute(select(event).where(
        event.c.plan_id == plan_id, event.c.occurrence_id == occurrence_id).order_by(event.c.at, event.c.id)).all()
    names = dict(connection.execute(select(person.c.id, person.c.name).where(
        person.c.plan_id == plan_id, person.c.id.in_(sorted({r.actor for r in rows})))).all()) if rows else {}
    units = sorted({r.actor for r in rows} - names.keys())
    if units:  # a unit acting as a whole (a ledger import, the demo): its name, never its id
        unit = UnitRow.__table__
        names.update({u.id: u.short or u.name for u in connection.execute(select(
            unit.c.id, unit.c.name, unit.c.short).where(unit.c.plan_id == plan_id, unit.c.id.in_(units)))})
    files: dict[int, list[dict[str, Any]]] = {}
    for r in connection.execute(select(evidence).where(evidence.c.plan_id == plan_id,
                                                       evidence.c.occurrence_id == occurrence_id)):
        files.setdefault(r.event_id, []).append(
            {"id": r.id, "name": r.name, "type": r.content_type, "size": r.size, "sha256": r.sha256})
    return [{
        "id": r.id, "at": r.at, "actor": r.actor, "actor_name": names.get(r.actor, r.actor), "source": r.source,
        "kind": r.kind, "kind_label": KIND_LABELS.get(r.kind, r.kind), "before": r.before, "after": r.after,
        "note": r.note, "data": json.loads(r.data or "{}"), "evidence": files.get(r.id, []),
    } for r in rows]
