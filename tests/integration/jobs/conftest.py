"""Fixtures of the Celery backend tests: RabbitMQ on 127.0.0.1:5672 (guest/guest) and a
PostgreSQL database of the session (created, migrated, dropped afterwards).

When the broker cannot be reached the Debian ``rabbitmq-server`` service is started; if it
still cannot be reached the tests fail under ``CI=true`` and are skipped otherwise.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2]))

from celery_cluster import broker_reachable, start_debian_rabbitmq
from loopback_peers import postgres_database, require_postgres

from dicomnode.audit import migrate
from dicomnode.audit.engine import create_audit_engine


@pytest.fixture(scope="session")
def rabbitmq() -> None:
    """Make sure RabbitMQ answers on 127.0.0.1:5672 (start the Debian service if needed)."""
    if not broker_reachable():
        start_debian_rabbitmq()
        deadline = time.monotonic() + 60
        while not broker_reachable() and time.monotonic() < deadline:
            time.sleep(1)
    if not broker_reachable():
        message = "RabbitMQ on 127.0.0.1:5672 (guest/guest) cannot be reached"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL audit database for the session, dropped afterwards."""
    require_postgres()
    with postgres_database() as url:
        engine = create_audit_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url
