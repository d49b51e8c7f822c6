"""Fixtures of the encode unit tests: small synthetic CT series written with pydicom."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from encode_synthetic_ct import SHAPE, Geometry, demo_segmentation, write_series


@pytest.fixture(scope="module")
def ct_series(tmp_path_factory: pytest.TempPathFactory):
    """An axial CT series (volume, headers) with the default geometry."""
    return write_series(tmp_path_factory.mktemp("ct"), SHAPE, Geometry())


@pytest.fixture(scope="module")
def segmentation():
    """The demo-label phantom on :data:`SHAPE` with two lesions."""
    return demo_segmentation(SHAPE)
