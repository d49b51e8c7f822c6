"""A settable clock for tests of code that takes a ``now`` callable (audit log, outbox, login
throttle) or a monotonic one (completion timers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """A settable clock: wall time (timezone-aware UTC) starting at 2026-03-02 08:00, and a
    monotonic time in seconds starting at 1000; both move only with :meth:`advance`."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
        self.monotonic_s = 1000.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        """Monotonic time, s (a stand-in for :func:`time.monotonic`)."""
        return self.monotonic_s

    def advance(self, seconds: float) -> None:
        """Move both times forward by ``seconds``."""
        self.now += timedelta(seconds=seconds)
        self.monotonic_s += seconds
