"""A replay clock for the web pages: it starts at a given moment and runs on at the wall clock's pace."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime


class ReplayClock:
    """`start` plus the wall time passed since the clock was made; `wall` is the real clock (a parameter)."""

    def __init__(self, start: datetime, wall: Callable[[], datetime]) -> None:
        self.start = start
        self._wall = wall
        self._origin = wall()

    def __call__(self) -> datetime:
        """The replayed now."""
        return (self.start + (self._wall() - self._origin)).astimezone(UTC)
