"""NIfTI geometry round trip and ``dicomnode segment`` on a NIfTI file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813
from typer.testing import CliRunner

from dicomnode.cli import app
from pipeline.segment.config import DEMO_MODEL_FOLDER
from pipeline.segment.nifti import read_nifti_volume, write_on_volume_grid
from pipeline.segment.training.toy import toy_case

from .conftest import HELD_OUT_SEED, TINY_MODELS


def _image(array: np.ndarray, spacing_xyz: tuple[float, float, float],
           direction: tuple[float, ...]) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing_xyz)
    image.SetOrigin((10.0, -20.0, 30.0))
    image.SetDirection(direction)
    return image


def test_reversed_stack_is_reordered_and_written_back_in_place(tmp_path: Path) -> None:
    array = np.zeros((5, 6, 7), np.float32)
    array[1, 2, 3] = 100.0
    src = _image(array, (0.8, 0.9, 2.5), (1, 0, 0, 0, 1, 0, 0, 0, -1))
    sitk.WriteImage(src, str(tmp_path / "ct.nii.gz"))
    volume = read_nifti_volume(tmp_path / "ct.nii.gz")
    assert volume.spacing_mm == pytest.approx((2.5, 0.9, 0.8))
    assert volume.hu[3, 2, 3] == 100.0                  # slice 1 of 5 is now slice 3
    expected = src.TransformIndexToPhysicalPoint((3, 2, 1))
    got = volume.index_to_patient(np.array([[3.0, 2.0, 3.0]]))[0]
    np.testing.assert_allclose(got, expected, atol=1e-4)
    write_on_volume_grid((volume.hu > 50).astype(np.uint8), volume, tmp_path / "m.nii.gz")
    back = sitk.ReadImage(str(tmp_path / "m.nii.gz"))
    z, y, x = np.argwhere(sitk.GetArrayFromImage(back))[0]
    np.testing.assert_allclose(
        back.TransformIndexToPhysicalPoint((int(x), int(y), int(z))), expected, atol=1e-4)


def test_segment_command_writes_masks_and_summary(tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(TINY_MODELS / "tiny_organ", models / DEMO_MODEL_FOLDER)
    hu, truth = toy_case(HELD_OUT_SEED)
    ct = _image(hu, (2.0, 2.0, 3.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    sitk.WriteImage(ct, str(tmp_path / "ct.nii.gz"))
    out = tmp_path / "out"
    run = CliRunner().invoke(app, ["segment", str(tmp_path / "ct.nii.gz"), "--out", str(out),
                                   "--models-dir", str(models), "--device", "cpu"])
    assert run.exit_code == 0, run.output
    summary = json.loads((out / "segmentation.json").read_text())
    assert summary["segmentation"]["demo"] is True
    assert summary["segmentation"]["models"][0]["name"] == "tiny-organ"
    labelmap = sitk.ReadImage(str(out / "labelmap.nii.gz"))
    assert labelmap.GetSize() == ct.GetSize()
    assert labelmap.GetSpacing() == ct.GetSpacing()
    organ = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "masks" / "liver.nii.gz"))) > 0
    inter = float((organ & (truth == 1)).sum())
    assert 2 * inter / (organ.sum() + (truth == 1).sum()) > 0.85


def test_segment_command_reports_missing_model(tmp_path: Path) -> None:
    hu, _ = toy_case(HELD_OUT_SEED)
    sitk.WriteImage(_image(hu, (2.0, 2.0, 3.0), (1, 0, 0, 0, 1, 0, 0, 0, 1)),
                    str(tmp_path / "ct.nii.gz"))
    run = CliRunner().invoke(app, ["segment", str(tmp_path / "ct.nii.gz"), "--out",
                                   str(tmp_path / "out"), "--models-dir", str(tmp_path)])
    assert run.exit_code == 2
    assert "does not exist" in " ".join(run.output.split())
