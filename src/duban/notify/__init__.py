"""Channels: email over SMTP, SMS through a provider, DingTalk and WeCom group robots, and the local default.

Every sender has `open()` (a connection, kept from batch to batch), `send(row, now)` raising `SendError`, `close()`,
and `send_timeout`: the longest one `open()` or `send()` may take, in seconds, which dispatch shortens to fit its
lease. A sender with `clone()` and `connections` (SMTP) is sent on that many connections at once; one with
`mark_in_groups` has its accepted rows marked sent in groups.
Where nothing is configured, messages are written under `var/outbox/`: email to a Maildir, SMS and
robot messages to JSON-lines files, so a person can open them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from duban.config import Settings
from duban.sending import Outgoing, SendError

__all__ = ["SendError", "Sender", "describe", "local_senders", "outbox_dir", "senders"]


class Sender(Protocol):
    """What dispatch needs from a channel."""

    channel: str
    send_timeout: float  # seconds; dispatch may lower it so that one send always ends inside the claim's lease

    def open(self) -> None:
        """Connect (dispatch opens it once and keeps it across its batches)."""

    def send(self, row: Outgoing, now: Any) -> None:
        """Deliver one notification or raise SendError."""

    def close(self) -> None:
        """Disconnect."""


def outbox_dir(settings: Settings) -> Path:
    """Where the local default channels write: var/outbox/."""
    return settings.var_path / "outbox"


def local_senders(settings: Settings) -> dict[str, Sender]:
    """The embedded default: a Maildir for email, JSON-lines files for SMS and robots."""
    from duban.notify.local import JsonLinesSender, MaildirSender

    folder = outbox_dir(settings)
    return {
        "email": MaildirSender(folder / "maildir"),
        "sms": JsonLinesSender("sms", folder / "sms.jsonl"),
        "dingtalk": JsonLinesSender("dingtalk", folder / "robots.jsonl"),
        "wecom": JsonLinesSender("wecom", folder / "robots.jsonl"),
    }


def senders(settings: Settings, *, local: bool = False) -> dict[str, Sender]:
    """A sender per channel from the settings (DUBAN_SMTP_URL, DUBAN_SMS_URL, DUBAN_DINGTALK_URL,
    DUBAN_WECOM_URL or duban.toml); the local default for what is not configured, or for all with `local`.
    A setting that cannot be used raises ValueError naming it."""
    result = local_senders(settings)
    if local:
        return result
    if settings.smtp_url:
        from duban.notify.email import SmtpSender

        result["email"] = SmtpSender.from_url(settings.smtp_url, setting="smtp_url (DUBAN_SMTP_URL)")
    if settings.sms_url:
        from duban.notify.sms import sms_sender

        result["sms"] = sms_sender(settings.sms_url, setting="sms_url (DUBAN_SMS_URL)",
                                   templates_dir=settings.templates_dir)
    for channel, url, name in (("dingtalk", settings.dingtalk_url, "dingtalk_url (DUBAN_DINGTALK_URL)"),
                               ("wecom", settings.wecom_url, "wecom_url (DUBAN_WECOM_URL)")):
        if url:
            from duban.notify.robot import RobotSender

            result[channel] = RobotSender.from_url(channel, url, setting=name)
    return result


def describe(senders_by_channel: dict[str, Sender]) -> dict[str, str]:
    """Where each channel goes, passwords hidden, for people."""
    return {channel: getattr(sender, "where", type(sender).__name__) for channel, sender in senders_by_channel.items()}
