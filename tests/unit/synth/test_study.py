"""A whole small study: series, truth files, volumes, DICOM validity, determinism."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813

from pipeline.structures import COUINAUD_SEGMENTS, Structure
from pipeline.synth import Phase
from pipeline.synth.render import Grid, render_labels
from pipeline.synth.spec import Kernel, SeriesKind, SeriesSpec, StudySpec, expected_choice
from pipeline.synth.study import StudyTruth, write_study

DCIODVFY = Path(sys.executable).parent / "dciodvfy"


def _series(truth: StudyTruth) -> list[dict[str, Any]]:
    return json.loads((truth.out_dir / "truth" / "series.json").read_text())


def _read_series(folder: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(f) for f in sorted(folder.glob("*.dcm"))]


def test_exactly_one_expected_choice_the_thin_soft_portal_venous(small_study: StudyTruth) -> None:
    entries = _series(small_study)
    chosen = [e for e in entries if e["expected_choice"]]
    assert len(chosen) == 1
    c = chosen[0]
    assert c["kind"] == "axial" and c["phase"] == "portal_venous" and c["kernel"] == "soft"
    assert 0.5 <= c["slice_thickness_mm"] <= 3.0
    others = [e for e in entries if e["kind"] == "axial" and e["phase"] == "portal_venous"
              and e["kernel"] == "soft" and e is not c]
    assert all(e["slice_thickness_mm"] > c["slice_thickness_mm"] for e in others)
    assert small_study.expected_series_uid == c["series_instance_uid"]
    kinds = {e["kind"] for e in entries}
    assert {"axial", "localizer", "dose_report"} <= kinds
    assert {e["phase"] for e in entries if e["kind"] == "axial"} == {p.value for p in Phase}


def test_every_series_folder_holds_its_files(small_study: StudyTruth) -> None:
    sop_uids = set()
    for e in _series(small_study):
        files = _read_series(small_study.out_dir / e["folder"])
        assert len(files) == e["n_instances"]
        for ds in files:
            assert ds.SeriesInstanceUID == e["series_instance_uid"]
            assert ds.StudyInstanceUID == small_study.study_instance_uid
            assert ds.PatientName.family_name == "SYNTH"
            assert "ynthetic" in ds.ImageComments
            sop_uids.add(ds.SOPInstanceUID)
        first = files[0]
        if e["kind"] == "localizer":
            assert list(first.ImageType)[2] == "LOCALIZER"
        elif e["kind"] == "dose_report":
            assert list(first.ImageType)[:2] == ["DERIVED", "SECONDARY"]
            assert first.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
        else:
            assert list(first.ImageType) == ["ORIGINAL", "PRIMARY", "AXIAL"]
            assert float(first.SliceThickness) == e["slice_thickness_mm"]
            assert float(first.PatientSize) == small_study.phantom.height_m
            assert ("ContrastBolusAgent" in first) == e["contrast_tags"]
    assert len(sop_uids) == sum(e["n_instances"] for e in _series(small_study))


def test_volumes_json_is_consistent(small_study: StudyTruth) -> None:
    v = json.loads((small_study.out_dir / "truth" / "volumes.json").read_text())
    segments = [v[s.value] for s in COUINAUD_SEGMENTS]
    assert all(x > 5.0 for x in segments)
    assert v["liver"] == pytest.approx(sum(segments) + v["metastasis"], abs=1e-3)
    assert len(v["lesions"]) == len(small_study.phantom.lesions)
    assert sum(les["volume_ml"] for les in v["lesions"]) == pytest.approx(v["metastasis"],
                                                                          rel=1e-6)
    for les in v["lesions"]:
        assert 1 <= les["couinaud_segment"] <= 8
    assert v["height_m"] == small_study.phantom.height_m
    for s in (Structure.PORTAL_VEIN, Structure.HEPATIC_VEIN, Structure.IVC):
        assert v[s.value] > 1.0


def test_volumes_match_labels_on_a_1mm_grid(small_study: StudyTruth) -> None:
    v = small_study.volumes
    grid = Grid.covering(small_study.phantom.liver_bbox, (1.0, 1.0, 1.0))
    labels = render_labels(small_study.phantom, grid)
    counts = np.bincount(labels.ravel(), minlength=13) * grid.voxel_volume_ml
    assert counts[1:10].sum() == pytest.approx(v["liver"], rel=0.01)
    for i, s in enumerate(COUINAUD_SEGMENTS, start=1):
        assert counts[i] == pytest.approx(v[s.value], rel=0.03)
    assert counts[9] == pytest.approx(v["metastasis"], rel=0.03)


def test_series_label_maps_have_the_series_geometry(small_study: StudyTruth) -> None:
    entry = next(e for e in _series(small_study) if e["expected_choice"])
    img = sitk.ReadImage(str(small_study.out_dir / entry["labels"]))
    files = _read_series(small_study.out_dir / entry["folder"])
    files.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    assert img.GetSize() == (files[0].Columns, files[0].Rows, len(files))
    assert np.allclose(img.GetOrigin(), [float(x) for x in files[0].ImagePositionPatient])
    assert np.allclose(img.GetSpacing()[:2], [float(files[0].PixelSpacing[1]),
                                              float(files[0].PixelSpacing[0])])
    liver_ml = sum(entry["label_volumes_ml"][str(k)] for k in range(1, 10))
    assert liver_ml == pytest.approx(small_study.volumes["liver"], rel=0.04)


def test_hu_in_files_follow_the_phases(small_study: StudyTruth) -> None:
    means: dict[str, dict[int, float]] = {}
    for e in _series(small_study):
        if e["kind"] != "axial" or e["kernel"] != "soft" or e["slice_thickness_mm"] > 3:
            continue
        files = _read_series(small_study.out_dir / e["folder"])
        files.sort(key=lambda d: float(d.ImagePositionPatient[2]))
        hu = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept)
                       for d in files])
        labels = np.load(small_study.out_dir / "truth" / "labels"
                         / f"{e['series_instance_uid']}.npy")
        means[e["phase"]] = {k: float(hu[labels == k].mean()) for k in (1, 5, 8, 10, 11)}
    pv, art = means["portal_venous"], means["arterial"]
    assert pv[10] > pv[8] + 30 and pv[11] > pv[5] + 20
    assert art[8] < pv[8] - 20


def test_dciodvfy_finds_no_errors_in_a_ct_file_and_finds_a_broken_one(
        small_study: StudyTruth, tmp_path: Path) -> None:
    entry = next(e for e in _series(small_study) if e["expected_choice"])
    ct = sorted((small_study.out_dir / entry["folder"]).glob("*.dcm"))[0]
    run = subprocess.run([str(DCIODVFY), "-new", str(ct)], capture_output=True, text=True,
                         check=False)
    assert "Error" not in run.stdout + run.stderr, run.stdout + run.stderr
    broken = pydicom.dcmread(ct)
    del broken.ImagePositionPatient
    broken.save_as(tmp_path / "broken.dcm")
    run = subprocess.run([str(DCIODVFY), "-new", str(tmp_path / "broken.dcm")],
                         capture_output=True, text=True, check=False)
    assert "Error" in run.stdout + run.stderr


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    spec = StudySpec(seed=8, series=(
        SeriesSpec(SeriesKind.LOCALIZER, Phase.NATIVE, 0.0, description="Scout"),
        SeriesSpec(slice_thickness_mm=1.5, description="PV 1.5", matrix=64,
                   pixel_spacing_mm=2.0, z_range_mm=(-15.0, 15.0)),
    ))
    a = write_study(tmp_path / "a", spec, volumes=False)
    b = write_study(tmp_path / "b", spec, volumes=False)
    assert a.series == b.series
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.dcm"))
    assert files_a == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.dcm"))
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    other = write_study(tmp_path / "c", StudySpec(seed=9, series=spec.series[:1]),
                        volumes=False)
    assert other.study_instance_uid != a.study_instance_uid
    assert other.series[0]["series_instance_uid"] != a.series[0]["series_instance_uid"]
    shutil.rmtree(tmp_path)


def test_expected_choice_rule() -> None:
    pv = SeriesSpec(slice_thickness_mm=2.0)
    thin_pv = SeriesSpec(slice_thickness_mm=1.0)
    bone = SeriesSpec(slice_thickness_mm=0.625, kernel=Kernel.BONE)
    soft_str = SeriesSpec(slice_thickness_mm=0.5, kernel="soft")  # type: ignore[arg-type]
    low = SeriesSpec(slice_thickness_mm=1.0, low_dose=True)
    art = SeriesSpec(phase=Phase.ARTERIAL, slice_thickness_mm=0.625)
    assert expected_choice((pv, bone, art)) == 0
    assert expected_choice((pv, low, thin_pv)) == 2
    assert expected_choice((art, SeriesSpec(slice_thickness_mm=5.0))) is None
    assert expected_choice((pv, soft_str)) == 1


def test_series_spec_accepts_strings_and_a_six_value_orientation() -> None:
    spec = SeriesSpec(kind="axial", phase="arterial", kernel="lung",  # type: ignore[arg-type]
                      orientation=(-1.0, 0.0, 0.0, 0.0, -1.0, 0.0))
    assert spec.kind is SeriesKind.AXIAL and spec.phase is Phase.ARTERIAL
    assert spec.kernel is Kernel.LUNG
    assert spec.row_cosine == (-1.0, 0.0, 0.0) and spec.column_cosine == (0.0, -1.0, 0.0)
