"""``jobs.backend: celery`` is accepted only with a PostgreSQL audit database."""

from __future__ import annotations

import pytest

from dicomnode.config import DicomNodeConfig
from dicomnode.jobs.celery_app import MAX_PRIORITY, NORMAL_PRIORITY, SMALL_PRIORITY, route
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
