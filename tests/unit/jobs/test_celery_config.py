"""``jobs.backend: celery`` is accepted only with a PostgreSQL audit database."""

from __future__ import annotations

import pytest

from dicomnode.config import DicomNodeConfig
from dicomnode.jobs.celery_app import (
    MAX_PRIORITY,
    NORMAL_PRIORITY,
    SMALL_PRIORITY,
    broker_priority,
    create_celery_app,
    route,
    visibility_timeout_s,
)
from dicomnode.jobs.config import JobsConfig


def test_celery_is_refused_with_sqlite_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="needs a PostgreSQL audit database"):
        DicomNodeConfig(jobs={"backend": "celery"})


def test_celery_is_accepted_with_postgresql_and_local_stays_the_default() -> None:
    config = DicomNodeConfig(
        jobs={"backend": "celery"}, audit={"url": "postgresql+psycopg://u@db:5432/audit"}
    )
    assert config.jobs.backend == "celery"
    assert DicomNodeConfig().jobs.backend == "local"


def test_route_gives_small_studies_and_rushes_their_priorities() -> None:
    config = JobsConfig(queue="liver", small_study_instances=10)
    assert [route(config, n, 0)[1] for n in (10, 11)] == [SMALL_PRIORITY, NORMAL_PRIORITY]
    assert route(config, 500, MAX_PRIORITY)[1] == MAX_PRIORITY
    assert route(config, 500, 0)[0].name == "liver"


def test_redis_gets_a_visibility_timeout_beyond_the_job_and_turned_round_priorities() -> None:
    config = JobsConfig(broker_url="redis://127.0.0.1:6379/3", timeout_s=1800.0, lease_s=60.0)
    transport = create_celery_app(config).conf.broker_transport_options
    assert transport["visibility_timeout"] == visibility_timeout_s(config)
    assert visibility_timeout_s(config) > 1800.0 + 60.0
    assert transport["priority_steps"] == list(range(MAX_PRIORITY + 1))
    # Redis hands out its lowest number first: a rush, then a small study, then the others
    order = (MAX_PRIORITY, SMALL_PRIORITY, NORMAL_PRIORITY)
    numbers = [broker_priority(config.broker_url, p) for p in order]
    assert numbers == sorted(set(numbers)) and set(numbers) <= set(transport["priority_steps"])


def test_rabbitmq_keeps_its_priorities_and_confirms_publication() -> None:
    config = JobsConfig(broker_url="amqp://guest:guest@127.0.0.1:5672//")
    transport = create_celery_app(config).conf.broker_transport_options
    assert transport == {"confirm_publish": True}
    assert [broker_priority(config.broker_url, p) for p in (4, 6, 9)] == [4, 6, 9]
