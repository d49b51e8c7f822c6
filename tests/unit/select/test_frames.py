"""Enhanced CT and Legacy Converted Enhanced CT (multi-frame) read like a single-frame series:
the same choice, volume, geometry checks and reasons; frames referenced by SOP Instance UID
and frame number; no per-frame positions is a named rejection."""

from __future__ import annotations

import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from select_ctfactory import SeriesSpec, axial_slices, with_changes, write_series

from pipeline.select.config import SelectionConfig
from pipeline.select.frames import frame_headers
from pipeline.select.selector import SelectionResult, select_series

sys.path.insert(0, str(Path(__file__).parents[2]))
from enhanced_ct import GEOMETRY_MACROS, enhanced, legacy_converted, write

CFG = SelectionConfig()
REVERSED_ODD_EVEN = [*range(39, -1, -2), *range(38, -1, -2)]
"""A frame order unlike the slice order: odd slices descending, then even ones."""


def _single(root: Path, slices: Any = None, **spec: Any) -> Path:
    write_series(root, slices or axial_slices(), SeriesSpec(**spec))
    return root


def _same_choice(single: SelectionResult, multi: SelectionResult) -> None:
    a, b = single.chosen, multi.chosen
    assert a is not None and b is not None, multi.rejection_reason
    np.testing.assert_array_equal(a.hu, b.hu)
    assert (a.spacing_mm, a.origin_mm, a.row_cosine, a.column_cosine) == (
        b.spacing_mm, b.origin_mm, b.row_cosine, b.column_cosine)
    assert a.slice_thickness_mm == b.slice_thickness_mm
    first_a, first_b = single.ranking[0].to_dict(), multi.ranking[0].to_dict()
    for key in ("score", "phase", "kernel", "kernel_class", "slice_thickness_mm", "coverage",
                "accepted", "reasons"):
        assert first_a[key] == first_b[key], key
    assert single.notes == multi.notes


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A single-frame portal-venous series (40 axial slices of 5 mm)."""
    return _single(tmp_path_factory.mktemp("single") / "ct")


VARIANTS = {
    "legacy-converted": lambda folder: legacy_converted(folder),
    "enhanced-shared-geometry": lambda folder: enhanced(folder),
    "enhanced-per-frame-geometry-shuffled": lambda folder: enhanced(
        folder, per_frame=GEOMETRY_MACROS, order=REVERSED_ODD_EVEN),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_multiframe_is_chosen_with_the_single_frame_geometry(series: Path, tmp_path: Path,
                                                             name: str) -> None:
    image = VARIANTS[name](series)
    multi = select_series([write(image, tmp_path / "mf")], CFG)
    _same_choice(select_series([series], CFG), multi)
    volume = multi.chosen
    assert volume is not None
    assert set(volume.sop_instance_uids) == {image.SOPInstanceUID}
    assert sorted(volume.frame_numbers) == list(range(1, 41))
    frames = frame_headers(pydicom.dcmread(tmp_path / "mf" / "multiframe.dcm",
                                           stop_before_pixels=True))
    z = [float(frames[n - 1].ImagePositionPatient[2]) for n in volume.frame_numbers]
    assert z == sorted(z) and volume.source_paths == [str(tmp_path / "mf" / "multiframe.dcm")] * 40


def test_rescale_per_frame_is_applied_per_frame(tmp_path: Path) -> None:
    slices = [replace(s, intercept=-1000.0) if k % 3 == 0 else s
              for k, s in enumerate(axial_slices())]
    folder = _single(tmp_path / "ct", slices)
    image = enhanced(folder, order=REVERSED_ODD_EVEN)
    assert "PixelValueTransformationSequence" in image.PerFrameFunctionalGroupsSequence[0]
    single = select_series([folder], CFG)
    _same_choice(single, select_series([write(image, tmp_path / "mf")], CFG))
    assert any(n.startswith("rescale_varies") for n in single.notes)


FAULTS = {
    "missing_slices": lambda s: s[:12] + s[16:],
    "duplicate_positions": lambda s: with_changes(s, 20, position=s[19].position),
    "gantry_tilt": lambda s: [replace(x, position=(x.position[0], x.position[1] + 0.8 * k,
                                                   x.position[2])) for k, x in enumerate(s)],
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_geometry_faults_have_the_single_frame_reasons(tmp_path: Path, fault: str) -> None:
    folder = _single(tmp_path / "ct", FAULTS[fault](axial_slices()))
    single = select_series([folder], CFG)
    multi = select_series([write(enhanced(folder), tmp_path / "mf")], CFG)
    assert single.chosen is None and multi.chosen is None
    assert fault in str(single.rejection_reason)
    assert single.ranking[0].reasons == multi.ranking[0].reasons


def test_without_per_frame_positions_the_reason_says_so(series: Path, tmp_path: Path) -> None:
    result = select_series([write(enhanced(series, positions=False), tmp_path / "mf")], CFG)
    assert result.chosen is None
    assert ("enhanced_ct_no_frame_positions: Enhanced CT Image Storage with 40 frame(s) and no "
            "Plane Position Sequence per frame: the frames' positions and order are unknown"
            ) in str(result.rejection_reason)


def test_frames_of_several_images_in_one_stack_are_rejected(series: Path,
                                                            tmp_path: Path) -> None:
    paths = sorted(series.iterdir())
    halves = []
    for k, part in enumerate((paths[:20], paths[20:])):
        folder = tmp_path / f"half{k}"
        folder.mkdir()
        for path in part:
            shutil.copy(path, folder)
        halves.append(write(enhanced(folder), tmp_path / "mf" / f"{k}"))
    result = select_series(halves, CFG)
    assert result.chosen is None
    assert "multiframe_several_images: frames of 2 multi-frame images in one stack" in str(
        result.rejection_reason)


def test_pydicom_enhanced_ct_is_rejected_with_a_plain_reason() -> None:
    result = select_series([Path(get_testdata_file("eCT_Supplemental.dcm"))], CFG)
    assert result.chosen is None
    assert "derived: ImageType DERIVED\\PRIMARY\\PERFUSION\\RCBF (2 image(s))" in str(
        result.rejection_reason)


def test_pixel_data_shorter_than_its_frames_is_unreadable(series: Path, tmp_path: Path) -> None:
    image = enhanced(series)
    image.PixelData = image.PixelData[: len(image.PixelData) // 2]
    result = select_series([write(image, tmp_path / "mf")], CFG)
    assert result.chosen is None
    assert "no readable DICOM files: 1 unreadable" in str(result.rejection_reason)
    assert "bytes, the geometry needs" in str(result.rejection_reason)
