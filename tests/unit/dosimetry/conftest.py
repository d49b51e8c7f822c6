"""Fixtures of the dosimetry tests; this folder's helper module and the encode tests' CT
and SEG helpers are put on the import path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "encode"))   # the SR test's CT and SEG
sys.path.insert(0, str(Path(__file__).parent))

from dosimetry_cases import RegistrationCase, make_registration_case
from encode_synthetic_ct import SHAPE, Geometry, demo_segmentation, write_series


@pytest.fixture(scope="session")
def registration_case() -> RegistrationCase:
    """Planning CT, emission CT with a known rigid transform (see :mod:`dosimetry_cases`)."""
    return make_registration_case()


@pytest.fixture(scope="module")
def ct_series(tmp_path_factory: pytest.TempPathFactory):
    """The encode tests' axial CT series (volume, headers)."""
    return write_series(tmp_path_factory.mktemp("ct"), SHAPE, Geometry())


@pytest.fixture(scope="module")
def segmentation():
    """The encode tests' demo-label phantom with two lesions."""
    return demo_segmentation(SHAPE)
