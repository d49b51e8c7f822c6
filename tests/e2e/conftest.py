"""Fixtures for the end-to-end tests: synthetic studies, Orthanc as the PACS, and the node
running as a real ``dicomnode serve`` subprocess that Orthanc pushes to and delivers back to.

Reused peers: Orthanc and PostgreSQL from ``tests/loopback_peers.py``, the ``dicomnode
serve`` runner from ``tests/integration/node/served_node.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# appended, not prepended: folders holding a conftest.py must not shadow the 'from conftest
# import' of the node tests (e2e_node, loopback_peers and served_node have unique names)
sys.path.append(str(Path(__file__).parent))
sys.path.append(str(Path(__file__).parents[1]))
sys.path.append(str(Path(__file__).parents[1] / "integration" / "node"))

from e2e_node import Study, load_study, start_node
from loopback_peers import OrthancPeer, free_port, postgres_database, require_postgres, run_orthanc
from served_node import ServedNode

from pipeline.synth import Phase
from pipeline.synth.spec import SeriesSpec, StudySpec
from pipeline.synth.study import write_study

PACS_AET = "PACS"
"""Orthanc's AE title: the node accepts it as a sender and sends results back to it."""
STUDY_SEED = 1
"""Seed of the synthetic studies (small profile: 7 series, 361 files, ~20 s to write)."""


@pytest.fixture(scope="session")
def multiphase_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    """A synthetic multi-phase study (small profile) with its exact ground truth."""
    root = tmp_path_factory.mktemp("multiphase")
    write_study(root, STUDY_SEED, "small")
    return load_study(root)


@pytest.fixture(scope="session")
def arterial_only_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    """A study holding a single thick (5 mm) arterial series: nothing the node may measure."""
    root = tmp_path_factory.mktemp("arterial")
    spec = StudySpec(seed=STUDY_SEED, series=(
        SeriesSpec(phase=Phase.ARTERIAL, slice_thickness_mm=5.0, description="Arterial 5mm"),))
    write_study(root, spec, volumes=False)
    return load_study(root)


@pytest.fixture
def pacs(tmp_path: Path) -> Iterator[OrthancPeer]:
    """Orthanc as the hospital PACS (fresh per test: the test asserts on what it holds)."""
    with run_orthanc(tmp_path / "orthanc", aet=PACS_AET, dicomweb=False) as peer:
        yield peer


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The node's audit database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.sqlite3'}"
        return
    require_postgres()
    with postgres_database() as url:
        yield url


@pytest.fixture
def node(tmp_path: Path, pacs: OrthancPeer, audit_url: str) -> Iterator[ServedNode]:
    """``dicomnode serve`` on ``audit_url``, wired to ``pacs``; stopped with SIGTERM after
    the test (before its database is dropped), which must end it cleanly."""
    served = start_node(tmp_path / "node", free_port(), pacs, audit_url)
    yield served
    assert served.stop() == 0, served.log_text()[-3000:]
