"""RT Dose: dciodvfy finds no error, strict read-back, dose values at the right positions."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813
from pydicom import config as pydicom_config
from pydicom.data import get_testdata_file

from pipeline.dosimetry.rtdose import RT_DOSE_STORAGE, DoseSummation, build_rt_dose

DCIODVFY = Path(sys.executable).parent / "dciodvfy"
ERROR = re.compile(r"^Error", re.MULTILINE)


@pytest.fixture
def source() -> pydicom.Dataset:
    """A CT header nobody here made (pydicom's test data)."""
    return pydicom.dcmread(get_testdata_file("CT_small.dcm"))


def _oblique_dose() -> sitk.Image:
    """5 x 6 x 7 doses on a grid rotated 30 degrees about the patient's z axis."""
    rng = np.random.default_rng(1)
    image = sitk.GetImageFromArray(rng.uniform(0.0, 250.0, (5, 6, 7)))
    image.SetSpacing((2.0, 3.0, 4.5))
    image.SetOrigin((-10.0, -20.0, -30.0))
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    image.SetDirection((c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0))
    return image


def _write(tmp_path: Path, source: pydicom.Dataset, bits: int = 16) -> tuple[Path, sitk.Image]:
    dose = _oblique_dose()
    ds = build_rt_dose(dose, source, [source], summation=DoseSummation.SIRT_MEASURED,
                       comment="Local deposition, Y-90 PET", demo=True, bits=bits)
    path = tmp_path / f"rtdose{bits}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path, dose


def test_dciodvfy_finds_no_error(tmp_path: Path, source: pydicom.Dataset) -> None:
    path, _ = _write(tmp_path, source)
    result = subprocess.run([str(DCIODVFY), "-new", str(path)], capture_output=True,
                            text=True, timeout=120)
    report = result.stdout + result.stderr
    assert "RTDose" in report, report              # it recognised the IOD
    assert not ERROR.findall(report), report
    warnings = [line for line in report.splitlines() if line.startswith("Warning")]
    # The extended Dose Summation Type; the source CT's own PatientWeight of 0.
    allowed = ("Unrecognized defined term = <SIRT_MEASURED>", "PatientWeight")
    assert all(any(a in w for a in allowed) for w in warnings), warnings


@pytest.mark.parametrize("bits", [16, 32])
def test_strict_read_back_reproduces_dose_and_geometry(
        tmp_path: Path, source: pydicom.Dataset, bits: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path, dose = _write(tmp_path, source, bits)
    monkeypatch.setattr(pydicom_config.settings, "reading_validation_mode", pydicom_config.RAISE)
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == RT_DOSE_STORAGE and ds.Modality == "RTDOSE"
    assert (ds.DoseUnits, ds.DoseType, ds.BitsAllocated) == ("GY", "PHYSICAL", bits)
    assert ds.FrameOfReferenceUID == source.FrameOfReferenceUID
    assert ds.PatientName == source.PatientName and ds.PatientID == source.PatientID
    assert ds.StudyInstanceUID == source.StudyInstanceUID
    assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert "not for clinical use" in ds.SeriesDescription
    assert ds.DoseComment == "Local deposition, Y-90 PET; Demo model, not for clinical use"
    expected = sitk.GetArrayFromImage(dose)
    values = ds.pixel_array * float(ds.DoseGridScaling)
    assert values.shape == expected.shape
    np.testing.assert_allclose(values, expected, atol=float(ds.DoseGridScaling) / 2 + 1e-12)
    # Position of voxel (frame k, row j, column i) from the header alone.
    ipp = np.asarray(ds.ImagePositionPatient, float)
    row_dir = np.asarray(ds.ImageOrientationPatient[:3], float)
    col_dir = np.asarray(ds.ImageOrientationPatient[3:], float)
    normal = np.cross(row_dir, col_dir)
    dy, dx = (float(v) for v in ds.PixelSpacing)
    offsets = np.asarray(ds.GridFrameOffsetVector, float)
    assert offsets[0] == 0.0
    for k, j, i in [(0, 0, 0), (4, 5, 6), (2, 1, 3), (3, 5, 0)]:
        header_mm = ipp + i * dx * row_dir + j * dy * col_dir + offsets[k] * normal
        np.testing.assert_allclose(header_mm, dose.TransformIndexToPhysicalPoint((i, j, k)),
                                   atol=1e-4)
        assert values[k, j, i] == pytest.approx(dose[i, j, k],
                                                abs=float(ds.DoseGridScaling) / 2 + 1e-12)


def test_a_reversed_stack_gets_negative_offsets(source: pydicom.Dataset) -> None:
    dose = sitk.GetImageFromArray(np.ones((3, 2, 2)))
    dose.SetSpacing((1.0, 1.0, 2.5))
    dose.SetDirection((1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0))
    ds = build_rt_dose(dose, source, [source], summation=DoseSummation.SIRT_PREDICTED,
                       comment="MAA", demo=False)
    assert [float(v) for v in ds.GridFrameOffsetVector] == [0.0, -2.5, -5.0]
    assert ds.DoseComment == "MAA" and "clinical" not in ds.SeriesDescription
    assert float(ds.DoseGridScaling) * ds.pixel_array.max() == pytest.approx(1.0, rel=1e-4)


def test_a_long_comment_is_cut_but_not_the_demo_notice(source: pydicom.Dataset) -> None:
    dose = sitk.GetImageFromArray(np.ones((2, 2, 2)))
    ds = build_rt_dose(dose, source, [source], summation=DoseSummation.SIRT_MEASURED,
                       comment="x" * 80, demo=True)
    assert len(ds.DoseComment) == 64
    assert ds.DoseComment.endswith("; Demo model, not for clinical use")


def test_negative_or_non_finite_dose_is_refused(source: pydicom.Dataset) -> None:
    bad = sitk.GetImageFromArray(np.array([[[1.0, -0.5]]]))
    with pytest.raises(ValueError, match="not negative"):
        build_rt_dose(bad, source, [], summation=DoseSummation.SIRT_MEASURED, comment="",
                      demo=False)
