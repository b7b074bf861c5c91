"""DingTalk and WeCom group robots: through Apprise (dingtalk://, wecombot://, or any Apprise URL),
or an http(s):// webhook that takes the robot's own JSON (a relay, or the robot's webhook URL itself)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from duban.redact import mask_url, scrub, url_secrets
from duban.sending import Outgoing, SendError


def robot_payload(channel: str, title: str, text: str) -> dict[str, Any]:
    """The markdown message body each robot's webhook expects."""
    if channel == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": f"**{title}**\n{text}"}}
    return {"msgtype": "markdown", "markdown": {"title": title, "text": f"### {title}\n{text}"}}


class RobotSender:
    """Posts group-robot messages; one Apprise object (or HTTP client) per batch."""

    def __init__(self, channel: str, url: str, timeout: float = 20.0) -> None:
        self.channel = channel
        self.url = url
        parts = urlsplit(url)
        self.direct = parts.scheme in ("http", "https")
        # A robot's token is its address: what people read (doctor, `duban outbox` errors) shows it masked.
        self.where = mask_url(f"{parts.scheme}://{parts.hostname or ''}")
        self._secrets = url_secrets(url)
        self.send_timeout = timeout  # one post, Apprise's pause between posts included; dispatch fits it to its lease
        self._client: Any = None

    @classmethod
    def from_url(cls, channel: str, url: str, setting: str = "dingtalk_url") -> RobotSender:
        """A sender for an Apprise URL or an http(s) webhook; a ValueError names the setting."""
        url = url.strip()
        scheme = urlsplit(url).scheme
        if scheme in ("http", "https"):
            return cls(channel, url)
        import apprise

        if not scheme or apprise.Apprise.instantiate(url) is None:
            raise ValueError(f"{setting}: '{scheme or url}' is not a robot URL Apprise knows "
                             f"(use dingtalk://TOKEN, wecombot://KEY, or an https:// webhook)")
        return cls(channel, url)

    def open(self) -> None:
        """Prepare the client, its timeouts within `send_timeout`."""
        t = self.send_timeout
        if self.direct:
            import httpx

            self._client = httpx.Client(timeout=httpx.Timeout(connect=t / 4, write=t / 4, read=t / 2, pool=t / 4),
                                        trust_env=False)
        else:
            import apprise

            self._client = apprise.Apprise()
            self._client.add(self.url)
            for plugin in self._client:
                # Apprise pauses between posts to one robot (DingTalk: 5.5 s); the pause counts against the budget
                plugin.request_rate_per_sec = min(plugin.request_rate_per_sec, t / 3)
                plugin.socket_connect_timeout = plugin.socket_read_timeout = (t - plugin.request_rate_per_sec) / 2

    def send(self, row: Outgoing, now: datetime) -> None:
        """Post one message to the group."""
        if self._client is None:
            self.open()
        if self.direct:
            self._post(row)
            return
        import apprise

        with apprise.LogCapture(level=apprise.logging.WARNING) as log:
            ok = self._client.notify(title=row.subject, body=row.body_text, body_format=apprise.NotifyFormat.MARKDOWN)
        if not ok:
            detail = " ".join(log.getvalue().split())[:300] or "not delivered"
            raise self._error(detail)

    def _error(self, detail: str, **kind: bool) -> SendError:
        """A failure that says where, with the robot's token (its address, or an echo of it) masked."""
        return SendError(scrub(f"{self.where}: {detail}", self._secrets), **kind)

    def _post(self, row: Outgoing) -> None:
        import httpx

        body = json.dumps(robot_payload(self.channel, row.subject, row.body_text), ensure_ascii=False)
        try:
            response = self._client.post(self.url, content=body.encode(),
                                         headers={"Content-Type": "application/json; charset=utf-8"})
        except httpx.TransportError as error:
            raise self._error(f"{type(error).__name__}: {error}", unreachable=True) from None
        except httpx.HTTPError as error:
            raise self._error(f"{type(error).__name__}: {error}") from None
        if response.status_code >= 300:
            raise self._error(f"HTTP {response.status_code}: {response.text[:200]}",
                              permanent=400 <= response.status_code < 500 and response.status_code != 429)
        try:
            answer = response.json()
        except ValueError:
            return
        code = answer.get("errcode", 0) if isinstance(answer, dict) else 0
        if code:
            raise self._error(f"errcode {code}: {answer.get('errmsg', '')}")

    def close(self) -> None:
        """Release the client."""
        if self.direct and self._client is not None:
            self._client.close()
        self._client = None
