"""Configuration of the outbox (delivery of a job's results to its destinations)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class OutboxConfig(BaseModel):
    """Retries, back-off and batching of result delivery."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(
        default=8,
        ge=1,
        description="Sends of one result to one destination before a transient failure "
        "dead-letters it (a permanent failure dead-letters at once).",
    )
    backoff_base_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds before the first retry; each further retry waits twice as long.",
    )
    backoff_max_s: float = Field(
        default=3600.0,
        gt=0,
        description="Upper limit, in seconds, of the wait between two retries.",
    )
    batch_size: int = Field(
        default=50,
        ge=1,
        description="Results sent to one destination in one batch (one association).",
    )
    poll_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between looks for due deliveries when nobody announced one.",
    )

    @model_validator(mode="after")
    def _max_not_below_base(self) -> OutboxConfig:
        if self.backoff_max_s < self.backoff_base_s:
            raise ValueError("outbox.backoff_max_s must not be below outbox.backoff_base_s")
        return self
