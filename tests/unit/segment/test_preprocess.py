"""The engine's preprocessing equals nnU-Net's ``run_case_npy`` (data and bookkeeping)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from pipeline.segment.config import SegmentationConfig
from pipeline.segment.engine import SegmentationEngine
from pipeline.segment.inference import ModelRunner

from .conftest import cascade_config


def _runners(config: SegmentationConfig) -> list[ModelRunner]:
    engine = SegmentationEngine(config)
    engine.load()
    return list(engine._runners.values())


@pytest.mark.parametrize("config", [cascade_config(), SegmentationConfig(device="cpu")],
                         ids=["tiny-models", "demo-model"])
def test_preprocess_equals_run_case_npy(config: SegmentationConfig, toy: Any) -> None:
    hu, truth = toy
    hu, truth = np.pad(hu, 3), np.pad(truth, 3)   # zero HU border: nnU-Net crops it away
    for runner in _runners(config):
        p = runner._predictor
        n_channels = len(p.dataset_json["channel_names"])
        channels = [hu] + [(truth > 0).astype(np.float32)] * (n_channels - 1)
        image = np.stack(channels).astype(np.float32)
        before = image.copy()
        spacing = (2.5, 1.5, 1.25)
        data, properties = runner.preprocess(image, spacing)
        preprocessor = p.configuration_manager.preprocessor_class(verbose=False)
        reference, _, ref_properties = preprocessor.run_case_npy(
            image, None, {"spacing": list(spacing)}, p.plans_manager, p.configuration_manager,
            p.dataset_json)
        assert np.array_equal(image, before)   # the input is not modified
        assert torch.equal(data, torch.from_numpy(np.asarray(reference, dtype=np.float32)))
        for key in ("spacing", "shape_before_cropping", "bbox_used_for_cropping",
                    "shape_after_cropping_and_before_resampling"):
            assert np.array_equal(np.asarray(properties[key]),
                                  np.asarray(ref_properties[key])), key
