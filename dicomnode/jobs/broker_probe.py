"""How full the Celery backend's broker queues are, read at each dashboard view or scrape."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from kombu import Connection

from dicomnode.jobs.celery_app import queue_names
from dicomnode.jobs.config import JobsConfig

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 2.0
"""Seconds a look at the broker may wait for a connection."""


@dataclass(frozen=True)
class QueueDepth:
    """One broker queue: messages ready for a worker, and workers consuming it."""

    name: str
    messages: int
    consumers: int


@dataclass(frozen=True)
class BrokerReport:
    """The broker's queues of this node (``up`` False: the broker could not be reached)."""

    up: bool
    queues: tuple[QueueDepth, ...] = field(default=())
    error: str | None = None
    """Why the broker could not be read (no password)."""


class BrokerProbe:
    """Reads the depth of the configuration's queues (passive declarations: nothing is
    created or changed on the broker).

    Parameters
    ----------
    config : JobsConfig
        ``broker_url`` and ``queue``.
    """

    def __init__(self, config: JobsConfig) -> None:
        self._url = config.broker_url
        self._queues = queue_names(config)

    def report(self) -> BrokerReport:
        """The depth of each queue now; a queue not declared yet counts as empty."""
        try:
            with Connection(self._url, connect_timeout=CONNECT_TIMEOUT_S) as connection:
                connection.ensure_connection(max_retries=1)
                depths = []
                for name in self._queues:
                    channel = connection.channel()
                    try:
                        _, messages, consumers = channel.queue_declare(name, passive=True)
                    except connection.channel_errors:  # not declared yet (404 closes it)
                        messages, consumers = 0, 0
                    finally:
                        channel.close()
                    depths.append(QueueDepth(name, int(messages), int(consumers)))
                return BrokerReport(up=True, queues=tuple(depths))
        except Exception as exc:  # any broker trouble is "down" on the dashboard
            error = f"{type(exc).__name__}: {exc}"
            log.warning("broker %s cannot be read: %s", connection_label(self._url), error)
            return BrokerReport(up=False, error=error)


def connection_label(url: str) -> str:
    """The broker URL without its password (for logs)."""
    return Connection(url).as_uri(include_password=False)
