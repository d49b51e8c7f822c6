"""Fixtures of the synthetic-study tests: one small study written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.synth.study import StudyTruth, write_study

STUDY_SEED = 2
"""A seed whose default study has all four phases, reversed series, lesions and a dose report."""


@pytest.fixture(scope="session")
def small_study(tmp_path_factory: pytest.TempPathFactory) -> StudyTruth:
    """The default small study of :data:`STUDY_SEED` with its exact volumes."""
    out: Path = tmp_path_factory.mktemp("synth_study")
    return write_study(out, STUDY_SEED, "small")
