"""Geometry of written series: every voxel's label is the phantom's label at the voxel's
patient position computed from the DICOM headers, whatever the orientation and order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
import pytest

from pipeline.synth import Phase
from pipeline.synth.spec import AXIAL_IOP, FEET_FIRST_IOP, PRONE_IOP, SeriesSpec, StudySpec
from pipeline.synth.study import StudyTruth, write_study

_C, _S = np.cos(np.deg2rad(20.0)), np.sin(np.deg2rad(20.0))
_OBLIQUE = ((_C, _S, 0.0), (0.0, 0.0, -1.0))  # a tilted coronal-like plane


@pytest.fixture(scope="module")
def oriented_study(tmp_path_factory: pytest.TempPathFactory) -> StudyTruth:
    zr = (-40.0, 40.0)
    series = (
        SeriesSpec(slice_thickness_mm=2.5, row_cosine=AXIAL_IOP[0],
                   column_cosine=AXIAL_IOP[1], z_range_mm=zr, description="standard"),
        SeriesSpec(slice_thickness_mm=2.5, row_cosine=PRONE_IOP[0], column_cosine=PRONE_IOP[1],
                   reversed_order=True, z_range_mm=zr, description="prone reversed"),
        SeriesSpec(slice_thickness_mm=5.0, row_cosine=FEET_FIRST_IOP[0],
                   column_cosine=FEET_FIRST_IOP[1], z_range_mm=zr, description="feet first"),
        SeriesSpec(phase=Phase.ARTERIAL, slice_thickness_mm=4.0, row_cosine=_OBLIQUE[0],
                   column_cosine=_OBLIQUE[1], matrix=48, pixel_spacing_mm=5.0,
                   z_range_mm=(-30.0, 30.0), description="oblique"),
    )
    out = tmp_path_factory.mktemp("synth_orient")
    return write_study(out, StudySpec(seed=13, series=series), volumes=False)


def _voxel_points(files: Sequence[pydicom.Dataset]
                  ) -> tuple[np.ndarray, list[pydicom.Dataset]]:
    """Patient positions (k, j, i, 3) of every pixel, slices sorted along the normal."""
    iop = np.array([float(v) for v in files[0].ImageOrientationPatient])
    row, col = iop[:3], iop[3:]
    normal = np.cross(row, col)
    ordered = sorted(files, key=lambda d: float(np.dot([float(v) for v in
                                                         d.ImagePositionPatient], normal)))
    dy, dx = (float(v) for v in ordered[0].PixelSpacing)
    j = np.arange(ordered[0].Rows)[:, None, None]
    i = np.arange(ordered[0].Columns)[None, :, None]
    pts = [np.array([float(v) for v in d.ImagePositionPatient]) + j * dy * col + i * dx * row
           for d in ordered]
    return np.stack(pts), ordered


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_labels_equal_phantom_at_header_positions(oriented_study: StudyTruth, index: int) -> None:
    entry = oriented_study.series[index]
    pts, files = _voxel_points([pydicom.dcmread(f) for f in
                                (oriented_study.out_dir / entry["folder"]).glob("*.dcm")])
    labels = np.load(oriented_study.out_dir / "truth" / "labels"
                     / f"{entry['series_instance_uid']}.npy")
    assert labels.shape == pts.shape[:3]
    _, expected = oriented_study.phantom.classify(pts.reshape(-1, 3))
    agree = float(np.mean(expected == labels.ravel()))
    assert agree > 0.999
    assert np.count_nonzero(labels) > 500
    numbers = [int(d.InstanceNumber) for d in files]
    if entry["reversed_order"]:
        assert numbers == sorted(numbers, reverse=True)
    else:
        assert numbers == sorted(numbers)


def test_the_same_patient_point_has_the_same_label_and_hu_in_every_axial_series(
        oriented_study: StudyTruth) -> None:
    phantom = oriented_study.phantom
    seen = []
    for entry in oriented_study.series[:3]:
        pts, files = _voxel_points([pydicom.dcmread(f) for f in
                                    (oriented_study.out_dir / entry["folder"]).glob("*.dcm")])
        flat = pts.reshape(-1, 3)
        # the voxel nearest to the portal bifurcation
        idx = int(np.argmin(np.linalg.norm(flat - phantom.liver.origin_mm, axis=1)))
        k, rest = divmod(idx, pts.shape[1] * pts.shape[2])
        j, i = divmod(rest, pts.shape[2])
        labels = np.load(oriented_study.out_dir / "truth" / "labels"
                         / f"{entry['series_instance_uid']}.npy")
        ds = files[k]
        hu = float(ds.pixel_array[j, i]) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        seen.append((tuple(np.round(flat[idx], 3)), int(labels[k, j, i]), hu))
    assert len({s[0] for s in seen}) == 1 and len({s[1] for s in seen}) == 1
    assert seen[0][1] == 10  # the bifurcation is portal vein
    assert all(s[2] > 120 for s in seen)  # enhanced portal vein in every series


def test_series_json_records_orientation(oriented_study: StudyTruth) -> None:
    entries = json.loads(Path(oriented_study.out_dir / "truth" / "series.json").read_text())
    assert entries[1]["orientation"] == [*PRONE_IOP[0], *PRONE_IOP[1]]
    assert entries[1]["reversed_order"] is True
    ds = pydicom.dcmread(next((oriented_study.out_dir / entries[1]["folder"]).glob("*.dcm")))
    assert ds.PatientPosition == "HFP"
