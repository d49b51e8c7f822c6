"""dicomnode's sliding window against nnU-Net's: the same tiles, weights and mirrors; the same
logits in float32; the label maps of nnUNetPredictor itself up to argmax ties; bf16 within
Dice 0.99 per label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from pipeline.segment.config import ModelConfig, SegmentationConfig, StageConfig
from pipeline.segment.engine import SegmentationEngine
from pipeline.segment.inference import ModelRunner
from pipeline.segment.label_agreement import compare_labels, top2_margin
from pipeline.segment.model_folders import verify_config
from pipeline.segment.sliding_window import (
    WindowOptions,
    mirror_flips,
    resolve_precision,
    resolve_tile_batch,
    tile_starts,
)
from pipeline.segment.training.random_model import SMALL, build_random_model
from pipeline.synth.render import render_training_case

from .conftest import organ_config, toy_volume

CPU = torch.device("cpu")
FP32_TIE = 1e-4
"""Float32 rounding of two summation orders: gaps below this are ties."""


@pytest.fixture(scope="module")
def mirrored_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small two-fold random-weight model that allows mirroring on all three axes."""
    return build_random_model(
        tmp_path_factory.mktemp("models") / "small", SMALL, folds=(0, 1), seed=3
    )


def _runner(
    folder: Path, window: WindowOptions, mirroring: bool = True, folds: tuple[int, ...] = (0, 1)
) -> ModelRunner:
    config = SegmentationConfig(
        models_dir=folder.parent,
        models={"m": ModelConfig(folder=folder.name, folds=folds)},
        stages=(StageConfig(model="m"),),
        device="cpu",
    )
    return ModelRunner(verify_config(config)["m"], CPU, mirroring, 0.5, window)


def _nnunet_fp32(runner: ModelRunner, data: torch.Tensor) -> list[torch.Tensor]:
    """Each fold's logits by nnU-Net's own steps (its padding, slicers, Gaussian and
    mirroring function, one tile at a time) with float64 sums instead of its float16."""
    from acvl_utils.cropping_and_padding.padding import pad_nd_image
    from nnunetv2.inference.sliding_window_prediction import compute_gaussian

    p = runner._predictor
    patch = tuple(p.configuration_manager.patch_size)
    gaussian = compute_gaussian(patch, 1.0 / 8, 10, dtype=torch.float64, device=CPU)
    folds = []
    with torch.inference_mode():
        for params in runner._parameters:
            p.network.load_state_dict(params)
            padded, revert = pad_nd_image(data, patch, "constant", {"value": 0}, True, None)
            acc = torch.zeros(
                (p.label_manager.num_segmentation_heads, *padded.shape[1:]), dtype=torch.float64
            )
            weight = torch.zeros(padded.shape[1:], dtype=torch.float64)
            for sl in p._internal_get_sliding_window_slicers(padded.shape[1:]):
                tile = p._internal_maybe_mirror_and_predict(padded[sl][None])[0]
                acc[sl] += tile.double() * gaussian
                weight[sl[1:]] += gaussian
            folds.append((acc / weight)[(slice(None), *revert[1:])].float())
    return folds


def test_tiles_and_mirrors_in_nnunets_order() -> None:
    assert tile_starts((40, 70, 70), (16, 32, 32), 0.5) == [
        (z, y, x) for z in (0, 8, 16, 24) for y in (0, 13, 25, 38) for x in (0, 13, 25, 38)
    ]
    assert mirror_flips(()) == [()]
    assert mirror_flips((0, 1, 2)) == [(), (2,), (3,), (4,), (2, 3), (2, 4), (3, 4), (2, 3, 4)]


def test_device_defaults() -> None:
    assert resolve_precision("auto", CPU) == "fp32"
    assert resolve_precision("bf16", CPU) == "bf16"
    assert resolve_tile_batch(None, CPU, (32, 48, 64)) == 4  # the demo model's patch
    assert resolve_tile_batch(None, CPU, (64, 64, 64)) == 1
    assert resolve_tile_batch(None, CPU, (128, 128, 128)) == 1  # a full-size network's
    assert resolve_tile_batch(None, CPU, (16, 32, 32)) == 4  # at most 4
    assert resolve_tile_batch(None, torch.device("cuda"), (128, 128, 128)) == 8
    assert resolve_tile_batch(5, CPU, (128, 128, 128)) == 5
    assert WindowOptions().own(CPU, (16, 32, 32)) is True
    assert WindowOptions(predictor="nnunet").own(CPU, (16, 32, 32)) is False
    assert WindowOptions(predictor="dicomnode").own(CPU, (32, 32)) is False  # 2-D
    with pytest.raises(ValidationError):
        SegmentationConfig(tile_batch_size=0)
    with pytest.raises(ValidationError):
        SegmentationConfig(precision="fp8")  # type: ignore[arg-type]


@pytest.mark.parametrize("tile_batch", [1, 3, 16])
def test_float32_logits_are_nnunets(mirrored_model: Path, tile_batch: int) -> None:
    """1: one patch per pass; 3: fewer than the 8 mirrored copies (each copy its own
    pass); 16: two tiles with their 8 copies per pass, the last batch short."""
    runner = _runner(
        mirrored_model,
        WindowOptions(predictor="dicomnode", precision="fp32", tile_batch_size=tile_batch),
    )
    assert runner.sliding_window == "dicomnode-fp32"
    data = torch.from_numpy(
        np.random.default_rng(1).normal(size=(1, 22, 45, 40)).astype(np.float32)
    )
    ours = runner._window.predict(data)  # type: ignore[union-attr]
    reference = _nnunet_fp32(runner, data)
    mean = (reference[0] + reference[1]) / 2
    torch.testing.assert_close(ours.logits, mean, atol=2e-5, rtol=1e-4)
    for fold_map, fold_logits in zip(ours.fold_labelmaps, reference, strict=True):
        agreement = compare_labels(fold_map, fold_logits, FP32_TIE)
        assert agreement.differing == agreement.ties
        assert agreement.ties <= 2  # of 39,600 voxels


def test_image_smaller_than_the_patch(mirrored_model: Path) -> None:
    runner = _runner(mirrored_model, WindowOptions(predictor="dicomnode", tile_batch_size=8))
    data = torch.from_numpy(np.random.default_rng(2).normal(size=(1, 9, 40, 20)).astype(np.float32))
    ours = runner._window.predict(data)  # type: ignore[union-attr]
    assert ours.logits.shape == (13, 9, 40, 20)
    assert ours.fold_labelmaps[0].shape == (9, 40, 20)
    reference = _nnunet_fp32(runner, data)
    torch.testing.assert_close(ours.logits, (reference[0] + reference[1]) / 2, atol=2e-5, rtol=1e-4)


def test_folds_are_loaded_once(mirrored_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = _runner(mirrored_model, WindowOptions(predictor="dicomnode"))
    window = runner._window
    assert window is not None and len(window.networks) == 2
    assert window.networks[0] is not window.networks[1]

    def no_loading(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("weights loaded during prediction")

    monkeypatch.setattr(torch.nn.Module, "load_state_dict", no_loading)
    window.predict(torch.zeros((1, 16, 32, 32)))


@pytest.fixture(scope="module")
def demo_case() -> tuple[ModelRunner, torch.Tensor, torch.Tensor]:
    """The demo model (not for clinical use) on a held-out phantom at 4 mm: the runner,
    the network input and nnUNetPredictor's own fold-mean logits for it."""
    config = SegmentationConfig(device="cpu")
    runner = ModelRunner(
        verify_config(config)["demo"], CPU, True, 0.5, WindowOptions(predictor="nnunet")
    )
    hu, _, spacing = render_training_case(7002, spacing_zyx_mm=(4.0, 4.0, 4.0))
    data, _ = runner.preprocess(
        hu.astype(np.float32)[None], (float(spacing[0]), float(spacing[1]), float(spacing[2]))
    )
    logits = runner._predictor.predict_logits_from_preprocessed_data(data)
    return runner, data, logits


def _own(runner: ModelRunner, precision: str, tile_batch: int = 4) -> ModelRunner:
    folder = Path(runner.info.folder)
    return _runner(
        folder,
        WindowOptions(predictor="dicomnode", precision=precision, tile_batch_size=tile_batch),  # type: ignore[arg-type]
        folds=tuple(int(f) for f in runner.info.folds),
    )


@pytest.mark.slow
def test_label_map_is_nnunet_predictors(demo_case: Any) -> None:
    """nnUNetPredictor sums tiles in float16 (about 3 significant digits): our float32
    label map differs from its own only where its two best logits are within its rounding."""
    runner, data, logits = demo_case
    ours = _own(runner, "fp32")._window.predict(data)  # type: ignore[union-attr]
    labels = torch.max(ours.logits, 0).indices.to(torch.uint8).numpy()
    fp16_tie = float(logits.abs().max()) * 2.0**-10
    agreement = compare_labels(labels, logits, fp16_tie)
    assert agreement.differing == agreement.ties
    assert agreement.ties <= agreement.voxels * 1e-4
    assert len(agreement.dice) == 13  # every label is on the phantom
    assert float(top2_margin(logits).min()) >= 0.0


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_label_maps(demo_case: Any, precision: str) -> None:
    runner, data, logits = demo_case
    ours = _own(runner, precision)._window.predict(data)  # type: ignore[union-attr]
    labels = torch.max(ours.logits, 0).indices.to(torch.uint8).numpy()
    agreement = compare_labels(labels, logits, 0.0)
    assert agreement.min_dice >= 0.99, agreement.to_dict()
    assert agreement.differing > 0  # reduced precision does change a few voxels


def test_engine_runs_either_window(toy: Any) -> None:
    hu, _ = toy
    nnunet = SegmentationEngine(organ_config(sliding_window="nnunet")).segment(toy_volume(hu))
    own = SegmentationEngine(organ_config(sliding_window="dicomnode", tile_batch_size=4)).segment(
        toy_volume(hu)
    )
    assert own.stages[0]["sliding_window"] == "dicomnode-fp32"
    assert nnunet.stages[0]["sliding_window"] == "nnunet"
    assert {"organ.inference.fold_0", "organ.inference.fold_1"} <= own.timings_s.keys()
    differing = np.count_nonzero(own.labelmap != nnunet.labelmap)
    assert differing <= hu.size * 1e-3
    assert own.fold_dice == pytest.approx(nnunet.fold_dice, abs=1e-3)
