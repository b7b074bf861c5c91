"""Telling owners that the office sent a report back (退回): one email and one SMS per person, on every channel
their contact has, keyed by the return's event so a return is told once. The SMS fits one message (70
characters) with a short link that signs the person in on the item's page."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from duban import shortlinks
from duban.links import item_path
from duban.models import PersonRow, PlanRow, TaskRow
from duban.notices import parse_quiet_hours, sms_not_before
from duban.store import utc

SMS_LIMIT = 70
TITLE_MAX = 12
SHORT_TITLE = 6  # the title's share before the reason gets its own


def recipients(*, owner_kind: str, owner_id: str, reporter_id: str | None) -> list[str]:
    """Who hears of a return: the reporter, and the owner too when the item is a person's own (a unit that
    reported as a whole is told through its liaisons, see `_unit_contacts`)."""
    people = [reporter_id] if reporter_id else []
    if owner_kind == "person" and owner_id not in people:
        people.append(owner_id)
    return people


def _cut(text: str, size: int) -> str:
    return text if len(text) <= size else text[: max(size - 1, 0)] + "…"


def sms_text(*, name: str, title: str, reason: str, link: str) -> str:
    """At most 70 characters: who, which item (a few characters of its title), why (as much as fits) and the
    link; what space is left goes back to the title, up to 12 characters. The link is never cut."""
    tail = f"，请补充后重报{link}" if link else "，请登录督办补充后重报"
    room = SMS_LIMIT - len(f"{name}：「」退回：") - len(tail)
    if room < SHORT_TITLE + 3:  # a long name or base URL: the item and the reason are on the page the link opens
        text = f"{name}：督办事项被退回{tail}"
        return text if len(text) <= SMS_LIMIT else f"{name}：督办退回{link}"
    short = _cut(title, SHORT_TITLE)
    why = _cut(" ".join(reason.split()), room - len(short))
    shown = _cut(title, min(TITLE_MAX, room - len(why)))
    return f"{name}：「{shown}」退回：{why}{tail}"


def _unit_contacts(connection: Connection, plan_id: str, unit_id: str) -> list[Any]:
    """A unit's liaisons (联络员), or its head when it has none: who hears for a unit that has no reporter."""
    person = PersonRow.__table__
    members = connection.execute(select(person).where(person.c.plan_id == plan_id, person.c.unit_id == unit_id,
                                                      person.c.archived.is_(False)).order_by(person.c.id)).all()
    for role in ("liaison", "head"):
        chosen = [m for m in members if role in m.roles.split(";")]
        if chosen:
            return chosen
    return []


def return_notifications(
    connection: Connection, *, plan_id: str, occurrence_id: str, task_id: str, owner_kind: str, owner_id: str,
    reporter_id: str | None, actor_name: str, reason: str, event_id: int, now: datetime, base_url: str = "",
    quiet_hours: str = "off",
) -> list[dict[str, Any]]:
    """Outbox rows for one return: email and SMS to each person told; short links bound when `base_url` is set;
    an SMS made in the quiet hours (e.g. "21:00-08:00", the setting reminders keep) waits for the morning."""
    person, task, plan = PersonRow.__table__, TaskRow.__table__, PlanRow.__table__
    told = recipients(owner_kind=owner_kind, owner_id=owner_id, reporter_id=reporter_id)
    people = connection.execute(select(person).where(person.c.plan_id == plan_id, person.c.id.in_(told))).all()
    if not people and owner_kind == "unit":  # reported by the unit as a whole (a ledger import): its contacts
        people = _unit_contacts(connection, plan_id, owner_id)
        told = [p.id for p in people]
    title = connection.execute(select(task.c.title).where(task.c.plan_id == plan_id,
                                                          task.c.id == task_id)).scalar() or task_id
    plan_title, zone = connection.execute(select(plan.c.title, plan.c.timezone).where(plan.c.id == plan_id)).one()
    stamp = utc(now)
    morning = utc(sms_not_before(now, parse_quiet_hours(quiet_hours), ZoneInfo(zone)))
    rows = []
    for who in sorted(people, key=lambda p: told.index(p.id)):
        for channel, address in (("email", who.email), ("sms", who.mobile)):
            if not address:
                continue
            link = ""
            if base_url:
                code = shortlinks.create(connection, plan_id=plan_id, person_id=who.id, now=now,
                                         target=item_path(occurrence_id))
                link = shortlinks.url(base_url, code)
            if channel == "email":
                subject = f"【督办退回】{title}"
                body = (f"{who.name}同志：\n您单位报告办结的“{title}”（编号 {occurrence_id}）已被{actor_name}退回，"
                        f"原因：{reason}\n请补充后重新报告{'：' + link if link else '。'}\n——{plan_title}督办室")
            else:
                subject, body = "", sms_text(name=who.name, title=title, reason=reason, link=link)
            rows.append({
                "plan_id": plan_id, "key": f"reject:{plan_id}:{occurrence_id}:{event_id}:{who.id}:{channel}",
                "person_id": who.id, "channel": channel, "address": address, "subject": subject,
                "body_text": body, "body_html": "",
                "data": json.dumps({"occurrence_id": occurrence_id, "event_id": event_id, "kind": "reject",
                                    "link": link, "sms_params": {"name": who.name, "count": "1", "overdue": "0",
                                                                 "first": title[:20], "due": "", "link": link}},
                                   ensure_ascii=False),
                "as_of": stamp, "created_at": stamp, "not_before": morning if channel == "sms" else stamp,
            })
    return rows
