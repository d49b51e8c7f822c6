"""Compressed transfer syntaxes (made with DCMTK) give the same volume as uncompressed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import JPEGLosslessSV1, JPEGLSLossless, RLELossless
from select_ctfactory import SeriesSpec, axial_slices, write_series

from pipeline.select.config import GeometryConfig, SelectionConfig
from pipeline.select.selector import select_series
from pipeline.select.volume import build_volume

pytestmark = pytest.mark.peers

TOOLS = {
    "jpeg_lossless": (["/usr/bin/dcmcjpeg", "+e1"], JPEGLosslessSV1),
    "jpeg_ls": (["/usr/bin/dcmcjpls"], JPEGLSLossless),
    "rle": (["/usr/bin/dcmcrle"], RLELossless),
}


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    paths = write_series(tmp_path_factory.mktemp("plain"), axial_slices(n=24),
                         SeriesSpec(description="Abdomen PV"), seed=5)
    return paths, build_volume(paths, GeometryConfig())


@pytest.mark.parametrize("syntax", sorted(TOOLS))
def test_compressed_volume_identical(plain, tmp_path, syntax):
    paths, reference = plain
    command, uid = TOOLS[syntax]
    out_dir = tmp_path / syntax
    out_dir.mkdir()
    compressed: list[Path] = []
    for p in paths:
        target = out_dir / p.name
        subprocess.run([*command, str(p), str(target)], check=True, capture_output=True,
                       timeout=60)
        compressed.append(target)
    assert dcmread(compressed[0], stop_before_pixels=True).file_meta.TransferSyntaxUID == uid
    assert compressed[0].stat().st_size < paths[0].stat().st_size
    volume = build_volume(compressed, GeometryConfig())
    np.testing.assert_array_equal(volume.hu, reference.hu)
    assert volume.sop_instance_uids == reference.sop_instance_uids
    assert volume.spacing_mm == reference.spacing_mm
    result = select_series([out_dir], SelectionConfig())
    assert result.chosen is not None
    np.testing.assert_array_equal(result.chosen.hu, reference.hu)
