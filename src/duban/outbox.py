"""The outbox: every notification is stored under a unique key before it is sent; dispatch claims rows atomically.

States: queued -> sending -> sent; a failed send goes to `failed` (error, attempt count, next try in
`not_before`) and, past the retry budget or on a permanent refusal, to `given_up`. A row left in
`sending` longer than the lease (a crashed dispatcher) is claimed again. Time is a parameter: `as_of`
decides which queued rows are due (quiet hours hold SMS until morning), `now` stamps claims, sends
and retry times.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from duban.models import NotificationRow
from duban.store import utc

STATES = ("queued", "sending", "sent", "failed", "given_up")
LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 6
BACKOFF = timedelta(seconds=60)
BACKOFF_CAP = timedelta(hours=2)
TABLE = NotificationRow.__table__
COLUMNS = ("plan_id", "key", "person_id", "channel", "address", "subject", "body_text", "body_html", "data",
           "as_of", "created_at", "not_before")


@dataclass(frozen=True)
class Outgoing:
    """A claimed notification, ready for a channel."""

    id: int
    key: str
    plan_id: str
    person_id: str
    channel: str
    address: str
    subject: str
    body_text: str
    body_html: str
    data: dict[str, Any]
    attempts: int


class SendError(Exception):
    """A channel could not deliver; `permanent` when retrying cannot help (a refused address)."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def _insert(connection: Connection):  # noqa: ANN202 - dialect-specific Insert
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(TABLE)


def _row(notification: Mapping[str, Any]) -> dict[str, Any]:
    row = {name: notification.get(name, "") for name in COLUMNS}
    missing = [name for name in ("plan_id", "key", "person_id", "channel", "as_of") if not row[name]]
    if missing:
        raise ValueError(f"outbox: notification {notification.get('key', '?')} lacks {', '.join(missing)}")
    if not isinstance(row["data"], str):
        row["data"] = json.dumps(row["data"] or {}, ensure_ascii=False, sort_keys=True)
    row["as_of"] = utc(row["as_of"])
    row["created_at"] = utc(row["created_at"] or row["as_of"])
    row["not_before"] = utc(row["not_before"] or row["as_of"])
    row["state"], row["attempts"], row["last_error"] = "queued", 0, ""
    return row


def enqueue(*, connection: Connection, notifications: list[dict]) -> int:
    """Store notifications whose key is new; return how many were new. Anything queued is sent by dispatch."""
    return len(enqueue_ids(connection=connection, notifications=notifications))


def enqueue_ids(*, connection: Connection, notifications: list[dict]) -> dict[str, int]:
    """Like `enqueue`, returning the ids of the new rows by key."""
    if not notifications:
        return {}
    rows = [_row(n) for n in notifications]
    statement = _insert(connection).on_conflict_do_nothing(index_elements=["key"]).returning(TABLE.c.key, TABLE.c.id)
    return {key: row_id for key, row_id in connection.execute(statement, rows)}


def _eligible(as_of: datetime, now: datetime, lease: timedelta):  # noqa: ANN202 - SQL expression
    c = TABLE.c
    return or_(
        and_(c.state == "queued", c.not_before <= utc(as_of)),
        and_(c.state == "failed", c.not_before <= utc(now)),
        and_(c.state == "sending", c.claimed_at < utc(now - lease)),
    )


def claim(
    *, engine: Engine, as_of: datetime, now: datetime, limit: int = 200, lease: timedelta = LEASE,
    channels: Iterable[str] | None = None,
) -> list[Outgoing]:
    """Atomically take up to `limit` due rows for this dispatcher (FOR UPDATE SKIP LOCKED on PostgreSQL;
    SQLite serializes the one UPDATE statement)."""
    c = TABLE.c
    chosen = select(c.id).where(_eligible(as_of, now, lease))
    if channels is not None:
        chosen = chosen.where(c.channel.in_(list(channels)))
    chosen = chosen.order_by(c.id).limit(limit).with_for_update(skip_locked=True)
    statement = (update(TABLE).where(c.id.in_(chosen.scalar_subquery()))
                 .values(state="sending", claimed_at=utc(now))
                 .returning(c.id, c.key, c.plan_id, c.person_id, c.channel, c.address, c.subject, c.body_text,
                            c.body_html, c.data, c.attempts))
    with engine.begin() as connection:
        rows = connection.execute(statement).all()
    result = [Outgoing(r.id, r.key, r.plan_id, r.person_id, r.channel, r.address, r.subject, r.body_text,
                       r.body_html, json.loads(r.data or "{}"), r.attempts) for r in rows]
    return sorted(result, key=lambda o: o.id)


def mark_sent(*, engine: Engine, notification_id: int, now: datetime) -> None:
    """Record a delivered notification at once (so a crash right after cannot send it again)."""
    with engine.begin() as connection:
        connection.execute(update(TABLE).where(TABLE.c.id == notification_id).values(
            state="sent", sent_at=utc(now), attempts=TABLE.c.attempts + 1, last_error=""))


def backoff(attempts: int, base: timedelta = BACKOFF) -> timedelta:
    """Wait before the next try: base, 2x, 4x, ... capped."""
    return min(base * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def mark_failed(
    *, engine: Engine, notification_id: int, attempts: int, error: str, now: datetime, permanent: bool = False,
    max_attempts: int = MAX_ATTEMPTS, base: timedelta = BACKOFF,
) -> str:
    """Record a failed try: `failed` with the next try after a backoff, or `given_up`. Returns the new state."""
    tries = attempts + 1
    state = "given_up" if permanent or tries >= max_attempts else "failed"
    values: dict[str, Any] = {"state": state, "attempts": tries, "last_error": error[:500]}
    if state == "failed":
        values["not_before"] = utc(now + backoff(tries, base))
    with engine.begin() as connection:
        connection.execute(update(TABLE).where(TABLE.c.id == notification_id).values(**values))
    return state


@dataclass
class DispatchReport:
    """What one or more dispatch batches did."""

    claimed: int = 0
    batches: int = 0
    sent: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    given_up: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def add(self, other: DispatchReport) -> None:
        """Fold another report into this one."""
        self.claimed += other.claimed
        self.batches += other.batches
        self.sent.update(other.sent)
        self.failed.update(other.failed)
        self.given_up.update(other.given_up)
        self.errors += other.errors[: max(0, 20 - len(self.errors))]

    def summary(self) -> str:
        """One line for people."""
        def part(counter: Counter) -> str:
            return ", ".join(f"{channel} {n}" for channel, n in sorted(counter.items())) or "0"
        return (f"sent {sum(self.sent.values())} ({part(self.sent)}), failed {sum(self.failed.values())}, "
                f"given up {sum(self.given_up.values())} in {self.batches} batch(es)")


def send_batch(
    *, engine: Engine, rows: list[Outgoing], senders: Mapping[str, Any], now: Callable[[], datetime],
    max_attempts: int = MAX_ATTEMPTS, base: timedelta = BACKOFF,
) -> DispatchReport:
    """Send claimed rows, one connection per channel; each row is marked as soon as its fate is known."""
    report = DispatchReport(claimed=len(rows), batches=1)
    by_channel: dict[str, list[Outgoing]] = {}
    for row in rows:
        by_channel.setdefault(row.channel, []).append(row)
    for channel, items in by_channel.items():
        sender = senders.get(channel)
        if sender is None:
            for row in items:
                _fail(engine, row, SendError(f"no sender for channel '{channel}'", permanent=True), now(),
                      report, max_attempts, base)
            continue
        try:
            sender.open()
        except SendError as error:
            for row in items:
                _fail(engine, row, error, now(), report, max_attempts, base)
            continue
        try:
            for row in items:
                try:
                    sender.send(row, now())
                except SendError as error:
                    _fail(engine, row, error, now(), report, max_attempts, base)
                else:
                    mark_sent(engine=engine, notification_id=row.id, now=now())
                    report.sent[channel] += 1
        finally:
            sender.close()
    return report


def _fail(engine: Engine, row: Outgoing, error: SendError, now: datetime, report: DispatchReport,
          max_attempts: int, base: timedelta) -> None:
    state = mark_failed(engine=engine, notification_id=row.id, attempts=row.attempts, error=str(error), now=now,
                        permanent=error.permanent, max_attempts=max_attempts, base=base)
    (report.given_up if state == "given_up" else report.failed)[row.channel] += 1
    if len(report.errors) < 20:
        report.errors.append(f"{row.channel} {row.person_id}: {error}")


def dispatch(
    *, engine: Engine, senders: Mapping[str, Any], as_of: datetime, now: Callable[[], datetime], batch: int = 200,
    lease: timedelta = LEASE, max_batches: int | None = None, max_attempts: int = MAX_ATTEMPTS,
    base: timedelta = BACKOFF, channels: Iterable[str] | None = None,
) -> DispatchReport:
    """Send everything due (on `channels`, or all), batch after batch, until nothing is left to claim."""
    total = DispatchReport()
    while max_batches is None or total.batches < max_batches:
        rows = claim(engine=engine, as_of=as_of, now=now(), limit=batch, lease=lease, channels=channels)
        if not rows:
            break
        total.add(send_batch(engine=engine, rows=rows, senders=senders, now=now, max_attempts=max_attempts,
                             base=base))
    return total


def pending(*, engine: Engine, as_of: datetime, now: datetime, lease: timedelta = LEASE,
            limit: int | None = None) -> list[dict[str, Any]]:
    """What dispatch would send now, without claiming anything (for --dry-run)."""
    c = TABLE.c
    query = select(c.id, c.person_id, c.channel, c.address, c.subject, c.state, c.attempts,
                   c.not_before).where(_eligible(as_of, now, lease)).order_by(c.id)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(query)]


def rows(*, engine: Engine, state: str | None = None, plan_id: str | None = None,
         limit: int | None = None) -> list[dict[str, Any]]:
    """Outbox rows for people to read, newest first."""
    if state is not None and state not in STATES:
        raise ValueError(f"--state: unknown outbox state '{state}' (use {', '.join(STATES)})")
    c = TABLE.c
    query = select(c.id, c.plan_id, c.person_id, c.channel, c.address, c.subject, c.state, c.attempts,
                   c.last_error, c.as_of, c.not_before, c.sent_at, c.key).order_by(c.id.desc())
    if state is not None:
        query = query.where(c.state == state)
    if plan_id is not None:
        query = query.where(c.plan_id == plan_id)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(query)]


def counts(*, engine: Engine) -> dict[str, int]:
    """How many rows are in each state."""
    with engine.connect() as connection:
        return dict(connection.execute(select(TABLE.c.state, func.count()).group_by(TABLE.c.state)).all())
