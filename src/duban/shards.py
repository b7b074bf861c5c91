"""Splitting a plan's daily work between workers: by hashing recipients, or by owner group."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from sqlalchemy import Engine, select

SHAPE = re.compile(r"^(\d+)/(\d+)$")


@dataclass(frozen=True)
class Shard:
    """One worker's share: recipients whose hash falls in `index` of `count`, and/or one owner group's units."""

    index: int = 0
    count: int = 1
    units: frozenset[str] | None = None
    label: str = "all"

    def holds(self, person_id: str) -> bool:
        """Whether this shard writes and sends the message for this recipient."""
        return self.count == 1 or zlib.crc32(person_id.encode()) % self.count == self.index


def parse_shard(text: str | None, engine: Engine | None = None, plan_id: str = "") -> Shard:
    """`i/N` (0-based: 0/4 .. 3/4) or `group:<id>` (items owned by that group's units); None means everything."""
    if not text:
        return Shard()
    match = SHAPE.match(text.strip())
    if match:
        index, count = int(match.group(1)), int(match.group(2))
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"--shard {text}: write i/N with 0 <= i < N, e.g. 0/4")
        return Shard(index, count, label=text)
    if text.startswith("group:") and engine is not None:
        from duban.models import GroupRow

        with engine.connect() as connection:
            members = connection.execute(select(GroupRow.members).where(
                GroupRow.plan_id == plan_id, GroupRow.id == text[6:], GroupRow.archived.is_(False))).scalar()
        if members is None:
            raise ValueError(f"--shard {text}: plan {plan_id} has no group '{text[6:]}'")
        return Shard(units=frozenset(filter(None, members.split(";"))), label=text)
    raise ValueError(f"--shard {text}: write i/N (hash of recipients) or group:<id> (an owner group)")
