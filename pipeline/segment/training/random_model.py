"""nnU-Net v2 trained-model folders with random weights, for timing and agreement checks.

A folder holds ``dataset.json`` and ``plans.json`` (one 3-D configuration of
``PlainConvUNet``), ``dicomnode.json`` (the demo label mapping, ``"demo": true``: such a
model's output means nothing) and ``fold_<k>/checkpoint_final.pth`` with nnU-Net's own
random initialisation, seeded per fold. :data:`FULL_SIZE` is the shape of a clinical
3d_fullres network (1.5 mm, patch 128^3, 6 stages of 32-320 features, about 31 M
parameters); random weights time it as well as trained ones.

>>> build_random_model(Path("/tmp/fullsize"), FULL_SIZE, folds=range(5))  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pipeline.structures import DEMO_LABELS


@dataclass(frozen=True)
class RandomModelSpec:
    """Shape of a random-weight model.

    Parameters
    ----------
    patch : tuple of 3 int
        Patch size (z, y, x), voxels.
    features : tuple of int
        Features per stage (one stride-2 downsampling per stage after the first).
    spacing_mm : tuple of 3 float
        Network spacing (z, y, x), mm.
    mirroring : tuple of int or None
        Axes the checkpoint allows test-time mirroring on (None: none).
    convs_per_stage : int
        Convolutions per encoder and decoder stage.
    """

    patch: tuple[int, int, int]
    features: tuple[int, ...]
    spacing_mm: tuple[float, float, float]
    mirroring: tuple[int, ...] | None = (0, 1, 2)
    convs_per_stage: int = 2


FULL_SIZE = RandomModelSpec(
    patch=(128, 128, 128), features=(32, 64, 128, 256, 320, 320), spacing_mm=(1.5, 1.5, 1.5)
)
"""nnU-Net's default 3d_fullres network for a CT task at 1.5 mm (about 31 M parameters)."""

SMALL = RandomModelSpec(patch=(16, 32, 32), features=(4, 8, 16), spacing_mm=(4.0, 4.0, 4.0))
"""A network that runs in milliseconds per patch on a CPU (tests)."""


def _configuration(spec: RandomModelSpec) -> dict[str, Any]:
    n = len(spec.features)
    resampling = {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None}
    return {
        "data_identifier": "nnUNetPlans_3d_fullres",
        "preprocessor_name": "DefaultPreprocessor",
        "batch_size": 2,
        "patch_size": list(spec.patch),
        "median_image_size_in_voxels": [float(p) * 2 for p in spec.patch],
        "spacing": list(spec.spacing_mm),
        "normalization_schemes": ["CTNormalization"],
        "use_mask_for_norm": [False],
        "resampling_fn_data": "resample_data_or_seg_to_shape",
        "resampling_fn_seg": "resample_data_or_seg_to_shape",
        "resampling_fn_data_kwargs": resampling,
        "resampling_fn_seg_kwargs": {**resampling, "is_seg": True, "order": 1},
        "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
        "resampling_fn_probabilities_kwargs": {**resampling, "order": 1},
        "architecture": {
            "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
            "arch_kwargs": {
                "n_stages": n,
                "features_per_stage": list(spec.features),
                "conv_op": "torch.nn.modules.conv.Conv3d",
                "kernel_sizes": [[3, 3, 3]] * n,
                "strides": [[1, 1, 1]] + [[2, 2, 2]] * (n - 1),
                "n_conv_per_stage": [spec.convs_per_stage] * n,
                "n_conv_per_stage_decoder": [spec.convs_per_stage] * (n - 1),
                "conv_bias": True,
                "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d",
                "norm_op_kwargs": {"eps": 1e-05, "affine": True},
                "dropout_op": None,
                "dropout_op_kwargs": None,
                "nonlin": "torch.nn.LeakyReLU",
                "nonlin_kwargs": {"inplace": True},
            },
            "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
        },
        "batch_dice": True,
    }


def _plans(spec: RandomModelSpec) -> dict[str, Any]:
    return {
        "dataset_name": "Dataset999_RandomWeights",
        "plans_name": "nnUNetPlans",
        "original_median_spacing_after_transp": list(spec.spacing_mm),
        "original_median_shape_after_transp": [256, 256, 256],
        "image_reader_writer": "SimpleITKIO",
        "transpose_forward": [0, 1, 2],
        "transpose_backward": [0, 1, 2],
        "configurations": {"3d_fullres": _configuration(spec)},
        "experiment_planner_used": "ExperimentPlanner",
        "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {
            "0": {
                "max": 1500.0,
                "mean": 90.0,
                "median": 95.0,
                "min": -1000.0,
                "percentile_00_5": -150.0,
                "percentile_99_5": 400.0,
                "std": 110.0,
            }
        },
    }


def _dataset() -> dict[str, Any]:
    return {
        "channel_names": {"0": "CT"},
        "labels": {"background": 0, **{s.value: v for v, s in DEMO_LABELS.items()}},
        "numTraining": 1,
        "file_ending": ".nii.gz",
        "name": "RandomWeights",
    }


def build_random_model(
    folder: Path, spec: RandomModelSpec, folds: Iterable[int] = (0,), seed: int = 0
) -> Path:
    """Write a trained-model folder with random weights (fold ``k`` seeded ``seed + k``).

    Parameters
    ----------
    folder : Path
        Folder to write (created; existing files are replaced).
    spec : RandomModelSpec
        Network and plans.
    folds : iterable of int
        Folds to write.
    seed : int
        Base seed of nnU-Net's weight initialisation.

    Returns
    -------
    Path
        ``folder``.
    """
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    plans, dataset = _plans(spec), _dataset()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plans.json").write_text(json.dumps(plans, indent=1))
    (folder / "dataset.json").write_text(json.dumps(dataset, indent=1))
    (folder / "dicomnode.json").write_text(
        json.dumps(
            {
                "name": "random-weights",
                "version": "0.0.0",
                "demo": True,
                "description": "Random weights (timing only) - not for clinical use.",
                "labels": {str(v): s.value for v, s in DEMO_LABELS.items()},
            },
            indent=1,
        )
    )
    manager = PlansManager(plans)
    for fold in folds:
        torch.manual_seed(seed + fold)
        network = nnUNetTrainer.build_network_architecture(
            manager,
            manager.get_configuration("3d_fullres"),
            1,
            len(dataset["labels"]),
            enable_deep_supervision=False,
        )
        (folder / f"fold_{fold}").mkdir(exist_ok=True)
        torch.save(
            {
                "network_weights": network.state_dict(),
                "init_args": {
                    "plans": plans,
                    "configuration": "3d_fullres",
                    "fold": fold,
                    "dataset_json": dataset,
                },
                "trainer_name": "nnUNetTrainer",
                "inference_allowed_mirroring_axes": spec.mirroring,
                "optimizer_state": None,
                "grad_scaler_state": None,
                "current_epoch": 0,
            },
            folder / f"fold_{fold}" / "checkpoint_final.pth",
        )
    return folder


def parameter_count(folder: Path, fold: int = 0) -> int:
    """Number of network parameters in a fold's checkpoint (tensors shared between modules,
    such as the encoder the decoder refers to, counted once)."""
    state = torch.load(
        folder / f"fold_{fold}" / "checkpoint_final.pth", map_location="cpu", weights_only=False
    )["network_weights"]
    unique = {v.data_ptr(): v.numel() for v in state.values()}
    return int(sum(unique.values()))


def spec_summary(spec: RandomModelSpec) -> dict[str, Sequence[Any]]:
    """The spec as JSON-ready lists."""
    return {
        "patch": list(spec.patch),
        "features": list(spec.features),
        "spacing_mm": list(spec.spacing_mm),
        "mirroring": list(spec.mirroring or ()),
    }
