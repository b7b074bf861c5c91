"""Personal links: signed, expiring, bound to one person and one purpose. Time is a parameter."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta


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
    *, secret: str, person_id: str, plan_id: str, now: datetime, purpose: str = "login", valid_for: timedelta = timedelta(days=14)
) -> str:
    """A token for one person and one purpose, valid from `now` for `valid_for`."""
    if not secret:
        raise LinkError("no secret configured (set DUBAN_SECRET)")
    claims = {"p": person_id, "l": plan_id, "u": purpose, "e": int((now + valid_for).timestamp()), "n": secrets.token_hex(8)}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{payload}.{_sign(secret, payload)}"


def read_token(*, secret: str, token: str, now: datetime, purpose: str = "login") -> LinkClaims:
    """The claims of a genuine, unexpired token for `purpose`; LinkError otherwise."""
    payload, _, signature = token.partition(".")
    if not payload or not signature or not hmac.compare_digest(_sign(secret, payload), signature):
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
