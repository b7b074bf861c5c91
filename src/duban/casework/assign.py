"""交办: the office hands out an item of its own, to a unit or a group, with a deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection

from duban.actions import ActionRefused, Actor
from duban.casework.create import NewItem, create_items, short_title
from duban.casework.plan import PlanSetup, local_day, match_owner
from duban.controlchars import control_problem

FIELD_MAX = 200
NOTE_MAX = 2000


@dataclass(frozen=True)
class Assignment:
    """What the office typed: the form's or the command line's fields, unchecked."""

    title: str
    owner: str
    due: date
    ref: str = ""
    evidence: str = ""
    note: str = ""


def _line(value: str, field: str, label: str, required: bool = False) -> str:
    text = value.strip()
    if required and not text:
        raise ActionRefused(f"{field}：请填写{label}", "invalid")
    problem = control_problem(text)
    if problem:
        raise ActionRefused(f"{field}：{label}不能含换行或控制字符", "invalid")
    if len(text) > FIELD_MAX:
        raise ActionRefused(f"{field}：{label}太长（{len(text)} 字，至多 {FIELD_MAX} 字）", "invalid")
    return text


def check_due(setup: PlanSetup, due: date, today: date, field: str) -> None:
    """A deadline from today to the plan's end, or ActionRefused naming the field."""
    end = setup.catalog.plan.end
    if due < today:
        raise ActionRefused(f"{field}：完成时限 {due.isoformat()} 早于今天（{today.isoformat()}）", "invalid")
    if due > end:
        raise ActionRefused(f"{field}：完成时限 {due.isoformat()} 晚于方案结束日 {end.isoformat()}", "invalid")


def hand_out(connection: Connection, *, setup: PlanSetup, actor: Actor, assignment: Assignment, now: datetime,
             source: str) -> list[str]:
    """Hand out an item (only the office may); the new occurrence ids (one per unit of the owner)."""
    if not actor.office:
        raise ActionRefused("只有督办室才能交办事项", "forbidden")
    title = _line(assignment.title, "title", "事项名称", required=True)
    owner_text = _line(assignment.owner, "owner", "责任单位", required=True)
    owner = match_owner(setup, owner_text)
    if owner is None:
        raise ActionRefused(f"owner：没有名为“{owner_text}”的单位或单位组（写单位编号、全称或简称，"
                            "或 group:组编号）", "invalid")
    check_due(setup, assignment.due, local_day(setup, now), "due")
    note = assignment.note.strip()
    if len(note) > NOTE_MAX:
        raise ActionRefused(f"note：说明太长（{len(note)} 字，至多 {NOTE_MAX} 字）", "invalid")
    evidence = _line(assignment.evidence, "evidence", "佐证材料")
    item = NewItem(title=short_title(title), owner=owner, due=assignment.due, quote=title,
                   ref=_line(assignment.ref, "ref", "依据条款"), evidence=evidence, note=note, source="交办")
    return create_items(connection, setup=setup, origin="assigned", items=[item], actor=actor, now=now,
                        source=source)
