"""The engine on the tiny two-fold nnU-Net models: grid, slice order, folds, cascade."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pytest
import torch
from scipy import ndimage

from pipeline.segment.config import ModelConfig
from pipeline.segment.engine import SegmentationEngine
from pipeline.segment.geometry import canonical_flips, dice
from pipeline.segment.result import OUTPUT_LABEL_VALUES
from pipeline.segment.training.toy import LESION_LABEL
from pipeline.structures import Structure

from .conftest import cascade_config, organ_config, toy_volume

LIVER = OUTPUT_LABEL_VALUES[Structure.LIVER]
MET = OUTPUT_LABEL_VALUES[Structure.METASTASIS]


@pytest.fixture(scope="module")
def organ_engine() -> SegmentationEngine:
    return SegmentationEngine(organ_config())


def _organ(labelmap: np.ndarray) -> np.ndarray:
    return np.isin(labelmap, [LIVER, MET])


def test_result_on_input_grid(organ_engine: SegmentationEngine, toy: Any) -> None:
    hu, truth = toy
    result = organ_engine.segment(toy_volume(hu))
    assert result.labelmap.shape == hu.shape
    assert result.labelmap.dtype == np.uint8
    assert dice(_organ(result.labelmap), truth > 0) > 0.9
    assert result.labels[LIVER] == Structure.LIVER
    assert result.volumes_ml[Structure.LIVER] == pytest.approx(
        float((truth > 0).sum()) * 3 * 2 * 2 / 1000, rel=0.1)
    assert result.device == "cpu"
    assert result.models[0].name == "tiny-organ"
    assert {"load", "organ.preprocess", "organ.inference.fold_0", "organ.inference.fold_1",
            "organ.resample", "postprocess", "total"} <= result.timings_s.keys()


def test_slice_order_and_axes_follow_the_input(organ_engine: SegmentationEngine,
                                               toy: Any) -> None:
    hu, truth = toy
    flipped = organ_engine.segment(toy_volume(hu[::-1, :, ::-1].copy()))
    assert dice(_organ(flipped.labelmap), truth[::-1, :, ::-1] > 0) > 0.9
    assert dice(_organ(flipped.labelmap), truth > 0) < 0.8   # not the unflipped answer


def test_fold_dice_is_mean_pairwise_agreement(toy: Any) -> None:
    hu, _ = toy
    two = SegmentationEngine(organ_config()).segment(toy_volume(hu))
    same = SegmentationEngine(organ_config(
        models={"organ": ModelConfig(folder="tiny_organ", folds=(0, 0))})).segment(toy_volume(hu))
    assert same.fold_dice[Structure.LIVER] == 1.0
    assert 0.8 < two.fold_dice[Structure.LIVER] < 1.0
    assert same.models[0].folds == (0, 0)


def test_finer_grid_is_resampled_back(toy: Any) -> None:
    hu, truth = toy
    fine_hu = ndimage.zoom(hu, 2, order=1)
    fine_truth = ndimage.zoom(truth, 2, order=0) > 0
    volume = toy_volume(fine_hu, spacing=(1.5, 1.0, 1.0))
    result = SegmentationEngine(organ_config()).segment(volume)
    assert result.labelmap.shape == fine_hu.shape
    assert dice(_organ(result.labelmap), fine_truth) > 0.9


def test_summary_is_json_and_marked_demo(organ_engine: SegmentationEngine, toy: Any) -> None:
    hu, _ = toy
    summary = organ_engine.segment(toy_volume(hu, thickness=6.0)).to_dict()
    text = json.dumps(summary)
    assert summary["demo"] is True and "not for clinical use" in summary["notice"]
    assert summary["models"][0]["weights_sha256"] in text
    assert summary["confidence"]["terms"]["slice_thickness"] == 0.0
    assert any("thick slices" in r for r in summary["confidence"]["reasons"])


def test_cascade_of_two_models(toy: Any) -> None:
    hu, truth = toy
    result = SegmentationEngine(cascade_config()).segment(toy_volume(hu))
    assert [m.name for m in result.models] == ["tiny-organ", "tiny-lesion-cascade"]
    assert "lesion.inference.fold_1" in result.timings_s
    assert dice(result.labelmap == MET, truth == LESION_LABEL) > 0.5
    assert dice(_organ(result.labelmap), truth > 0) > 0.9
    assert Structure.METASTASIS in result.fold_dice


def test_cascade_stage_skipped_when_nothing_to_crop_to(toy: Any) -> None:
    hu, _ = toy
    base = cascade_config()
    stages = (base.stages[0], base.stages[1].model_copy(update={"crop_to": (Structure.IVC,)}))
    result = SegmentationEngine(base.model_copy(update={"stages": stages})).segment(
        toy_volume(hu))
    assert any("stage 1 (lesion) skipped" in w for w in result.warnings)
    assert "lesion.inference.fold_0" not in result.timings_s
    assert _organ(result.labelmap).any()


def test_cuda_request_falls_back_or_runs(toy: Any) -> None:
    hu, truth = toy
    result = SegmentationEngine(organ_config(device="cuda")).segment(toy_volume(hu))
    if torch.cuda.is_available():
        assert result.device == "cuda"
    else:
        assert result.device == "cpu"
        assert any("fell back to CPU" in w for w in result.warnings)
    assert dice(_organ(result.labelmap), truth > 0) > 0.9


def test_prone_series_gives_the_same_anatomy_in_patient_coordinates(
        organ_engine: SegmentationEngine, toy: Any) -> None:
    hu, _ = toy
    supine = organ_engine.segment(toy_volume(hu)).labelmap
    # the same patient volume stored prone: rows run to -x, columns to -y
    prone = dataclasses.replace(toy_volume(hu[:, ::-1, ::-1].copy()),
                                row_cosine=(-1.0, 0.0, 0.0), column_cosine=(0.0, -1.0, 0.0))
    np.testing.assert_array_equal(organ_engine.segment(prone).labelmap, supine[:, ::-1, ::-1])


@pytest.mark.parametrize(("row", "column", "axes"), [
    ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), ()),          # supine, head first
    ((-1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (1, 2)),    # prone, head first
    ((-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0, 2)),     # supine, feet first
    ((0.995, 0.1, 0.0), (-0.1, 0.995, 0.0), ()),     # slightly rotated, supine
])
def test_canonical_flips(row: tuple[float, float, float], column: tuple[float, float, float],
                         axes: tuple[int, ...]) -> None:
    assert canonical_flips(row, column) == axes


def test_single_fold_model_reports_agreement_unavailable(toy: Any) -> None:
    hu, _ = toy
    config = organ_config(models={"organ": ModelConfig(folder="tiny_organ", folds=(0,))})
    result = SegmentationEngine(config).segment(toy_volume(hu))
    assert result.fold_dice == {}
    assert "agreement" not in result.confidence.terms
    assert result.confidence.notes and "single-fold" in result.confidence.notes[0]
    assert result.stages == [{"model": "organ", "box_zyx": [[0, 24], [0, 40], [0, 40]],
                              "network_shape": [24, 40, 40],
                              "network_spacing_mm": [3.0, 2.0, 2.0], "mirror_axes": [],
                              "sliding_window": "dicomnode-fp32"}]
