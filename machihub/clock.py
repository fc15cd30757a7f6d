"""Time source handed down from the composition root so tests can move time forward instead of sleeping."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def iso(self) -> str:
        return self.now().isoformat(timespec="microseconds")

    def advance(self, delta: timedelta) -> None:
        self.offset += delta
