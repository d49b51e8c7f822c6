"""Retry timing of the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dicomnode.delivery.base import DeliveryStatus
from dicomnode.outbox.backoff import next_attempt_at, retry_delay_s
from dicomnode.outbox.config import OutboxConfig

NOW = datetime(2026, 3, 2, tzinfo=UTC)


def test_exponential_delay_with_cap() -> None:
    config = OutboxConfig(backoff_base_s=30, backoff_max_s=200)
    assert [retry_delay_s(config, n) for n in range(1, 6)] == [30, 60, 120, 200, 200]
    assert retry_delay_s(config, 10_000) == 200
    with pytest.raises(ValueError):
        retry_delay_s(config, 0)


@pytest.mark.parametrize(
    ("status", "sends", "expected"),
    [
        (DeliveryStatus.SUCCESS, 1, None),
        (DeliveryStatus.WARNING, 1, None),
        (DeliveryStatus.PERMANENT, 1, None),
        (DeliveryStatus.TRANSIENT, 1, NOW + timedelta(seconds=30)),
        (DeliveryStatus.TRANSIENT, 2, NOW + timedelta(seconds=60)),
        (DeliveryStatus.TRANSIENT, 3, None),
    ],
)
def test_next_attempt(status: DeliveryStatus, sends: int, expected: datetime | None) -> None:
    config = OutboxConfig(max_attempts=3, backoff_base_s=30)
    assert next_attempt_at(config, status, sends, NOW) == expected


def test_config_defaults_and_validation() -> None:
    config = OutboxConfig()
    assert (config.max_attempts, config.batch_size) == (8, 50)
    with pytest.raises(ValueError):
        OutboxConfig(backoff_base_s=100, backoff_max_s=10)
    with pytest.raises(ValueError):
        OutboxConfig(batch_size=0)
