"""Failed-login throttling of the dashboard's login form (per user name and per address)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

MAX_KEYS = 10_000
"""Keys kept before the ones without recent failures are dropped (bounds memory)."""


class LoginThrottle:
    """Refuses logins for a key (user name, client address) after too many recent failures.

    A key is blocked while ``max_failures`` of its failed logins lie within the last
    ``window_s`` seconds; it is free again when the oldest of them leaves the window. A
    successful login clears the failures of its keys. Kept in memory: a restart forgets.

    Parameters
    ----------
    max_failures : int
        Failed logins within the window that block a key.
    window_s : float
        The window, seconds.
    clock : callable
        Current time, timezone-aware UTC.
    """

    def __init__(self, max_failures: int, window_s: float,
                 clock: Callable[[], datetime]) -> None:
        self.max_failures = max_failures
        self.window = timedelta(seconds=window_s)
        self._clock = clock
        self._failures: dict[str, deque[datetime]] = {}

    def _recent(self, key: str) -> deque[datetime]:
        times = self._failures.get(key, deque())
        horizon = self._clock() - self.window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times

    def blocked_for_s(self, keys: Iterable[str]) -> float:
        """Seconds until every one of ``keys`` may try again (0 when none is blocked)."""
        now = self._clock()
        waits = [(times[-self.max_failures] + self.window - now).total_seconds()
                 for times in map(self._recent, keys) if len(times) >= self.max_failures]
        return max(waits, default=0.0)

    def failed(self, keys: Iterable[str]) -> None:
        """Count a failed login against each key."""
        now = self._clock()
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)
        if len(self._failures) > MAX_KEYS:  # many names tried: drop what left the window
            for key in list(self._failures):
                self._recent(key)

    def succeeded(self, keys: Iterable[str]) -> None:
        """Forget the failures of ``keys``."""
        for key in keys:
            self._failures.pop(key, None)
