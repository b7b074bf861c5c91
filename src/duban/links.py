"""Personal links: signed, expiring, bound to one person and one purpose. Time is a parameter."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from duban.private import private_dir

LOGIN_VALID_FOR = timedelta(days=14)
ICS_VALID_FOR = timedelta(days=400)
MIN_SECRET_BYTES = 32  # HMAC-SHA256 keys shorter than its output are guessable offline from one link
MAKE_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


class LinkError(ValueError):
    """A link that is forged, expired, or for another purpose."""


@dataclass(frozen=True)
class LinkClaims:
    """What a valid token says."""

    person_id: str
    plan_id: str
    purpose: str
    expires: datetime
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())


def make_token(
    *, secret: str, person_id: str, plan_id: str, now: datetime, purpose: str = "login",
    valid_for: timedelta = LOGIN_VALID_FOR,
) -> str:
    """A token for one person and one purpose, valid from `now` for `valid_for`."""
    if not secret:
        raise LinkError("no secret configured (set DUBAN_SECRET)")
    claims = {"p": person_id, "l": plan_id, "u": purpose, "e": int((now + valid_for).timestamp()),
              "n": secrets.token_hex(8)}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{payload}.{_sign(secret, payload)}"


def read_token(*, secret: str, token: str, now: datetime, purpose: str = "login") -> LinkClaims:
    """The claims of a genuine, unexpired token for `purpose`; LinkError otherwise."""
    payload, _, signature = token.partition(".")
    genuine = _sign(secret, payload).encode()
    if not payload or not signature or not hmac.compare_digest(genuine, signature.encode("utf-8", "replace")):
        raise LinkError("链接无效（签名不符）")
    try:
        claims = json.loads(_unb64(payload))
        expires = datetime.fromtimestamp(int(claims["e"]), tz=now.tzinfo)
        result = LinkClaims(str(claims["p"]), str(claims["l"]), str(claims["u"]), expires, str(claims["n"]))
    except (ValueError, KeyError, TypeError):
        raise LinkError("链接无效（内容损坏）") from None
    if result.purpose != purpose:
        raise LinkError("链接用途不符")
    if now >= result.expires:
        raise LinkError("链接已过期，请联系督办室重新发送")
    return result


def secret_for(settings: Any) -> str:
    """The signing secret: Settings.secret (DUBAN_SECRET), else one generated once and kept in `var/secret`."""
    if settings.secret:
        return settings.secret
    path = Path(settings.var_dir) / "secret"
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    private_dir(path.parent)
    fresh = secrets.token_urlsafe(MIN_SECRET_BYTES)
    try:
        # O_EXCL: when two processes race, exactly one writes and both read the winner's secret.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(fresh + "\n")
    return fresh


def secret_problem(settings: Any) -> str | None:
    """Why the signing secret is too weak to sign links (under MIN_SECRET_BYTES), or None when it is strong."""
    where = "DUBAN_SECRET" if settings.secret else str(Path(settings.var_dir) / "secret")
    size = len(secret_for(settings).encode())
    if size >= MIN_SECRET_BYTES:
        return None
    return (f"{where} is {size} bytes: personal links need a secret of at least {MIN_SECRET_BYTES} bytes "
            f"(make one with {MAKE_SECRET})")


def require_strong_secret(settings: Any) -> None:
    """Refuse to serve sign-in links signed with a short secret: LinkError (a ValueError) says which and how to fix."""
    problem = secret_problem(settings)
    if problem:
        raise LinkError(problem)


def _read_secret(path: Path) -> str:
    for _ in range(50):
        text = path.read_text(encoding="ascii").strip()
        if text:
            return text
        time.sleep(0.01)  # another process created the file and is writing it right now
    raise LinkError(f"{path} is empty: delete it or set DUBAN_SECRET")


def login_url(
    *, settings: Any, person_id: str, plan_id: str, now: datetime, valid_for: timedelta = LOGIN_VALID_FOR,
    next_path: str = "",
) -> str:
    """A personal sign-in link, `{base_url}/login/{token}`, optionally landing on `next_path` (e.g. an item page)."""
    token = make_token(secret=secret_for(settings), person_id=person_id, plan_id=plan_id, now=now,
                       purpose="login", valid_for=valid_for)
    url = f"{settings.base_url.rstrip('/')}/login/{token}"
    return f"{url}?next={quote(next_path, safe='/')}" if next_path else url


def item_path(occurrence_id: str) -> str:
    """The web path of an occurrence's page, for `login_url(next_path=...)` and links in messages."""
    return "/item/" + quote(occurrence_id, safe="/")


def ics_url(*, settings: Any, person_id: str, plan_id: str, now: datetime, valid_for: timedelta = ICS_VALID_FOR) -> str:
    """A person's calendar feed (VTODOs of their occurrences), long-lived, read-only."""
    token = make_token(secret=secret_for(settings), person_id=person_id, plan_id=plan_id, now=now,
                       purpose="ics", valid_for=valid_for)
    return f"{settings.base_url.rstrip('/')}/ics/{token}.ics"
