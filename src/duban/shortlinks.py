"""Short links that fit in an SMS: `{base}/s/<code>`, a random code kept in a table with its person, purpose,
target and expiry; revocable. Calendar feeds use the same table (purpose "ics"). Time is a parameter.

A code is 10 characters from 30 (no 0/o/1/l/i/u): 30**10 ~ 6e14 codes, and a web client that misses too
often is refused for a while (`Guard`), so guessing one of the live codes is hopeless.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from duban.bulk import insert_rows
from duban.models import ShortLinkRow
from duban.store import utc

ALPHABET = "23456789abcdefghjkmnpqrstvwxyz"  # lower case and no look-alikes: typed from a phone's screen
_UNBIASED = 256 - 256 % len(ALPHABET)
_BYTE_TO_LETTER = bytes(ord(ALPHABET[byte % len(ALPHABET)]) for byte in range(256))
_BIASED = bytes(range(_UNBIASED, 256))  # dropped: keeping them would favour the alphabet's first letters
CODE_LENGTH = 10
MIN_CODE_LENGTH = 8
LOGIN_VALID_FOR = timedelta(days=14)
ICS_VALID_FOR = timedelta(days=400)
PURPOSES = ("login", "ics")


class ShortLinkError(ValueError):
    """A code that opens nothing: unknown, expired or revoked (the message is for the person holding it)."""


@dataclass(frozen=True)
class ShortLink:
    """What a live code stands for."""

    code: str
    plan_id: str
    person_id: str
    purpose: str
    target: str
    expires_at: datetime


def new_code(length: int = CODE_LENGTH) -> str:
    """A fresh random code (`secrets`, not `random`), uniform over the alphabet: random bytes below the largest
    multiple of its size, each taken modulo it (one call and one C-level translate per code: codes are made for
    every message a run queues)."""
    length = max(length, MIN_CODE_LENGTH)
    code = b""
    while len(code) < length:
        code += secrets.token_bytes(length + 8).translate(_BYTE_TO_LETTER, _BIASED)
    return code[:length].decode("ascii")


def well_formed(code: str) -> bool:
    """Whether `code` could be a code at all (judged before any database read)."""
    return MIN_CODE_LENGTH <= len(code) <= 32 and all(ch in ALPHABET for ch in code)


def url(base_url: str, code: str) -> str:
    """The short link for a code."""
    return f"{base_url.rstrip('/')}/s/{code}"


def rows_for(*, plan_id: str, person_ids: Iterable[tuple[str, str]], now: datetime, purpose: str = "login",
             target: str = "/", valid_for: timedelta = LOGIN_VALID_FOR) -> list[dict]:
    """Rows binding the given (code, person) pairs, ready for `insert(ShortLinkRow)`."""
    stamp = utc(now)
    return [{"code": code, "plan_id": plan_id, "person_id": person, "purpose": purpose, "target": target,
             "created_at": stamp, "expires_at": stamp + valid_for} for code, person in person_ids]


def bind(connection: Connection, rows: list[dict]) -> None:
    """Store codes made by `new_code` (inside the caller's transaction, beside what carries them)."""
    insert_rows(connection, ShortLinkRow.__table__, rows)


def create(connection: Connection, *, plan_id: str, person_id: str, now: datetime, purpose: str = "login",
           target: str = "/", valid_for: timedelta = LOGIN_VALID_FOR) -> str:
    """A new short code for one person and purpose."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown short-link purpose '{purpose}'")
    code = new_code()
    bind(connection, rows_for(plan_id=plan_id, person_ids=[(code, person_id)], now=now, purpose=purpose,
                              target=target, valid_for=valid_for))
    return code


def resolve(connection: Connection, code: str, *, now: datetime, purpose: str = "login") -> ShortLink:
    """The live link a code names; ShortLinkError when it is unknown, for another purpose, expired or revoked."""
    table = ShortLinkRow.__table__
    row = None
    if well_formed(code):
        row = connection.execute(select(table).where(table.c.code == code)).first()
    if row is None or row.purpose != purpose:
        raise ShortLinkError("链接无效，请核对短信中的链接")
    if row.revoked_at is not None:
        raise ShortLinkError("链接已停用，请使用新的提醒链接，或请督办室重新发送")
    if utc(now) >= _aware(row.expires_at):
        raise ShortLinkError("链接已过期，请联系督办室重新发送")
    return ShortLink(row.code, row.plan_id, row.person_id, row.purpose, row.target, _aware(row.expires_at))


def live_feed(connection: Connection, *, plan_id: str, person_id: str, now: datetime) -> str:
    """The person's calendar-feed code: the live one, or a new one when they have none (or revoked theirs)."""
    table = ShortLinkRow.__table__
    stamp = utc(now)
    rows = connection.execute(select(table.c.code, table.c.expires_at).where(
        table.c.plan_id == plan_id, table.c.person_id == person_id, table.c.purpose == "ics",
        table.c.revoked_at.is_(None)).order_by(table.c.created_at.desc())).all()
    for row in rows:
        if _aware(row.expires_at) - stamp > timedelta(days=30):  # a feed about to lapse is renewed in time
            return row.code
    return create(connection, plan_id=plan_id, person_id=person_id, now=now, purpose="ics", target="",
                  valid_for=ICS_VALID_FOR)


def revoke(connection: Connection, *, plan_id: str, person_id: str, now: datetime, purpose: str) -> int:
    """Revoke every live code of one person and purpose; how many."""
    table = ShortLinkRow.__table__
    result = connection.execute(update(table).where(
        table.c.plan_id == plan_id, table.c.person_id == person_id, table.c.purpose == purpose,
        table.c.revoked_at.is_(None)).values(revoked_at=utc(now)))
    return result.rowcount or 0


def revoke_feeds(connection: Connection, *, plan_id: str, person_id: str, now: datetime) -> int:
    """Stop every calendar feed of a person: the feed codes, and (by a revoked row recording the moment) the
    older signed feed links; how many codes were live."""
    live = revoke(connection, plan_id=plan_id, person_id=person_id, now=now, purpose="ics")
    bind(connection, [{**row, "revoked_at": utc(now)} for row in rows_for(
        plan_id=plan_id, person_ids=[(new_code(), person_id)], now=now, purpose="ics", target="",
        valid_for=timedelta(0))])
    return live


def revoked_since(connection: Connection, *, plan_id: str, person_id: str, purpose: str) -> datetime | None:
    """When the person last revoked their codes of this purpose (older signed feed links die with them)."""
    table = ShortLinkRow.__table__
    row = connection.execute(select(table.c.revoked_at).where(
        table.c.plan_id == plan_id, table.c.person_id == person_id, table.c.purpose == purpose,
        table.c.revoked_at.is_not(None)).order_by(table.c.revoked_at.desc()).limit(1)).first()
    return None if row is None else _aware(row.revoked_at)


def _aware(moment: datetime) -> datetime:
    return utc(moment) if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Guard:
    """Refuse a client that missed `limit` codes within `window` (per process; kept in memory, keyed by address)."""

    limit: int = 20
    window: timedelta = timedelta(minutes=10)
    misses: dict[str, deque[datetime]] = field(default_factory=dict)

    def blocked(self, client: str, now: datetime) -> bool:
        """Whether this client has missed too often lately."""
        recent = self._recent(client, now)
        return len(recent) >= self.limit

    def missed(self, client: str, now: datetime) -> None:
        """Count one miss against this client."""
        self._recent(client, now).append(now)
        if len(self.misses) > 10_000:  # many addresses: forget the quietest, keep memory bounded
            for key in [k for k, v in self.misses.items() if not v][:5_000]:
                del self.misses[key]

    def _recent(self, client: str, now: datetime) -> deque[datetime]:
        recent = self.misses.setdefault(client, deque())
        while recent and now - recent[0] > self.window:
            recent.popleft()
        return recent
