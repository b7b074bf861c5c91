"""What dispatch hands a channel and what a channel raises: kept apart from the outbox (and the ORM) so that the
channels, and a command that only checks their settings, load without SQLAlchemy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Outgoing:
    """A claimed notification, ready for a channel; `token` and `claimed_at` name the claim that holds it."""

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
    token: str = ""
    claimed_at: datetime | None = None


class SendError(Exception):
    """A channel could not deliver. `permanent`: retrying cannot help (a refused address, a rejected template).
    `refused`: the server refused this message with a 5xx that may be about this address or about everything
    (a throttling provider); it is final only if the server accepts a later message of the same batch.
    `unreachable`: the server did not answer (or could not be reached): the rest of the batch waits too."""

    def __init__(self, message: str, permanent: bool = False, *, refused: bool = False,
                 unreachable: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.refused = refused
        self.unreachable = unreachable
