"""Sign-in without passwords: a personal link starts a server-side session; logging out ends it and the link."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from duban import shortlinks
from duban.links import LinkError, read_token
from duban.models import LinkUseRow, PersonRow, PlanRow, ShortLinkRow, WebSessionRow
from duban.store import utc

COOKIE = "duban_session"
LIFETIME = timedelta(days=14)
TOUCH_EVERY = timedelta(minutes=10)


class LoginRefused(Exception):
    """A link that does not sign anyone in; the message is for the person holding it."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Session:
    """A signed-in browser."""

    key: str
    plan_id: str
    person_id: str
    csrf: str
    link_nonce: str

    def csrf_ok(self, offered: str | None) -> bool:
        """Whether a form carried this session's CSRF token."""
        return bool(offered) and hmac.compare_digest(self.csrf.encode(), (offered or "").encode("utf-8", "replace"))


def _key(cookie: str) -> str:
    """Only the cookie's hash is stored: a copy of the table signs nobody in."""
    return hashlib.sha256(cookie.encode("utf-8", "replace")).hexdigest()


def lookup(engine: Engine, cookie: str | None, now: datetime) -> Session | None:
    """The live session a cookie names, or None (unknown, logged out or expired)."""
    if not cookie or len(cookie) > 200:
        return None
    table = WebSessionRow.__table__
    key = _key(cookie)
    with engine.connect() as connection:
        row = connection.execute(select(table).where(table.c.id == key)).first()
    stamp = utc(now)
    if row is None or row.ended_at is not None or row.expires_at <= stamp:
        return None
    if stamp - row.last_seen_at > TOUCH_EVERY:
        with engine.begin() as connection:
            connection.execute(update(table).where(table.c.id == key).values(last_seen_at=stamp))
    return Session(key, row.plan_id, row.person_id, row.csrf, row.link_nonce)


def sign_in(engine: Engine, *, secret: str, token: str, now: datetime, current: Session | None) -> tuple[str, Session]:
    """A new session (cookie value, session) for a genuine personal link; LoginRefused otherwise."""
    try:
        claims = read_token(secret=secret, token=token, now=now, purpose="login")
    except LinkError as error:
        raise LoginRefused(str(error), 403) from None
    with engine.begin() as connection:
        return _open(connection, plan_id=claims.plan_id, person_id=claims.person_id, nonce=claims.nonce,
                     expires=claims.expires, now=now, current=current)


def sign_in_short(engine: Engine, *, code: str, now: datetime, current: Session | None) -> tuple[str, Session, str]:
    """A new session for a live short link (cookie value, session, the page it lands on); LoginRefused otherwise."""
    with engine.begin() as connection:
        try:
            link = shortlinks.resolve(connection, code, now=now, purpose="login")
        except shortlinks.ShortLinkError as error:
            raise LoginRefused(str(error), 404) from None
        cookie, session = _open(connection, plan_id=link.plan_id, person_id=link.person_id, nonce=f"s:{link.code}",
                                expires=link.expires_at, now=now, current=current)
    return cookie, session, link.target


def _open(connection: Connection, *, plan_id: str, person_id: str, nonce: str, expires: datetime, now: datetime,
          current: Session | None) -> tuple[str, Session]:
    stamp = utc(now)
    person, plan, used = PersonRow.__table__, PlanRow.__table__, LinkUseRow.__table__
    if connection.execute(select(plan.c.id).where(plan.c.id == plan_id)).first() is None:
        raise LoginRefused("此链接所属的工作方案不在本系统中", 403)
    someone = connection.execute(select(person.c.name).where(
        person.c.plan_id == plan_id, person.c.id == person_id, person.c.archived.is_(False))).first()
    if someone is None:
        raise LoginRefused("此链接的持有人已不在通讯录中，请联系督办室", 403)
    if current is not None and (current.person_id, current.plan_id) != (person_id, plan_id):
        raise LoginRefused("此链接属于另一位同志。您已用自己的身份登录：如需换人，请先退出登录。", 403)
    use = connection.execute(select(used).where(used.c.nonce == nonce)).first()
    if use is not None and (use.revoked_at is not None or use.person_id != person_id):
        raise LoginRefused("此链接已在退出登录时失效，请使用新的提醒链接，或请督办室重新发送", 403)
    if use is None:
        try:
            with connection.begin_nested():
                connection.execute(insert(used).values(nonce=nonce, plan_id=plan_id, person_id=person_id,
                                                       purpose="login", first_used_at=stamp))
        except IntegrityError:
            pass  # the same link opened twice at once: both may sign in
    cookie = secrets.token_urlsafe(32)
    session = Session(_key(cookie), plan_id, person_id, secrets.token_urlsafe(24), nonce)
    connection.execute(insert(WebSessionRow.__table__).values(
        id=session.key, plan_id=session.plan_id, person_id=session.person_id, link_nonce=session.link_nonce,
        csrf=session.csrf, created_at=stamp, expires_at=min(stamp + LIFETIME, utc(expires) + LIFETIME),
        last_seen_at=stamp))
    return cookie, session


def sign_out(engine: Engine, session: Session, now: datetime) -> None:
    """End this session, every other session opened with the same link, and the link itself."""
    stamp = utc(now)
    table, used = WebSessionRow.__table__, LinkUseRow.__table__
    with engine.begin() as connection:
        connection.execute(update(table).where(table.c.id == session.key, table.c.ended_at.is_(None))
                           .values(ended_at=stamp))
        if session.link_nonce:
            connection.execute(update(table).where(table.c.link_nonce == session.link_nonce,
                                                   table.c.ended_at.is_(None)).values(ended_at=stamp))
            connection.execute(update(used).where(used.c.nonce == session.link_nonce, used.c.revoked_at.is_(None))
                               .values(revoked_at=stamp))
        if session.link_nonce.startswith("s:"):
            short = ShortLinkRow.__table__
            connection.execute(update(short).where(short.c.code == session.link_nonce[2:], short.c.revoked_at.is_(None))
                               .values(revoked_at=stamp))
