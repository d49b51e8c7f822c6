"""Validation of a learned FLR model's regions: a reference NIfTI of the remnant and the
resected region is read into region masks, and the regions get the same figures as every
other structure, beside the liver parts they overlap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813
from shapes import ball

from pipeline.structures import DEMO_LABELS, Structure
from pipeline.validate.evaluate import evaluate_case
from pipeline.validate.labelmaps import LabelImage, read_nifti

SHAPE = (30, 40, 48)
SPACING = (2.0, 1.5, 1.5)
FLR_TRUTH = {1: Structure.FUTURE_LIVER_REMNANT, 2: Structure.RESECTED_LIVER}


def _image(array: np.ndarray) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(SPACING[::-1])
    return image


def _liver(shift_mm: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A liver ball in segments 5 (left half in x) and 8, and its remnant = segment 5."""
    liver = ball(SHAPE, (30, 30, 36 + shift_mm), 20.0, SPACING)
    remnant = liver & (np.arange(SHAPE[2])[None, None, :] < 24)
    labels = np.zeros(SHAPE, np.uint16)
    labels[liver] = 8
    labels[remnant] = 5
    return labels, remnant


def _prediction(shift_mm: float = 0.0) -> LabelImage:
    labels, remnant = _liver(shift_mm)
    image = _image(labels)
    masks = {
        Structure.FUTURE_LIVER_REMNANT: remnant,
        Structure.RESECTED_LIVER: (labels > 0) & ~remnant,
    }
    regions = {}
    for s, m in masks.items():
        regions[s] = _image(m.astype(np.uint8))
        regions[s].CopyInformation(image)
    return LabelImage(image, dict(DEMO_LABELS), regions)


def _truth(tmp_path: Path) -> LabelImage:
    labels, remnant = _liver()
    truth = np.where(remnant, 1, np.where(labels > 0, 2, 0)).astype(np.uint16)
    path = tmp_path / "flr_truth.nii.gz"
    sitk.WriteImage(_image(truth), str(path))
    return read_nifti(path, FLR_TRUTH)


def test_a_region_truth_is_read_as_region_masks(tmp_path: Path) -> None:
    truth = _truth(tmp_path)
    assert truth.labels == {}
    assert truth.structures() == {Structure.FUTURE_LIVER_REMNANT, Structure.RESECTED_LIVER}
    _, remnant = _liver()
    assert np.array_equal(truth.mask(Structure.FUTURE_LIVER_REMNANT), remnant)


def test_regions_get_the_same_figures_as_other_structures(tmp_path: Path) -> None:
    truth = _truth(tmp_path)
    same = {r["structure"]: r for r in evaluate_case(_prediction(), truth).rows}
    assert set(same) == {"future_liver_remnant", "resected_liver"}
    for row in same.values():
        assert row["dice"] == 1.0 and row["hd95_mm"] == 0.0 and row["volume_ratio"] == 1.0
    shifted = {r["structure"]: r for r in evaluate_case(_prediction(6.0), truth).rows}
    remnant = shifted["future_liver_remnant"]
    assert remnant["dice"] < 0.95 and remnant["hd95_mm"] > 0.0
    # the prediction's remnant overlaps its liver segments: both keep their own masks
    pred = _prediction()
    assert (pred.mask(Structure.FUTURE_LIVER_REMNANT) & pred.mask(Structure.COUINAUD_5)).any()
