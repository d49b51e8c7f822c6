"""Liver coverage: heuristic before segmentation, edge check after it."""

from __future__ import annotations

import numpy as np
import pytest
from select_ctfactory import SeriesSpec, axial_slices, write_series

from pipeline.select.config import CoverageConfig, GeometryConfig, PhaseConfig
from pipeline.select.coverage import assess_coverage, coverage_after_segmentation
from pipeline.select.image_evidence import PlaneGeometry, liver_like_areas, measure_slices
from pipeline.select.phase import image_phase
from pipeline.select.volume import build_volume


def test_after_segmentation_reports_edges():
    lab = np.zeros((6, 10, 10), dtype=np.uint8)
    lab[0:3, 3:6, 3:6] = 1  # touches the first slice
    lab[2:4, 4:6, 4:6] = 2  # inside
    lab[5, 4, 4] = 3  # touches the last slice
    lab[2, 0, 5] = 4  # touches the in-plane edge
    messages = coverage_after_segmentation(lab, {"liver": 1, "couinaud_2": 2, "ivc": 3,
                                                 "hepatic_vein": 4})
    assert messages == [
        "liver (label 1): incomplete coverage, touches the first slice",
        "ivc (label 3): incomplete coverage, touches the last slice",
        "hepatic_vein (label 4): incomplete coverage, touches the in-plane edge of the field "
        "of view",
    ]
    assert coverage_after_segmentation(lab, [2]) == []
    assert coverage_after_segmentation(lab, [3]) == [
        "label 3: incomplete coverage, touches the last slice"
    ]


def _coverage(tmp_path, liver_z, n=40, z0=-100.0):
    slices = axial_slices(n=n, spacing=5.0, z0=z0)
    vol = build_volume(write_series(tmp_path, slices, SeriesSpec(liver_z=liver_z)),
                       GeometryConfig(min_slices=5))
    picks = np.unique(np.linspace(0, vol.shape[0] - 1, 12).round().astype(int))
    geom = PlaneGeometry((4.0, 4.0), vol.row_cosine, vol.column_cosine)
    _, hu = image_phase(measure_slices(vol.hu[picks], geom), PhaseConfig())
    assert hu is not None
    areas = liver_like_areas(vol.hu[picks], geom, (hu["liver"] - 25, hu["liver"] + 25))
    return assess_coverage(areas, 5.0 * (n - 1), cranial_last=True, config=CoverageConfig())


@pytest.mark.parametrize(
    ("liver_z", "status", "end"),
    [
        ((-60.0, 60.0), "complete", None),
        ((-60.0, 200.0), "incomplete", "cranial"),
        ((-200.0, 60.0), "incomplete", "caudal"),
    ],
)
def test_heuristic_on_phantom(tmp_path, liver_z, status, end):
    report = _coverage(tmp_path, liver_z)
    assert report.status == status
    if end:
        assert f"cut off at the {end} end" in report.evidence[-1]


def test_cranial_end_follows_the_normal():
    areas = [0.0, 500.0, 1000.0, 900.0]
    cranial_last = assess_coverage(areas, 200.0, cranial_last=True, config=CoverageConfig())
    cranial_first = assess_coverage(areas, 200.0, cranial_last=False, config=CoverageConfig())
    assert cranial_last.evidence[-1] == "liver appears cut off at the cranial end"
    assert cranial_first.evidence[-1] == "liver appears cut off at the caudal end"


def test_short_scan_is_incomplete(tmp_path):
    report = _coverage(tmp_path, (-60.0, 60.0), n=12, z0=-30.0)
    assert report.status == "incomplete" and "scan length" in report.evidence[0]
