"""A settable wall clock for tests of code that takes a ``now`` callable (audit log, outbox)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """A settable clock (timezone-aware UTC), starting at 2026-03-02 08:00."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self.now += timedelta(seconds=seconds)
