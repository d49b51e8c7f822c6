"""Failed-login throttling: counts per key within a sliding window."""

from __future__ import annotations

from twin_clock import Clock

from dicomnode.web.throttle import LoginThrottle


def test_blocks_after_max_failures_until_the_oldest_leaves_the_window(clock: Clock) -> None:
    throttle = LoginThrottle(max_failures=3, window_s=600, clock=clock)
    for _ in range(2):
        throttle.failed(["user:a", "address:1"])
        clock.advance(60)
    assert throttle.blocked_for_s(["user:a"]) == 0.0
    throttle.failed(["user:a", "address:1"])
    assert throttle.blocked_for_s(["user:a"]) == 600 - 120
    assert throttle.blocked_for_s(["user:b", "address:1"]) == 600 - 120
    assert throttle.blocked_for_s(["user:b", "address:2"]) == 0.0
    clock.advance(600 - 120)
    assert throttle.blocked_for_s(["user:a"]) == 0.0


def test_success_forgets_the_user_failures(clock: Clock) -> None:
    throttle = LoginThrottle(max_failures=2, window_s=600, clock=clock)
    throttle.failed(["user:a", "address:1"])
    throttle.succeeded(["user:a"])
    throttle.failed(["user:a", "address:1"])
    assert throttle.blocked_for_s(["user:a"]) == 0.0
    assert throttle.blocked_for_s(["address:1"]) > 0.0
