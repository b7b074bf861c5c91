"""The outbox: every notification is stored under a unique key before it is sent; dispatch claims rows atomically.

States: queued -> sending -> sent; a failed send goes to `failed` (error, attempt count, next try in
`not_before`) and, past the retry budget or on a permanent refusal, to `given_up`. A row left in
`sending` longer than the lease (a crashed dispatcher) is claimed again. Each claim stamps its rows with a
token of its own, and a row is marked only while it still carries that token, so a dispatcher whose claim
was taken over can never overwrite the new owner's outcome. A batch stops sending before its lease runs
out (leaving room for one send's timeout) and gives back what it did not send, so no other dispatcher
can claim a row while it may still be on the wire. Each channel is sent in its own thread, on its own
claims: a slow channel never holds another; a channel whose sender keeps a pool (SMTP's `connections`) sends on
that many connections at once, each on claims of its own and kept open from batch to batch. Time is a
parameter: `as_of` decides which queued rows are due (quiet hours hold SMS until morning), `now` stamps claims,
sends and retry times.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, bindparam, case, func, select, text, update

from duban.bulk import insert_new
from duban.models import PENDING_WHERE, NotificationRow
from duban.sending import Outgoing, SendError
from duban.store import utc

STATES = ("queued", "sending", "sent", "failed", "given_up")
LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 6
BACKOFF = timedelta(seconds=60)
BACKOFF_CAP = timedelta(hours=2)
SAFETY_SHARE = 0.1  # of the lease, kept free at its end for marking the last send (within the bounds below)
SAFETY_MIN, SAFETY_MAX = timedelta(seconds=0.2), timedelta(seconds=30)
TABLE = NotificationRow.__table__
log = logging.getLogger("duban.outbox")
COLUMNS = ("plan_id", "key", "person_id", "channel", "address", "subject", "body_text", "body_html", "data",
           "as_of", "created_at", "not_before")


def _json(data: Mapping[str, Any]) -> str:
    """A notification's data as JSON, keys sorted, Chinese as it is (orjson: a city's run writes 200,000 of them,
    a leader's listing every item of their roll-up lines; three times faster than the json module)."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def _row(notification: Mapping[str, Any]) -> dict[str, Any]:
    row = {name: notification.get(name, "") for name in COLUMNS}
    missing = [name for name in ("plan_id", "key", "person_id", "channel", "as_of") if not row[name]]
    if missing:
        raise ValueError(f"outbox: notification {notification.get('key', '?')} lacks {', '.join(missing)}")
    if not isinstance(row["data"], str):
        row["data"] = _json(row["data"] or {})
    row["as_of"] = utc(row["as_of"])
    row["created_at"] = utc(row["created_at"] or row["as_of"])
    row["not_before"] = utc(row["not_before"] or row["as_of"])
    row["state"], row["attempts"], row["last_error"] = "queued", 0, ""
    if notification.get("id") is not None:  # reserved beforehand (bulk.reserve_ids), rows pointing at it written first
        row["id"] = notification["id"]
    return row


def enqueue(*, connection: Connection, notifications: list[dict]) -> int:
    """Store notifications whose key is new; return how many were new. Anything queued is sent by dispatch."""
    return len(enqueue_ids(connection=connection, notifications=notifications))


def enqueue_ids(*, connection: Connection, notifications: list[dict]) -> dict[str, int]:
    """Like `enqueue`, returning the ids of the new rows by key."""
    if not notifications:
        return {}
    rows = [_row(n) for n in notifications]
    return dict(insert_new(connection, TABLE, rows, ("key", "id"), conflict=("key",)))


def _eligible(as_of: datetime, now: datetime, lease: timedelta):  # noqa: ANN202 - SQL expression
    c = TABLE.c
    return and_(text(PENDING_WHERE), case(
        (c.state == "queued", c.not_before <= utc(as_of)),
        (c.state == "failed", c.not_before <= utc(now)),
        else_=c.claimed_at < utc(now - lease),
    ))


def claim(
    *, engine: Engine, as_of: datetime, now: datetime, limit: int = 200, lease: timedelta = LEASE,
    channels: Iterable[str] | None = None,
) -> list[Outgoing]:
    """Atomically take up to `limit` due rows for this dispatcher, under a token unique to this claim (FOR UPDATE
    SKIP LOCKED on PostgreSQL; SQLite serializes the one UPDATE statement)."""
    c = TABLE.c
    token = uuid.uuid4().hex
    chosen = select(c.id).where(_eligible(as_of, now, lease))
    if channels is not None:
        chosen = chosen.where(c.channel.in_(list(channels)))
    chosen = chosen.order_by(c.id).limit(limit).with_for_update(skip_locked=True)
    statement = (update(TABLE).where(c.id.in_(chosen.scalar_subquery()))
                 .values(state="sending", claimed_at=utc(now), claim_token=token)
                 .returning(c.id, c.key, c.plan_id, c.person_id, c.channel, c.address, c.subject, c.body_text,
                            c.body_html, c.data, c.attempts))
    with engine.begin() as connection:
        rows = connection.execute(statement).all()
    result = [Outgoing(r.id, r.key, r.plan_id, r.person_id, r.channel, r.address, r.subject, r.body_text,
                       r.body_html, json.loads(r.data or "{}"), r.attempts, token, utc(now)) for r in rows]
    return sorted(result, key=lambda o: o.id)


def due_channels(*, engine: Engine, as_of: datetime, now: datetime, lease: timedelta = LEASE) -> list[str]:
    """The channels that have rows due now."""
    query = select(TABLE.c.channel).where(_eligible(as_of, now, lease)).distinct()
    with engine.connect() as connection:
        return sorted(connection.execute(query).scalars())


def _held(notification_id: int, token: str):  # noqa: ANN202 - SQL expression
    c = TABLE.c
    return and_(c.id == notification_id, c.state == "sending", c.claim_token == token)


# Built once: this runs for every message sent, and building the statement costs more than running it.
_SENT = (update(TABLE)
         .where(TABLE.c.id == bindparam("row_id"), TABLE.c.state == "sending",
                TABLE.c.claim_token == bindparam("held_by"))
         .values(state="sent", sent_at=bindparam("sent_time"), attempts=TABLE.c.attempts + 1, last_error="",
                 claim_token=None))


_SENT_MANY = (update(TABLE)
              .where(TABLE.c.id.in_(bindparam("row_ids", expanding=True)), TABLE.c.state == "sending",
                     TABLE.c.claim_token == bindparam("held_by"))
              .values(state="sent", sent_at=bindparam("sent_time"), attempts=TABLE.c.attempts + 1, last_error="",
                      claim_token=None))
# A dispatch step (one task run of a flow) claims batches for this long, then ends with the batch in hand: a task
# run per thousands of messages, not per batch (each costs Prefect's calls and the pool's connecting), and still one
# every few seconds to see in the UI and to retry on its own.
STEP_SECONDS = 20.0
MARK_GROUP = 50  # accepted messages marked sent in one UPDATE, at most ...
MARK_WAIT = timedelta(milliseconds=50)  # ... and at most this long after the previous mark


def mark_sent_many(*, engine: Engine, rows: list[Outgoing], now: datetime) -> int:
    """Record delivered notifications of one claim in one statement; how many were still held by it (the others
    were taken over by another dispatcher after the lease and are left to it)."""
    if not rows:
        return 0
    with engine.begin() as connection:
        done = connection.execute(_SENT_MANY, {"row_ids": [r.id for r in rows], "held_by": rows[0].token,
                                               "sent_time": utc(now)})
    return done.rowcount


def mark_sent(*, engine: Engine, notification_id: int, token: str, now: datetime) -> bool:
    """Record a delivered notification at once (so a crash right after cannot send it again). False when the claim
    was lost (another dispatcher took the row over after the lease): the row is then left to its new owner."""
    with engine.begin() as connection:
        done = connection.execute(_SENT, {"row_id": notification_id, "held_by": token, "sent_time": utc(now)})
    return done.rowcount == 1


def backoff(attempts: int, base: timedelta = BACKOFF) -> timedelta:
    """Wait before the next try: base, 2x, 4x, ... capped."""
    return min(base * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def mark_failed(
    *, engine: Engine, notification_id: int, token: str, attempts: int, error: str, now: datetime,
    permanent: bool = False, max_attempts: int = MAX_ATTEMPTS, base: timedelta = BACKOFF,
) -> str:
    """Record a failed try: `failed` with the next try after a backoff, or `given_up`. Returns the new state, or
    `lost` when the claim was lost (the row is left to the dispatcher that holds it now)."""
    tries = attempts + 1
    state = "given_up" if permanent or tries >= max_attempts else "failed"
    values: dict[str, Any] = {"state": state, "attempts": tries, "last_error": error[:500], "claim_token": None}
    if state == "failed":
        values["not_before"] = utc(now + backoff(tries, base))
    with engine.begin() as connection:
        done = connection.execute(update(TABLE).where(_held(notification_id, token)).values(**values))
    return state if done.rowcount == 1 else "lost"


def release(*, engine: Engine, rows: Iterable[Outgoing]) -> int:
    """Give back claimed rows that were not sent (the lease is ending): queued again, or failed as they were before
    the claim (with their retry time), ready for the next claim. Rows whose claim was lost are left alone."""
    by_token: dict[str, list[int]] = {}
    for row in rows:
        by_token.setdefault(row.token, []).append(row.id)
    c, given = TABLE.c, 0
    with engine.begin() as connection:
        for token, ids in by_token.items():
            given += connection.execute(
                update(TABLE).where(c.id.in_(ids), c.state == "sending", c.claim_token == token)
                .values(state=case((c.attempts > 0, "failed"), else_="queued"), claimed_at=None, claim_token=None)
            ).rowcount
    return given


def renew(*, engine: Engine, rows: list[Outgoing], now: datetime) -> bool:
    """Restart the lease of one claim's rows at `now` (the connection is open: its setup no longer counts against
    the lease). False unless this claim still holds every one of them (then nothing of it may be sent)."""
    c = TABLE.c
    with engine.begin() as connection:
        done = connection.execute(update(TABLE).where(c.id.in_([r.id for r in rows]), c.state == "sending",
                                                      c.claim_token == rows[0].token).values(claimed_at=utc(now)))
    return done.rowcount == len(rows)


REQUEUE_FROM = ("failed", "given_up")


def requeue(
    *, engine: Engine, now: datetime, states: Iterable[str] | None = None, ids: Iterable[int] | None = None,
    person_id: str | None = None, plan_id: str | None = None, channel: str | None = None,
) -> Counter:
    """Put failed or given-up rows back in the queue with a fresh retry budget, due at once (`now`); returns how many
    left each state. Refused (ValueError, nothing changed) without a selector, or naming an id that does not exist
    or is not failed or given up."""
    chosen_states = list(states) if states is not None else list(REQUEUE_FROM)
    wrong = [s for s in chosen_states if s not in REQUEUE_FROM]
    if wrong:
        raise ValueError(f"--state: '{wrong[0]}' rows cannot be put back (only {' or '.join(REQUEUE_FROM)})")
    wanted = sorted(set(ids or []))
    if states is None and not wanted and person_id is None:
        raise ValueError("say which rows to put back: --state given_up|failed, --id N or --person ID")
    c = TABLE.c
    query = select(c.id, c.state).where(c.state.in_(chosen_states)).with_for_update()
    if wanted:
        query = query.where(c.id.in_(wanted))
    for column, value in ((c.person_id, person_id), (c.plan_id, plan_id), (c.channel, channel)):
        if value is not None:
            query = query.where(column == value)
    with engine.begin() as connection:
        if wanted:
            _check_ids(connection, wanted, chosen_states)
        found = connection.execute(query).all()
        if found:
            connection.execute(update(TABLE).where(c.id.in_([r.id for r in found]), c.state.in_(chosen_states)).values(
                state="queued", attempts=0, claimed_at=None, claim_token=None,
                not_before=case((c.not_before > utc(now), utc(now)), else_=c.not_before)))
    return Counter(r.state for r in found)


def _check_ids(connection: Connection, wanted: list[int], states: list[str]) -> None:
    c = TABLE.c
    known = dict(connection.execute(select(c.id, c.state).where(c.id.in_(wanted))).all())
    missing = [n for n in wanted if n not in known]
    if missing:
        raise ValueError(f"--id {missing[0]}: no such notification")
    other = [n for n in wanted if known[n] not in states]
    if other:
        raise ValueError(f"--id {other[0]}: it is {known[other[0]]} (only {' or '.join(states)} rows are put back)")


@dataclass
class DispatchReport:
    """What one or more dispatch batches did."""

    claimed: int = 0
    batches: int = 0
    sent: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    given_up: Counter = field(default_factory=Counter)
    released: int = 0  # claimed, not sent, given back as the lease was ending
    lost: Counter = field(default_factory=Counter)  # rows whose claim another dispatcher had taken over
    errors: list[str] = field(default_factory=list)
    more: bool = False  # a connection stopped at its budget (time, batches), not for want of rows: some may be due

    def add(self, other: DispatchReport) -> None:
        """Fold another report into this one."""
        self.claimed += other.claimed
        self.batches += other.batches
        self.sent.update(other.sent)
        self.failed.update(other.failed)
        self.given_up.update(other.given_up)
        self.released += other.released
        self.lost.update(other.lost)
        self.errors += other.errors[: max(0, 20 - len(self.errors))]
        self.more = self.more or other.more

    @property
    def settled(self) -> int:
        """Rows whose fate this report recorded (sent, failed, given up, or found taken over)."""
        return sum(self.sent.values()) + sum(self.failed.values()) + sum(self.given_up.values()) + sum(
            self.lost.values())

    def summary(self) -> str:
        """One line for people."""
        def part(counter: Counter) -> str:
            return ", ".join(f"{channel} {n}" for channel, n in sorted(counter.items())) or "0"
        extra = f", {self.released} given back at the end of a lease" if self.released else ""
        extra += f", {sum(self.lost.values())} claim(s) lost to another dispatcher" if self.lost else ""
        return (f"sent {sum(self.sent.values())} ({part(self.sent)}), failed {sum(self.failed.values())}, "
                f"given up {sum(self.given_up.values())}{extra} in {self.batches} batch(es)")


def safety(lease: timedelta) -> timedelta:
    """The end of a lease kept free, to mark the last send before another dispatcher may claim its rows."""
    return min(max(lease * SAFETY_SHARE, SAFETY_MIN), SAFETY_MAX)


def send_budget(lease: timedelta) -> float:
    """The longest one send may take (seconds), so that a send started in time also ends inside the lease."""
    budget = (lease - safety(lease)).total_seconds() / 2
    if budget < 0.1:
        raise ValueError(f"send lease of {lease.total_seconds():g} s leaves no time to send "
                         f"(DUBAN_SEND_LEASE_SECONDS: make it at least 1)")
    return budget


def fit(sender: Any, lease: timedelta) -> float:
    """Cut the sender's timeout to the lease's send budget if it is longer; the timeout in force, in seconds."""
    current = getattr(sender, "send_timeout", None)
    if current is None:  # a sender that declares no timeout (a test double) is taken as instant
        return 0.0
    budget = send_budget(lease)
    if current > budget:
        log.info("%s: send timeout cut from %g s to %.2f s to fit the %g s send lease",
                 getattr(sender, "where", type(sender).__name__), current, budget, lease.total_seconds())
        sender.send_timeout = budget
    return float(sender.send_timeout)


def send_batch(
    *, engine: Engine, rows: list[Outgoing], senders: Mapping[str, Any], now: Callable[[], datetime],
    max_attempts: int = MAX_ATTEMPTS, base: timedelta = BACKOFF, lease: timedelta = LEASE,
) -> DispatchReport:
    """Send claimed rows, each channel in its own thread on one connection; accepted rows are marked sent within
    `MARK_WAIT` (in groups), a failure at once, and a channel stops before the claim's lease runs out, giving back
    what it did not send."""
    by_channel: dict[str, list[Outgoing]] = {}
    for row in rows:
        by_channel.setdefault(row.channel, []).append(row)
    report = DispatchReport(claimed=len(rows), batches=1)
    jobs = [lambda items=items: _send_channel(engine, items, _Session(senders.get(items[0].channel)), now, lease,
                                              max_attempts, base, keep_open=False) for items in by_channel.values()]
    for part in _in_threads(jobs):
        report.add(part)
    return report


def _in_threads(jobs: list[Callable[[], DispatchReport]]) -> list[DispatchReport]:
    """Run each job in its own thread (one channel, or one connection of a channel's pool, each) and wait for all;
    an exception in one is raised after."""
    if len(jobs) == 1:
        return [jobs[0]()]
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="duban-send") as pool:
        futures = [pool.submit(job) for job in jobs]
    return [future.result() for future in futures]


class _Session:
    """A sender and whether its connection is open: a pool's connection stays open from batch to batch."""

    def __init__(self, sender: Any) -> None:
        self.sender = sender
        self.open = False  # open() called and not closed since
        self.used = False  # open() called once: close() at the end, whatever happened between

    def close(self) -> None:
        if self.used:
            self.sender.close()
        self.open = self.used = False


def _send_channel(engine: Engine, rows: list[Outgoing], session: _Session, now: Callable[[], datetime],
                  lease: timedelta, max_attempts: int, base: timedelta, keep_open: bool) -> DispatchReport:
    """One claim's rows of one channel, on one connection (opened unless it is, closed unless `keep_open`), until
    done or the lease is ending."""
    report = DispatchReport()
    sender = session.sender

    def fail(row: Outgoing, error: SendError) -> None:
        _fail(engine, row, error, now(), report, max_attempts, base)

    if sender is None:
        for row in rows:
            fail(row, SendError(f"no sender for channel '{row.channel}'", permanent=True))
        return report
    timeout = timedelta(seconds=fit(sender, lease))
    opened = not session.open
    if opened:
        try:
            sender.open()
        except SendError as error:
            for row in rows:
                fail(row, error)
            return report
        except Exception as error:  # a channel that cannot even start fails its rows with its reason: none stranded
            log.warning("%s: cannot open the channel", rows[0].channel, exc_info=True)
            for row in rows:
                fail(row, SendError(f"cannot open the channel: {type(error).__name__}: {error}"))
            return report
        session.open = session.used = True
    try:
        deadline = None
        if rows[0].claimed_at is not None:
            started = rows[0].claimed_at
            if opened:  # connecting may have taken long: the lease restarts now, if this claim still holds it
                started = now()
                if not renew(engine=engine, rows=rows, now=started):
                    report.released += release(engine=engine, rows=rows)
                    return report
            deadline = started + lease - safety(lease) - timeout
        _send_rows(engine, rows, session, now, deadline, fail, report)
    finally:
        if not keep_open:
            session.close()
    return report


def _send_rows(engine: Engine, rows: list[Outgoing], session: _Session, now: Callable[[], datetime],
               deadline: datetime | None, fail: Callable[[Outgoing, SendError], None], report: DispatchReport) -> None:
    """Send one claim's rows in order, each accepted row marked sent at once; on a channel whose sender asks for it
    (`mark_in_groups`: SMTP, where a mark costs more than a send), in groups of `MARK_GROUP` at most `MARK_WAIT`
    apart, so a crash can send again only what the server accepted in the last `MARK_WAIT`. A failure, the lease's
    end and the batch's end mark what was accepted first."""
    sender = session.sender
    grouped = bool(getattr(sender, "mark_in_groups", False))
    refused: list[tuple[Outgoing, SendError]] = []  # 5xx refusals the rest of the batch decides
    accepted: list[Outgoing] = []  # taken by the server, not yet marked
    marked_at = now()

    def mark() -> bool:
        """Mark what was accepted; False if this claim lost rows to another dispatcher (then stop)."""
        nonlocal accepted, marked_at
        if not accepted:
            return True
        marked_at = now()
        held = mark_sent_many(engine=engine, rows=accepted, now=marked_at)
        channel, lost = accepted[0].channel, len(accepted) - held
        report.sent[channel] += held
        accepted = []
        if lost:
            report.lost[channel] += lost
            report.errors.append(f"{channel}: {lost} claim(s) lost while sending (they may arrive twice)")
        return not lost

    for index, row in enumerate(rows):
        if deadline is not None and now() > deadline:
            if mark():
                report.released += release(engine=engine, rows=rows[index:])
            break
        try:
            sender.send(row, now())
        except SendError as error:
            if error.refused and not error.permanent:
                refused.append((row, error))
                continue
            if not mark():
                break
            fail(row, error)
            if error.unreachable:  # the server does not answer: the rest of the batch tries again later
                for rest in rows[index + 1:]:
                    fail(rest, error)
                break
        except Exception as error:  # any fault building or sending one message fails that row alone, with its reason
            log.warning("%s %s: cannot build or send notification %s", row.channel, row.person_id, row.id,
                        exc_info=True)
            sender.close()  # its connection may be mid-message: the next row starts afresh
            session.open = False
            if not mark():
                break
            fail(row, SendError(f"cannot build or send: {type(error).__name__}: {error}", permanent=True))
        else:
            accepted.append(row)
            for earlier, error in refused:  # the server takes other messages: those refusals were about the address
                fail(earlier, SendError(str(error), permanent=True))
            refused = []
            if (not grouped or len(accepted) >= MARK_GROUP or now() - marked_at >= MARK_WAIT) and not mark():
                break  # the rest of this claim belongs to another dispatcher now
    else:
        mark()
    for row, error in refused:  # nothing accepted after them: the server may be refusing everyone, try again later
        fail(row, error)


def _fail(engine: Engine, row: Outgoing, error: SendError, now: datetime, report: DispatchReport,
          max_attempts: int, base: timedelta) -> None:
    state = mark_failed(engine=engine, notification_id=row.id, token=row.token, attempts=row.attempts,
                        error=str(error), now=now, permanent=error.permanent, max_attempts=max_attempts, base=base)
    counter = {"given_up": report.given_up, "failed": report.failed, "lost": report.lost}[state]
    counter[row.channel] += 1
    if len(report.errors) < 20:
        report.errors.append(f"{row.channel} {row.person_id}: {error}")


def pool(sender: Any, lease: timedelta) -> list[Any]:
    """The senders of a channel's pool, their timeout fitted to the lease: the configured number of connections
    (`connections`, from a sender that can `clone()` itself), else the one sender."""
    if sender is None:
        return [None]
    fit(sender, lease)
    size = getattr(sender, "connections", 1) if hasattr(sender, "clone") else 1
    return [sender, *(sender.clone() for _ in range(max(size, 1) - 1))]


def dispatch(
    *, engine: Engine, senders: Mapping[str, Any], as_of: datetime, now: Callable[[], datetime], batch: int = 200,
    lease: timedelta = LEASE, max_batches: int | None = None, max_attempts: int = MAX_ATTEMPTS,
    base: timedelta = BACKOFF, channels: Iterable[str] | None = None, seconds: float | None = None,
) -> DispatchReport:
    """Send everything due (on `channels`, or all), each channel in its own threads on its own claims, batch after
    batch until nothing is left to claim (or `max_batches` a connection). A channel whose sender keeps a pool (SMTP:
    `connections`) sends on that many connections at once, each on claims of its own and kept open from batch to
    batch. `seconds`: claim no new batch after this long (each connection sends the batch it holds, and at least one;
    what is left waits for the next call, the report's `more` says so)."""
    send_budget(lease)  # a lease too short to send in is refused before anything is claimed
    chosen = list(channels) if channels is not None else due_channels(engine=engine, as_of=as_of, now=now(),
                                                                         lease=lease)
    workers = [(channel, one) for channel in chosen for one in pool(senders.get(channel), lease)]
    until = None if seconds is None else time.monotonic() + seconds
    jobs = [lambda channel=channel, one=one: _channel_loop(
        engine, channel, one, as_of, now, batch, lease, max_batches, max_attempts, base, until)
        for channel, one in workers]
    total = DispatchReport()
    for part in _in_threads(jobs) if jobs else []:
        total.add(part)
    return total


def _channel_loop(engine: Engine, channel: str, sender: Any, as_of: datetime, now: Callable[[], datetime],
                  batch: int, lease: timedelta, max_batches: int | None, max_attempts: int, base: timedelta,
                  until: float | None = None) -> DispatchReport:
    total = DispatchReport()
    session = _Session(sender)
    try:
        while (max_batches is None or total.batches < max_batches) and (
                until is None or total.batches == 0 or time.monotonic() < until):
            rows = claim(engine=engine, as_of=as_of, now=now(), limit=batch, lease=lease, channels=[channel])
            if not rows:
                break
            part = _send_channel(engine, rows, session, now, lease, max_attempts, base, keep_open=True)
            part.claimed, part.batches = len(rows), 1
            total.add(part)
            if not part.settled:  # the lease ended before anything could be sent: leave it to the next run
                break
        else:  # the time or the batches ran out before the rows did
            total.more = True
    finally:
        session.close()
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
