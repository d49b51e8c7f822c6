"""A corpus of real-world oddities through ``dicomnode run``: every one exits 0 with a
``result.json`` that says what was done and why, and a rejection SR and PDF where the files
name their study.

Two sources: every file of pydicom's test data (and ``pydicom-data`` where installed) that
is CT or claims to be (one study per file; the DICOMDIR test series one study per folder),
and oddities derived from a small synthetic portal-venous series (``corpus_series``). The
derived ones run with only the arterial phase accepted, so that each is read in full
(headers, geometry, sampled pixels, phase) and rejected in about a second instead of being
segmented on the CPU.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_files
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2]))

from corpus_series import DERIVERS, derive, mixed_series
from enhanced_ct import enhanced, legacy_converted, write

from dicomnode.cli import app
from pipeline.synth import Phase
from pipeline.synth.spec import SeriesSpec, StudySpec
from pipeline.synth.study import write_study

CT_CLASSES = ("1.2.840.10008.5.1.4.1.1.2",)
"""SOP Class UID prefix of CT Image Storage and Enhanced / Legacy Converted Enhanced CT."""


def _claims_ct(path: str) -> bool:
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    except Exception:  # not DICOM at all: not part of the corpus
        return False
    meta = getattr(ds, "file_meta", None)
    classes = {str(ds.get("SOPClassUID", "")),
               str(meta.get("MediaStorageSOPClassUID", "")) if meta is not None else ""}
    return ds.get("Modality") == "CT" or any(c.startswith(CT_CLASSES) for c in classes)


def _pydicom_studies() -> dict[str, list[str]]:
    studies: dict[str, list[str]] = {}
    for path in get_testdata_files():
        if _claims_ct(path):
            folder = Path(path).parent
            key = (f"dicomdir_{folder.parent.name}_{folder.name}" if "dicomdirtests" in path
                   else Path(path).name)
            studies.setdefault(key, []).append(path)
    return studies


PYDICOM_STUDIES = _pydicom_studies()


def _run(folder: Path, out: Path, config: Path | None = None) -> dict[str, Any]:
    args = ["run", str(folder), "--out", str(out), "--json"]
    result = CliRunner().invoke(app, args + (["--config", str(config)] if config else []))
    assert result.exit_code == 0, result.output[-3000:]
    data: dict[str, Any] = json.loads((out / "result.json").read_text())
    assert data["status"] in ("succeeded", "rejected")
    if data["status"] == "rejected":
        assert data["reason"]
        assert data["warnings"][0]["code"] == "STUDY_REJECTED"
    return data


@pytest.fixture(scope="module")
def base_series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic portal-venous series (small profile, 5 mm, 40 slices)."""
    root = tmp_path_factory.mktemp("base")
    spec = StudySpec(seed=1, series=(SeriesSpec(phase=Phase.PORTAL_VENOUS,
                                                slice_thickness_mm=5.0,
                                                description="PV 5mm"),))
    write_study(root, spec, volumes=False)
    return root / "dicom"


@pytest.fixture(scope="module")
def arterial_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A configuration accepting only the arterial phase."""
    path = tmp_path_factory.mktemp("config") / "arterial.yaml"
    path.write_text("pipeline:\n  selection:\n    phase:\n      accepted: [arterial]\n")
    return path


def test_the_corpus_holds_every_ct_file_of_pydicom() -> None:
    n_files = sum(len(v) for v in PYDICOM_STUDIES.values())
    assert n_files >= 70, n_files  # pydicom 3.0.2: 71 (pydicom-data adds the 693_* files)
    assert {"CT_small.dcm", "UN_sequence.dcm", "J2K_pixelrep_mismatch.dcm"} <= set(
        PYDICOM_STUDIES)


INVALID_VALUES = {"bad_sequence.dcm"}
"""pydicom test files holding values their VR does not allow (read as a site would: warned)."""


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.lenient_dicom) if name in INVALID_VALUES else name
    for name in sorted(PYDICOM_STUDIES)])
def test_pydicom_ct_file_ends_in_a_result(name: str, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for path in PYDICOM_STUDIES[name]:
        shutil.copy(path, folder)
    data = _run(folder, tmp_path / "out")
    warnings = {w["code"]: w for w in data["warnings"]}
    if "REPORT_NOT_WRITTEN" in warnings:  # only where no file names its study
        assert "no file of the study has a Study" in warnings["REPORT_NOT_WRITTEN"]["message"]
    else:
        assert data["outputs"] == ["sr.dcm", "summary-pdf.dcm"]


def test_empty_sop_class_is_taken_from_the_file_meta(base_series: Path, arterial_only: Path,
                                                     tmp_path: Path) -> None:
    folder = derive(base_series, tmp_path / "in", DERIVERS["empty_sop_class"])
    data = _run(folder, tmp_path / "out", arterial_only)
    text = "SOP Class UID empty in 40 files; taken from the file meta: CT Image Storage"
    assert {"code": "HEADER_ASSUMED", "message": text, "action": "note", "affects": [],
            "stage": "select"} in data["warnings"]
    assert data["series"]["assumptions"] == [text]
    assert "not_ct_image_storage" not in data["reason"]
    assert "portal_venous not in ['arterial']" in data["reason"]  # read in full, phase found
    assert data["outputs"] == ["sr.dcm", "summary-pdf.dcm"]


EXPECTED = {
    "empty_sop_class": "portal_venous not in",
    "type2_stripped": "portal_venous not in",
    "no_series_instance_number_thickness_sex": "portal_venous not in",
    "gantry_tilt": "gantry_tilt",
    "non_square_pixels": "portal_venous not in",
    "duplicate_positions": "duplicate_positions",
    "rgb_secondary_capture": "not_ct_image_storage",
    "rgb_claiming_ct": "unreadable_pixels",
    "deflate": "portal_venous not in",
    "big_endian": "portal_venous not in",
    "jpeg2000": "portal_venous not in",
    "jpeg_ls": "portal_venous not in",
    "rle": "portal_venous not in",
    "signed_unusual_rescale": "portal_venous not in",
    "unsigned_unusual_rescale": "portal_venous not in",
    "padding_value": "portal_venous not in",
}
"""What each derived oddity's reason says: a named reason, or (read in full) the phase."""


@pytest.mark.parametrize("name", sorted(DERIVERS))
def test_derived_oddity_ends_in_a_result_with_its_reason(name: str, base_series: Path,
                                                         arterial_only: Path,
                                                         tmp_path: Path) -> None:
    folder = derive(base_series, tmp_path / "in", DERIVERS[name])
    data = _run(folder, tmp_path / "out", arterial_only)
    assert data["status"] == "rejected"
    assert EXPECTED[name] in data["reason"], data["reason"]
    assert data["outputs"] == ["sr.dcm", "summary-pdf.dcm"]
    sr = pydicom.dcmread(tmp_path / "out" / "sr.dcm")
    assert sr.StudyInstanceUID == pydicom.dcmread(next(folder.iterdir())).StudyInstanceUID


def test_pydicom_enhanced_ct_ends_with_a_plain_reason(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(PYDICOM_STUDIES["eCT_Supplemental.dcm"][0], folder)
    data = _run(folder, tmp_path / "out")
    assert data["status"] == "rejected"
    assert "derived: ImageType DERIVED\\PRIMARY\\PERFUSION\\RCBF (2 image(s))" in data["reason"]


MULTIFRAME = {
    "enhanced_ct": (enhanced, "portal_venous not in"),
    "legacy_converted_enhanced_ct": (legacy_converted, "portal_venous not in"),
    "enhanced_ct_without_frame_positions": (
        lambda folder: enhanced(folder, positions=False), "enhanced_ct_no_frame_positions: "
        "Enhanced CT Image Storage with 40 frame(s) and no Plane Position Sequence per frame"),
}
"""Multi-frame copies of the base series and what their reason says."""


@pytest.mark.parametrize("name", sorted(MULTIFRAME))
def test_multiframe_ends_in_a_result_with_its_reason(name: str, base_series: Path,
                                                     arterial_only: Path,
                                                     tmp_path: Path) -> None:
    make, expected = MULTIFRAME[name]
    folder = write(make(next(base_series.iterdir())), tmp_path / "in")
    data = _run(folder, tmp_path / "out", arterial_only)
    assert data["status"] == "rejected"
    assert expected in data["reason"], data["reason"]
    assert data["outputs"] == ["sr.dcm", "summary-pdf.dcm"]


def test_mixed_series_is_split_into_its_acquisitions(base_series: Path, arterial_only: Path,
                                                     tmp_path: Path) -> None:
    folder = mixed_series(base_series, tmp_path / "in")
    data = _run(folder, tmp_path / "out", arterial_only)
    stacks = {r["stack"] for r in data["series"]["ranking"]}
    assert len(stacks) == 2 and all(s.startswith("AcquisitionNumber=") for s in stacks)
    assert "split_stack" in data["reason"]


def test_a_report_that_cannot_be_written_is_recorded_and_the_study_still_ends(
        base_series: Path, arterial_only: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "sr.dcm").mkdir(parents=True)  # a folder where the SR should go: writing fails
    data = _run(base_series, out, arterial_only)
    failure = next(w for w in data["warnings"] if w["code"] == "REPORT_NOT_WRITTEN")
    assert failure["affects"] == ["sr"]
    assert failure["exception"] == "IsADirectoryError"
    assert failure["message"].startswith("rejection sr not written: IsADirectoryError")
    assert data["outputs"] == ["summary-pdf.dcm"]
