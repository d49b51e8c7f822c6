"""Geometry QA: each fault is a named reason; highdicom agrees on good and bad volumes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from highdicom.spatial import get_series_volume_positions, sort_datasets
from pydicom import dcmread
from select_ctfactory import SeriesSpec, axial_slices, with_changes, write_series

from pipeline.select.config import GeometryConfig
from pipeline.select.geometry import check_geometry, split_stacks
from pipeline.select.reasons import GeometryReason

CFG = GeometryConfig(min_slices=5)


def _headers(tmp_path, slices, **kw):
    paths = write_series(tmp_path, slices, SeriesSpec(**kw))
    return [dcmread(p, stop_before_pixels=True) for p in paths]


def _reasons(report):
    return {f.reason for f in report.findings}


def test_good_series_sorted_and_agrees_with_highdicom(tmp_path):
    slices = axial_slices(n=8, rows=16, columns=16)
    shuffled = [slices[i] for i in (3, 0, 7, 1, 5, 2, 6, 4)]
    ds = _headers(tmp_path, shuffled)
    report = check_geometry(ds, CFG)
    assert report.ok and report.findings == []
    z = [float(ds[i].ImagePositionPatient[2]) for i in report.order]
    assert z == sorted(z)
    spacing, _ = get_series_volume_positions(ds, index_convention="RD")
    assert spacing == pytest.approx(report.slice_spacing_mm)
    hd_sorted = sort_datasets(ds, index_convention="RD")
    assert [d.SOPInstanceUID for d in hd_sorted] == [ds[i].SOPInstanceUID for i in report.order]


def test_flipped_orientation_sorts_along_row_cross_column(tmp_path):
    # row cosine -x, column cosine +y -> normal -z: ascending along the normal is descending z
    iop = (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    slices = [replace(s, orientation=iop) for s in axial_slices(n=6, rows=16, columns=16)]
    ds = _headers(tmp_path, slices)
    report = check_geometry(ds, CFG)
    assert report.ok
    z = [float(ds[i].ImagePositionPatient[2]) for i in report.order]
    assert z == sorted(z, reverse=True)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("gap", GeometryReason.MISSING_SLICES),
        ("irregular", GeometryReason.IRREGULAR_SPACING),
        ("tilt_stack", GeometryReason.GANTRY_TILT),
        ("tilt_tag", GeometryReason.GANTRY_TILT),
        ("duplicate", GeometryReason.DUPLICATE_POSITIONS),
        ("matrix", GeometryReason.MIXED_MATRIX),
        ("orientation", GeometryReason.MIXED_ORIENTATION),
        ("pixel_spacing", GeometryReason.MIXED_PIXEL_SPACING),
        ("few", GeometryReason.TOO_FEW_SLICES),
    ],
)
def test_each_fault_is_named(tmp_path, fault, reason):
    slices = axial_slices(n=10, rows=16, columns=16)
    extra: dict[str, object] = {}
    if fault == "gap":
        slices = slices[:4] + slices[6:]
    elif fault == "irregular":
        p = slices[4].position
        slices = with_changes(slices, 4, position=(p[0], p[1], p[2] + 1.2))
    elif fault == "tilt_stack":
        slices = [replace(s, position=(s.position[0], s.position[1] + 0.3 * k, s.position[2]))
                  for k, s in enumerate(slices)]
    elif fault == "tilt_tag":
        extra = {"GantryDetectorTilt": 12.0}
    elif fault == "duplicate":
        slices = [*slices, replace(slices[3])]
    elif fault == "matrix":
        slices = with_changes(slices, 2, rows=20)
    elif fault == "orientation":
        slices = with_changes(slices, 2, orientation=(1.0, 0.0, 0.0, 0.0, 0.995, 0.0998))
    elif fault == "pixel_spacing":
        slices = with_changes(slices, 2, pixel_spacing=(3.5, 3.5))
    elif fault == "few":
        slices = slices[:3]
    ds = _headers(tmp_path, slices, extra=extra)
    report = check_geometry(ds, CFG)
    assert reason in _reasons(report)
    assert not report.ok
    if fault in ("gap", "irregular", "tilt_stack", "duplicate"):
        # the independent implementation rejects the same slices
        assert get_series_volume_positions(ds, index_convention="RD") == (None, None)


def test_per_slice_rescale_is_a_note_not_a_rejection(tmp_path):
    slices = [replace(s, slope=0.5 if k % 2 else 1.0, intercept=-1200.0 if k % 3 else -1024.0)
              for k, s in enumerate(axial_slices(n=6, rows=16, columns=16))]
    report = check_geometry(_headers(tmp_path, slices), CFG)
    assert report.ok
    assert GeometryReason.RESCALE_VARIES in _reasons(report)


def test_duplicate_instances_kept_once(tmp_path):
    ds = _headers(tmp_path, axial_slices(n=6, rows=16, columns=16))
    report = check_geometry([*ds, ds[2]], CFG)
    assert report.ok
    assert GeometryReason.DUPLICATE_INSTANCES in _reasons(report)
    assert len(report.order) == 6


@pytest.mark.parametrize("key", ["AcquisitionNumber", "AcquisitionTime"])
def test_two_phases_in_one_series_split_into_stacks(tmp_path, key):
    base = axial_slices(n=6, rows=16, columns=16)
    values = {"AcquisitionNumber": (1, 2), "AcquisitionTime": ("101500.000000", "101610.5")}[key]
    slices = [replace(s, extra={key: values[0]}) for s in base]
    # helical: each slice of the second stack has its own time, within a few seconds
    second = [replace(s, extra={key: values[1] if key == "AcquisitionNumber"
                                else f"1016{10 + k:02d}.5"}) for k, s in enumerate(base)]
    ds = _headers(tmp_path, slices + second)
    assert GeometryReason.DUPLICATE_POSITIONS in _reasons(check_geometry(ds, CFG))
    stacks = split_stacks(ds, CFG)
    assert len(stacks) == 2
    assert all(label.startswith(key) for label, _ in stacks)
    for _, stack in stacks:
        assert len(stack) == 6
        assert check_geometry(stack, CFG).ok


def test_unsplittable_duplicates_stay_rejected(tmp_path):
    base = axial_slices(n=6, rows=16, columns=16)
    ds = _headers(tmp_path, base + [replace(s) for s in base])
    assert split_stacks(ds, CFG) == [("", ds)]
    assert GeometryReason.DUPLICATE_POSITIONS in _reasons(check_geometry(ds, CFG))


def test_missing_geometry(tmp_path):
    ds = _headers(tmp_path, axial_slices(n=6, rows=16, columns=16))
    del ds[1].ImagePositionPatient
    report = check_geometry(ds, CFG)
    assert _reasons(report) == {GeometryReason.MISSING_GEOMETRY}

