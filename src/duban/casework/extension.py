"""延期: an owner asks for a later deadline with a reason; the office grants or refuses it. Both are events;
a grant moves the deadline (and its reminders) and keeps the first deadline in `original_due`."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from duban.actions import PENDING, ActionRefused, Actor, load_item, may_see, owns
from duban.casework.assign import check_due
from duban.casework.plan import PlanSetup, local_day, moved_deadline
from duban.models import EventRow, OccurrenceRow
from duban.store import utc

KINDS = ("extend_request", "extend_grant", "extend_refuse")
LABELS = {"extend_request": "申请延期", "extend_grant": "同意延期", "extend_refuse": "不同意延期"}
REASON_MAX = 2000


def pending_request(connection: Connection, *, plan_id: str, occurrence_id: str) -> dict[str, Any] | None:
    """The open extension request of an occurrence (asked, not yet decided): its event's id, until, reason, actor."""
    event = EventRow.__table__
    row = connection.execute(select(event).where(
        event.c.plan_id == plan_id, event.c.occurrence_id == occurrence_id, event.c.kind.in_(KINDS),
    ).order_by(event.c.id.desc()).limit(1)).first()
    if row is None or row.kind != "extend_request":
        return None
    data = json.loads(row.data or "{}")
    return {"event_id": row.id, "until": date.fromisoformat(data["until"]), "reason": row.note, "actor": row.actor,
            "at": row.at}


def _reason(text: str, required: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ActionRefused(required, "invalid")
    if len(text) > REASON_MAX:
        raise ActionRefused(f"理由太长（{len(text)} 字），请控制在 {REASON_MAX} 字以内", "invalid")
    return text


def _event(connection: Connection, *, plan_id: str, occurrence_id: str, actor: Actor, now: datetime, source: str,
           kind: str, state: str, note: str, data: dict[str, Any]) -> int:
    result = connection.execute(insert(EventRow.__table__).values(
        plan_id=plan_id, occurrence_id=occurrence_id, at=utc(now), actor=actor.id, source=source, kind=kind,
        before=state, after=state, note=note, data=json.dumps(data, ensure_ascii=False, sort_keys=True)))
    return int(result.inserted_primary_key[0])


def request_extension(connection: Connection, *, setup: PlanSetup, actor: Actor, occurrence_id: str, until: date,
                      reason: str, now: datetime, source: str) -> int:
    """延期申请: an owner asks for `until` as the new deadline; the request's event id."""
    item = load_item(connection, plan_id=actor.plan_id, occurrence_id=occurrence_id)
    if not may_see(actor, item):
        raise ActionRefused("这不是您单位的事项，您无权查看或办理", "forbidden")
    if not owns(actor, item):
        raise ActionRefused("只有责任单位才能申请延期", "forbidden")
    if item.archived or item.state not in PENDING:
        raise ActionRefused("此事项已办结或已撤下，不能申请延期", "conflict")
    reason = _reason(reason, "请写明延期理由")
    current = local_day(setup, item.due)
    if until <= current:
        raise ActionRefused(f"申请的新时限 {until.isoformat()} 须晚于现时限 {current.isoformat()}", "invalid")
    check_due(setup, until, local_day(setup, now), "until")
    if pending_request(connection, plan_id=item.plan_id, occurrence_id=item.id):
        raise ActionRefused("此事项已有待审批的延期申请", "conflict")
    return _event(connection, plan_id=item.plan_id, occurrence_id=item.id, actor=actor, now=now, source=source,
                  kind="extend_request", state=item.state, note=reason,
                  data={"until": until.isoformat(), "due": current.isoformat()})


def decide_extension(connection: Connection, *, setup: PlanSetup, actor: Actor, occurrence_id: str, grant: bool,
                     note: str, now: datetime, source: str) -> int:
    """The office grants (the deadline moves to the requested day) or refuses (a reason is required)."""
    item = load_item(connection, plan_id=actor.plan_id, occurrence_id=occurrence_id)
    if not actor.office:
        raise ActionRefused("只有督办室才能审批延期申请", "forbidden")
    asked = pending_request(connection, plan_id=item.plan_id, occurrence_id=item.id)
    if asked is None:
        raise ActionRefused("此事项没有待审批的延期申请", "conflict")
    data = {"request": asked["event_id"], "until": asked["until"].isoformat(),
            "due": local_day(setup, item.due).isoformat()}
    if not grant:
        return _event(connection, plan_id=item.plan_id, occurrence_id=item.id, actor=actor, now=now, source=source,
                      kind="extend_refuse", state=item.state, note=_reason(note, "请写明不同意延期的理由"), data=data)
    if item.archived or item.state not in PENDING:
        raise ActionRefused("此事项已办结或已撤下，不能延期", "conflict")
    occ = OccurrenceRow.__table__
    period_start = connection.execute(select(occ.c.period_start, occ.c.original_due).where(
        occ.c.plan_id == item.plan_id, occ.c.id == item.id)).one()
    values = moved_deadline(setup, period_start=period_start[0], due_day=asked["until"])
    connection.execute(update(occ).where(occ.c.plan_id == item.plan_id, occ.c.id == item.id).values(
        original_due=period_start[1] or utc(item.due), updated_at=utc(now), **values))
    return _event(connection, plan_id=item.plan_id, occurrence_id=item.id, actor=actor, now=now, source=source,
                  kind="extend_grant", state=item.state, note=(note or "").strip()[:REASON_MAX], data=data)
