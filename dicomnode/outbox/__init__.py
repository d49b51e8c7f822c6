"""The outbox: delivery of a job's outputs to its destinations, with retries and dead letters."""

from dicomnode.outbox.outbox import Outbox

__all__ = ["Outbox"]
