"""When to try a failed delivery again."""

from __future__ import annotations

from datetime import datetime, timedelta

from dicomnode.delivery.base import DeliveryStatus
from dicomnode.outbox.config import OutboxConfig


def retry_delay_s(config: OutboxConfig, failed_sends: int) -> float:
    """Seconds to wait after the ``failed_sends``-th failed send (1, 2, ...): exponential
    back-off ``base * 2**(n-1)``, capped at ``backoff_max_s``."""
    if failed_sends < 1:
        raise ValueError("failed_sends counts from 1")
    exponent = min(failed_sends - 1, 62)
    return float(min(config.backoff_max_s, config.backoff_base_s * 2.0**exponent))


def next_attempt_at(
    config: OutboxConfig, status: DeliveryStatus, sends_so_far: int, now: datetime
) -> datetime | None:
    """When to send again after a send that ended with ``status``; ``None`` means never.

    Parameters
    ----------
    config : OutboxConfig
        Retry policy.
    status : DeliveryStatus
        How the send ended.
    sends_so_far : int
        Sends since the entry was created or re-armed, this one included.
    now : datetime
        The current time.

    Returns
    -------
    datetime or None
        ``None`` when delivered, permanent (dead letter at once, no retry storm), or when
        the attempts are used up (dead letter); otherwise ``now`` plus the back-off.
    """
    if status.delivered or status is DeliveryStatus.PERMANENT:
        return None
    if sends_so_far >= config.max_attempts:
        return None
    return now + timedelta(seconds=retry_delay_s(config, sends_so_far))
