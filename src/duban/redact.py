"""Keeping secrets out of what people read: channel URLs shown masked, sign-in tokens cut out of log text."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

# Schemes whose whole address is the secret: for Apprise's robot URLs the token or key is the host
# (dingtalk://TOKEN, wecombot://KEY, feishu://TOKEN), so showing "where" a robot is shows its key.
ADDRESS_IS_SECRET = frozenset({"dingtalk", "wecombot", "wxteams", "wechat", "wecom", "feishu", "lark", "workflows"})
# Query parameters that carry credentials in webhook and gateway URLs (?access_token=, ?key=, ...).
SECRET_PARAM = re.compile(r"(?i)^(access_?token|token|key|apikey|api_key|secret|password|passwd|pwd|sign_?secret|"
                          r"signature|accesskey\w*|secret_?key|auth\w*)$")
MASK = "***"
# A personal link's token: /login/<payload>.<signature> or /ics/<payload>.<signature>.ics (links.make_token),
# and a short link's code, /s/<code> (duban.shortlinks), which signs its person in just the same.
LINK_TOKEN = re.compile(r"(/(?:login|ics)/)[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+|(/s/)[2-9a-z]{8,32}\b")
ROBOT_URL = re.compile(r"(?i)\b(" + "|".join(sorted(ADDRESS_IS_SECRET)) + r")://[^\s'\"<>]+")
QUERY_SECRET = re.compile(r"(?i)([?&](?:access_?token|token|key|apikey|api_key|secret|password|signature)=)"
                          r"[^&\s'\"<>]+")


def mask(secret: str) -> str:
    """A secret shown so a person can tell which one it is, not use it: the first 4 characters of a long one."""
    return secret[:4] + MASK if len(secret) >= 16 else MASK


def url_secrets(url: str) -> list[str]:
    """The parts of a channel URL that are credentials: its password, a robot's whole address, secret parameters."""
    url = url.strip()
    parts = urlsplit(url)
    found = [parts.password or ""]
    if parts.scheme.lower() in ADDRESS_IS_SECRET or not parts.scheme:
        found += [parts.username or "", parts.netloc.rpartition("@")[2], *parts.path.split("/")]
        if not parts.scheme:
            found.append(url)  # not a URL at all: the whole setting may be a bare token
    found += [value for key, value in parse_qsl(parts.query, keep_blank_values=True) if SECRET_PARAM.match(key)]
    raw = [piece for piece in found if piece]
    return sorted({*raw, *(unquote(piece) for piece in raw)}, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    """`text` with each secret (3 characters or more) replaced by its mask."""
    for secret in sorted((s for s in secrets if len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, mask(secret))
    return text


def mask_url(url: str) -> str:
    """A channel URL fit to show: `dingtalk://abcd***`, `smtp://user:***@host:587?from=...`."""
    return scrub(url.strip(), url_secrets(url))


def _masked_match(match: re.Match[str]) -> str:
    url = match.group(0)
    bare = url.rstrip(":,.;)]")
    return mask_url(bare) + url[len(bare):]


def redact_links(text: str) -> str:
    """Log text with sign-in tokens, robot addresses and secret query parameters cut out."""
    text = LINK_TOKEN.sub(lambda match: (match.group(1) or match.group(2)) + MASK, text)
    text = ROBOT_URL.sub(_masked_match, text)
    return QUERY_SECRET.sub(r"\1" + MASK, text)
