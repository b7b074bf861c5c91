"""`duban outbox` for people: states and channels in Chinese, recipients by name, times in the plan's zone.

Read only; the outbox's own rules (claims, retries) stay in duban.outbox."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, and_, func, select

from duban.models import NotificationRow, PersonRow, PlanRow
from duban.outbox import STATES

STATE_LABELS = {"queued": "待发送", "sending": "发送中", "sent": "已发送", "failed": "失败待重试", "given_up": "已放弃"}
CHANNEL_LABELS = {"email": "邮件", "sms": "短信", "dingtalk": "钉钉", "wecom": "企业微信", "feishu": "飞书"}
COLUMNS = [("id", "编号"), ("state", "状态"), ("channel", "渠道"), ("person_name", "收件人"), ("address", "地址"),
           ("attempts", "次数"), ("as_of", "生成于"), ("sent_at", "发出于"), ("subject", "主题"),
           ("last_error", "错误")]
FALLBACK_ZONE = ZoneInfo("Asia/Shanghai")


def check_state(state: str | None) -> str | None:
    """--state as given (an id, or its Chinese label), or one line saying what it takes."""
    if state is None or state in STATES:
        return state
    by_label = {label: key for key, label in STATE_LABELS.items()}
    if state in by_label:
        return by_label[state]
    raise ValueError(f"--state: unknown outbox state '{state}' (use {', '.join(STATES)}, "
                     f"or {'/'.join(STATE_LABELS.values())})")


def rows(engine: Engine, *, state: str | None = None, plan_id: str | None = None, person_id: str | None = None,
         limit: int | None = None) -> list[dict[str, Any]]:
    """Outbox rows, newest first, each with its recipient's name and its times in its plan's zone (aware)."""
    c, person = NotificationRow.__table__.c, PersonRow.__table__.c
    query = (select(c.id, c.plan_id, c.person_id, person.name.label("person_name"), c.channel, c.address, c.subject,
                    c.state, c.attempts, c.last_error, c.as_of, c.not_before, c.sent_at, c.key)
             .select_from(NotificationRow.__table__.outerjoin(
                 PersonRow.__table__, and_(person.plan_id == c.plan_id, person.id == c.person_id)))
             .order_by(c.id.desc()))
    for column, value in ((c.state, state), (c.plan_id, plan_id), (c.person_id, person_id)):
        if value is not None:
            query = query.where(column == value)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as connection:
        found = [dict(r._mapping) for r in connection.execute(query)]
        zones = {plan: ZoneInfo(tz) for plan, tz in connection.execute(select(PlanRow.id, PlanRow.timezone))}
    for row in found:
        zone = zones.get(row["plan_id"], FALLBACK_ZONE)
        row["person_name"] = row["person_name"] or row["person_id"]
        for key in ("as_of", "not_before", "sent_at"):
            row[key] = _local(row[key], zone)
    return found


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)


def for_people(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the table and the Chinese CSV show it: labels, minutes, the subject and error cut short."""
    return {**row, "state": STATE_LABELS.get(row["state"], row["state"]),
            "channel": CHANNEL_LABELS.get(row["channel"], row["channel"]),
            "as_of": _minute(row["as_of"]), "sent_at": _minute(row["sent_at"]),
            "subject": (row["subject"] or "")[:30], "last_error": (row["last_error"] or "")[:40]}


def for_programs(row: dict[str, Any]) -> dict[str, Any]:
    """A row for JSON and `--header en`: ids, ISO 8601 times with their offset."""
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def _minute(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


def summary(engine: Engine, *, plan_id: str | None = None, person_id: str | None = None) -> str:
    """`已发送 1418条（709人）  已放弃 2条（1人）`, or that the outbox holds nothing (for this person)."""
    c = NotificationRow.__table__.c
    query = select(c.state, func.count(), func.count(c.person_id.distinct())).group_by(c.state)
    for column, value in ((c.plan_id, plan_id), (c.person_id, person_id)):
        if value is not None:
            query = query.where(column == value)
    with engine.connect() as connection:
        found = {state: (messages, people) for state, messages, people in connection.execute(query)}
    if not found:
        return "发件箱里没有消息" + ("（此人）" if person_id else "")
    return "  ".join(f"{STATE_LABELS[s]} {found[s][0]}条（{found[s][1]}人）" for s in STATES if s in found)


def total(engine: Engine, *, plan_id: str | None = None) -> int:
    """How many messages the outbox holds (for the plan), whatever their state."""
    c = NotificationRow.__table__.c
    query = select(func.count()).select_from(NotificationRow.__table__)
    if plan_id is not None:
        query = query.where(c.plan_id == plan_id)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar() or 0)


def by_channel(engine: Engine, *, plan_id: str | None = None) -> str:
    """`sent: 邮件 6245条（709人），短信 6245条（709人）`: what went out, messages and people apart, per channel."""
    c = NotificationRow.__table__.c
    query = (select(c.channel, func.count(), func.count(c.person_id.distinct())).where(c.state == "sent")
             .group_by(c.channel).order_by(c.channel))
    if plan_id is not None:
        query = query.where(c.plan_id == plan_id)
    with engine.connect() as connection:
        found = connection.execute(query).all()
    parts = [f"{CHANNEL_LABELS.get(channel, channel)} {messages}条（{people}人）"
             for channel, messages, people in found]
    return "sent: " + ("，".join(parts) if parts else "没有消息")


@dataclass(frozen=True)
class Batch:
    """What the outbox gained past a row id: messages, people, messages per channel."""

    last_id: int
    messages: int = 0
    people: int = 0
    channels: tuple[tuple[str, int], ...] = ()

    def text(self) -> str:
        """`103人，206条（邮件 103，短信 103）`."""
        if not self.messages:
            return "没有新消息"
        channels = "，".join(f"{CHANNEL_LABELS.get(c, c)} {n}" for c, n in self.channels)
        return f"{self.people}人，{self.messages}条（{channels}）"


def new_since(engine: Engine, last_id: int, *, plan_id: str | None = None) -> Batch:
    """The outbox rows added after `last_id` (ids only grow), counted."""
    c = NotificationRow.__table__.c
    query = select(c.id, c.person_id, c.channel).where(c.id > last_id)
    if plan_id is not None:
        query = query.where(c.plan_id == plan_id)
    with engine.connect() as connection:
        found = connection.execute(query).all()
    if not found:
        return Batch(last_id)
    channels = Counter(row.channel for row in found)
    return Batch(max(row.id for row in found), len(found), len({row.person_id for row in found}),
                 tuple(sorted(channels.items())))


def last_id(engine: Engine) -> int:
    """The newest outbox row's id (0 when empty)."""
    with engine.connect() as connection:
        return int(connection.execute(select(func.max(NotificationRow.__table__.c.id))).scalar() or 0)
