"""nnU-Net v2 model folders shaped like TotalSegmentator's, with small random weights.

The layout is the one TotalSegmentator's tools leave under ``~/.totalsegmentator/nnunet/
results``: ``DatasetNNN_Name/<trainer>__nnUNetPlans__3d_fullres/{dataset.json, plans.json,
fold_0/checkpoint_final.pth}``, with TotalSegmentator v2's dataset folder names, trainer
names, one fold, and dataset.json class names and values of its ``map_to_binary.py``.
The plans keep nnU-Net's structure with the spacing four times coarser than the real
models' (1.5 mm -> 6 mm) and small patches and networks, so that a CPU runs the cascade on
a small synthetic study in seconds.

Weights: nnU-Net's own random initialisation (seeded), plus one designed path so that what
each model outputs is predictable: the first encoder stage and the last decoder stage pass
the (normalised) CT intensity through channel 0, the upsampling path is zero, and the
segmentation layer turns that intensity into bands: class ``c`` wins where the intensity
feature lies in ``[band[c], next band)``. The other segmentation-layer weights are random
and scaled by 1e-3. So the organs model calls the brightest tissue "liver", the cascade
crops to it, and every class of every model appears on a CT.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

TINY_PLANS = Path(__file__).parent / "unit" / "segment" / "models" / "tiny_organ" / "plans.json"
"""Plans of a tiny test model: the template for the structure of plans.json."""

ORGANS = (
    "spleen",
    "kidney_right",
    "kidney_left",
    "gallbladder",
    "liver",
    "stomach",
    "pancreas",
    "adrenal_gland_right",
    "adrenal_gland_left",
    "lung_upper_lobe_left",
    "lung_lower_lobe_left",
    "lung_upper_lobe_right",
    "lung_middle_lobe_right",
    "lung_lower_lobe_right",
    "esophagus",
    "trachea",
    "thyroid_gland",
    "small_bowel",
    "duodenum",
    "colon",
    "urinary_bladder",
    "prostate",
    "kidney_cyst_left",
    "kidney_cyst_right",
)
"""TotalSegmentator v2 'total' part 1 (Dataset291) classes 1-24."""

CARDIAC = (
    "heart",
    "aorta",
    "pulmonary_vein",
    "brachiocephalic_trunk",
    "subclavian_artery_right",
    "subclavian_artery_left",
    "common_carotid_artery_right",
    "common_carotid_artery_left",
    "brachiocephalic_vein_left",
    "brachiocephalic_vein_right",
    "atrial_appendage_left",
    "superior_vena_cava",
    "inferior_vena_cava",
    "portal_vein_and_splenic_vein",
    "iliac_artery_left",
    "iliac_artery_right",
    "iliac_vena_left",
    "iliac_vena_right",
)
"""TotalSegmentator v2 'total' part 3 (Dataset293) classes 1-18."""

SCALE = 4.0
"""How much coarser than the real models the shaped plans' spacing is."""


@dataclass(frozen=True)
class ShapedTask:
    """One TotalSegmentator task as a shaped folder.

    Parameters
    ----------
    dataset, trainer : str
        Dataset folder name and trainer class name, as TotalSegmentator names them.
    names : tuple of str
        Class names of labels 1..n.
    spacing : tuple of float
        Plans spacing (z, y, x), mm (the real model's x :data:`SCALE`).
    patch : tuple of int
        Patch size, voxels.
    bands : dict[int, float]
        Class -> lower bound of its intensity band (increasing with the class order given).
    mirroring : tuple of int or None
        ``inference_allowed_mirroring_axes`` of the checkpoint (None: trained without).
    channels : tuple of str
        dataset.json channel names: the CT, then cascade masks (``noNorm``).
    """

    dataset: str
    trainer: str
    names: tuple[str, ...]
    spacing: tuple[float, float, float]
    patch: tuple[int, int, int]
    bands: dict[int, float] = field(default_factory=dict)
    mirroring: tuple[int, ...] | None = None
    channels: tuple[str, ...] = ("CT",)

    @property
    def folder(self) -> str:
        """Trained-model folder below the results folder."""
        return f"{self.dataset}/{self.trainer}__nnUNetPlans__3d_fullres"


def _scaled(spacing: tuple[float, float, float]) -> tuple[float, float, float]:
    return (spacing[0] * SCALE, spacing[1] * SCALE, spacing[2] * SCALE)


TASKS: dict[str, ShapedTask] = {
    "total_organs": ShapedTask(
        "Dataset291_TotalSegmentator_part1_organs_1559subj",
        "nnUNetTrainerNoMirroring",
        ORGANS,
        _scaled((1.5, 1.5, 1.5)),
        (32, 64, 64),
        {5: 1.2},
    ),
    "total_vessels": ShapedTask(
        "Dataset293_TotalSegmentator_part3_cardiac_1559subj",
        "nnUNetTrainerNoMirroring",
        CARDIAC,
        _scaled((1.5, 1.5, 1.5)),
        (32, 64, 64),
        {14: 0.6, 13: 1.4},
    ),
    "liver_segments": ShapedTask(
        "Dataset570_ct_liver_segments",
        "nnUNetTrainerNoMirroring",
        tuple(f"liver_segment_{k}" for k in range(1, 9)),
        _scaled((1.5, 0.8046879768371582, 0.8046879768371582)),
        (32, 64, 64),
        {k: 0.2 * k for k in range(1, 9)},
    ),
    "liver_vessels": ShapedTask(
        "Dataset008_HepaticVessel",
        "nnUNetTrainer",
        ("liver_vessels", "liver_tumor"),
        _scaled((1.25, 0.8, 0.8)),
        (32, 64, 64),
        {1: 0.7, 2: 2.6},
        mirroring=(0, 1, 2),
    ),
}
"""The four tasks of the preset, by registry key."""


_MASK_STATS = ("max", "mean", "median", "min", "percentile_00_5", "percentile_99_5", "std")
"""Intensity statistics nnU-Net records for a channel (a mask channel: not used)."""


def _plans(task: ShapedTask) -> dict[str, Any]:
    template = json.loads(TINY_PLANS.read_text())
    configuration = copy.deepcopy(template["configurations"]["3d_tiny"])
    extra = len(task.channels) - 1
    configuration.update(
        normalization_schemes=["CTNormalization", *["NoNormalization"] * extra],
        use_mask_for_norm=[False] * len(task.channels),
        data_identifier="nnUNetPlans_3d_fullres",
        patch_size=list(task.patch),
        spacing=list(task.spacing),
        median_image_size_in_voxels=[32.0, 64.0, 64.0],
    )
    return {
        **template,
        "dataset_name": task.dataset,
        "plans_name": "nnUNetPlans",
        "original_median_spacing_after_transp": list(task.spacing),
        "configurations": {"3d_fullres": configuration},
        "foreground_intensity_properties_per_channel": {
            **{str(c): dict.fromkeys(_MASK_STATS, 1.0) for c in range(1, len(task.channels))},
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


def _dataset(task: ShapedTask) -> dict[str, Any]:
    return {
        "channel_names": {str(c): name for c, name in enumerate(task.channels)},
        "labels": {"background": 0, **{n: i for i, n in enumerate(task.names, 1)}},
        "numTraining": 1204,
        "file_ending": ".nii.gz",
    }


def _band_layer(
    bands: dict[int, float], n_classes: int, slope: float = 4.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights on feature 0 and biases of lines whose upper envelope is the bands.

    Class ``c_k`` (k-th band, lower bound ``t_k``) gets the line ``k s f - B_k`` with
    ``B_k = B_{k-1} + s t_k``: it meets the previous line at ``f = t_k``; background is 0;
    classes without a band get -100.
    """
    weight = torch.zeros(n_classes)
    bias = torch.full((n_classes,), -100.0)
    bias[0] = 0.0
    offset = 0.0
    for k, (cls, start) in enumerate(sorted(bands.items(), key=lambda kv: kv[1]), 1):
        offset += slope * start
        weight[cls] = slope * k
        bias[cls] = -offset
    return weight, bias


def _network_weights(
    task: ShapedTask, plans: dict[str, Any], dataset: dict[str, Any], seed: int
) -> dict[str, torch.Tensor]:
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    manager = PlansManager(plans)
    n_classes = len(dataset["labels"])
    torch.manual_seed(seed)
    network = nnUNetTrainer.build_network_architecture(
        manager,
        manager.get_configuration("3d_fullres"),
        len(task.channels),
        n_classes,
        enable_deep_supervision=False,
    )
    state = {k: v.detach().clone() for k, v in network.state_dict().items()}
    for name in ("encoder.stages.0.0.convs.0.conv", "encoder.stages.0.0.convs.1.conv"):
        state[f"{name}.weight"][0].zero_()
        state[f"{name}.weight"][0, 0, 1, 1, 1] = 1.0  # channel 0 passes channel 0 on
        state[f"{name}.bias"][0] = 0.0
    for name in [k for k in state if k.startswith("decoder.transpconvs.")]:
        state[name].zero_()
    last = (
        len([k for k in state if k.startswith("decoder.seg_layers.") and k.endswith(".bias")]) - 1
    )
    features = state["encoder.stages.0.0.convs.0.conv.weight"].shape[0]
    conv = f"decoder.stages.{last}.convs.0.conv"
    state[f"{conv}.weight"][0].zero_()
    state[f"{conv}.weight"][0, features, 1, 1, 1] = 1.0  # skip channel 0 (after upsampled)
    state[f"{conv}.bias"][0] = 0.0
    weight, bias = _band_layer(task.bands, n_classes)
    seg = state[f"decoder.seg_layers.{last}.weight"]
    seg.mul_(1e-3)
    seg[:, 0, 0, 0, 0] = weight
    state[f"decoder.seg_layers.{last}.bias"] = bias
    return state


def build_task(results: Path, key: str, seed: int = 0) -> Path:
    """Write one shaped trained-model folder of :data:`TASKS` below ``results``."""
    return build_shaped(results, TASKS[key], seed)


def build_shaped(results: Path, task: ShapedTask, seed: int = 0) -> Path:
    """Write the trained-model folder of ``task`` below ``results``; returns the folder."""
    folder = results / task.folder
    (folder / "fold_0").mkdir(parents=True, exist_ok=True)
    plans, dataset = _plans(task), _dataset(task)
    (folder / "plans.json").write_text(json.dumps(plans, indent=1))
    (folder / "dataset.json").write_text(json.dumps(dataset, indent=1))
    torch.save(
        {
            "network_weights": _network_weights(task, plans, dataset, seed),
            "init_args": {
                "plans": plans,
                "configuration": "3d_fullres",
                "fold": 0,
                "dataset_json": dataset,
            },
            "trainer_name": task.trainer,
            "inference_allowed_mirroring_axes": task.mirroring,
            "optimizer_state": None,
            "grad_scaler_state": None,
            "current_epoch": 0,
        },
        folder / "fold_0" / "checkpoint_final.pth",
    )
    return folder


def build_results(results: Path) -> Path:
    """All four shaped folders below ``results`` (a TotalSegmentator weights folder)."""
    for seed, key in enumerate(TASKS):
        build_task(results, key, seed)
    return results
