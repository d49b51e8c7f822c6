"""Fixtures of the Celery backend tests: RabbitMQ on 127.0.0.1:5672 (guest/guest), Redis on
127.0.0.1:6379 (database 11) and a PostgreSQL database of the session (created, migrated,
dropped afterwards).

When a broker cannot be reached its Debian service (``rabbitmq-server``, ``redis-server``)
is started; if it still cannot be reached the tests fail under ``CI=true`` and are skipped
otherwise.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2]))

from celery_cluster import (
    REDIS_URL,
    broker_reachable,
    redis_reachable,
    start_debian_rabbitmq,
    start_redis,
)
from loopback_peers import postgres_database, require_peer, require_postgres

from dicomnode.audit import migrate
from dicomnode.audit.engine import create_audit_engine


@pytest.fixture(scope="session")
def rabbitmq() -> None:
    """Make sure RabbitMQ answers on 127.0.0.1:5672 (start the Debian service if needed)."""
    require_peer(
        broker_reachable,
        start_debian_rabbitmq,
        "RabbitMQ on 127.0.0.1:5672 (guest/guest) cannot be reached",
        wait_s=60.0,
    )


@pytest.fixture(scope="session")
def redis_broker() -> str:
    """Make sure Redis answers on 127.0.0.1:6379 (start it if needed); the broker URL."""
    require_peer(redis_reachable, start_redis, f"Redis at {REDIS_URL} cannot be reached", wait_s=30)
    return REDIS_URL


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL audit database for the session, dropped afterwards."""
    require_postgres()
    with postgres_database() as url:
        engine = create_audit_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url
