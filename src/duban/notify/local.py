"""The embedded default channels: a Maildir for email, JSON-lines files for SMS and robot messages.

These files are the messages themselves, personal sign-in links included (they stand for the recipients'
mailboxes and phones), so they are created 0600 in 0700 folders; duban's logs and run reports never quote them."""

from __future__ import annotations

import json
import mailbox
import os
from datetime import datetime
from pathlib import Path

from duban.notify.email import message_bytes
from duban.private import FILE_MODE, append_private, private_dir
from duban.sending import Outgoing, SendError


class MaildirSender:
    """Email written to a Maildir (open it with any mail reader, or Python's `mailbox`)."""

    channel = "email"

    def __init__(self, path: Path, sender: str = "duban@localhost") -> None:
        self.path = Path(path)
        self.sender = sender
        self.where = f"Maildir {self.path}"
        self._box: mailbox.Maildir | None = None

    def open(self) -> None:
        """Create the Maildir if needed."""
        try:
            private_dir(self.path.parent)
            self._box = mailbox.Maildir(self.path, create=True)  # its folders are 0700
        except OSError as error:
            raise SendError(f"cannot open Maildir {self.path}: {error}") from None

    def send(self, row: Outgoing, now: datetime) -> None:
        """Add the message to the Maildir."""
        if self._box is None:
            self.open()
        try:
            key = self._box.add(message_bytes(row, sender=self.sender, now=now))
            os.chmod(self.path / "new" / key, FILE_MODE)  # mailbox writes 0666 less the umask; bytes land in new/
        except OSError as error:
            raise SendError(f"cannot write to Maildir {self.path}: {error}") from None

    def close(self) -> None:
        """Nothing to release."""
        self._box = None


class JsonLinesSender:
    """SMS or robot messages appended to a JSON-lines file, one object a line."""

    def __init__(self, channel: str, path: Path) -> None:
        self.channel = channel
        self.path = Path(path)
        self.where = f"file {self.path}"
        self._handle = None

    def open(self) -> None:
        """Open the file for appending."""
        try:
            private_dir(self.path.parent)
            self._handle = append_private(self.path)
        except OSError as error:
            raise SendError(f"cannot open {self.path}: {error}") from None

    def send(self, row: Outgoing, now: datetime) -> None:
        """Append one line and flush it (a crash right after must not lose it)."""
        if self._handle is None:
            self.open()
        line = {"at": now.isoformat(), "channel": row.channel, "key": row.key, "person": row.person_id,
                "to": row.address, "name": row.data.get("name", ""), "subject": row.subject, "text": row.body_text,
                "template_params": row.data.get("sms_params", {})}
        self._handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
