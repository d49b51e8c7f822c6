"""A small nnU-Net v2 plans configuration for models that train and run on a few CPU cores.

nnU-Net's planner sizes the network for a GPU (32..320 features, large patches). We keep its
fingerprint-derived parts (normalisation, resampling functions) and replace the network
and patch with a small, fixed one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SmallPlan:
    """Size of the network and its training patch.

    Parameters
    ----------
    configuration : str
        Name of the plans configuration written (e.g. ``3d_small``).
    spacing_mm : tuple[float, float, float]
        Target spacing (z, y, x) in mm the data are resampled to.
    patch_size : tuple[int, int, int]
        Training patch (z, y, x) in voxels; each side divisible by 2**(stages-1).
    features_per_stage : tuple[int, ...]
        Feature maps per encoder stage; its length is the number of stages.
    batch_size : int
        Patches per training iteration.
    n_conv_per_stage_decoder : int
        Convolutions per decoder stage.
    """

    configuration: str
    spacing_mm: tuple[float, float, float]
    patch_size: tuple[int, int, int]
    features_per_stage: tuple[int, ...]
    batch_size: int = 2
    n_conv_per_stage_decoder: int = 1


def apply_small_plan(plans: dict[str, Any], plan: SmallPlan, plans_name: str) -> dict[str, Any]:
    """Return plans holding only ``plan.configuration``, derived from the planner's 3d_fullres.

    Parameters
    ----------
    plans : dict
        Plans written by nnU-Net's ``ExperimentPlanner`` (must contain ``3d_fullres``).
    plan : SmallPlan
        The network and patch to use.
    plans_name : str
        Plans identifier (file stem) of the result.

    Returns
    -------
    dict
        New plans (the input is not modified). The axis order is left as is
        (``transpose_forward`` = identity), so the network sees (z, y, x).
    """
    out = copy.deepcopy(plans)
    base = copy.deepcopy(out["configurations"]["3d_fullres"])
    n_stages = len(plan.features_per_stage)
    for side in plan.patch_size:
        if side % 2 ** (n_stages - 1):
            raise ValueError(f"patch side {side} not divisible by 2**{n_stages - 1}")
    base["data_identifier"] = f"{plans_name}_{plan.configuration}"
    base["spacing"] = list(plan.spacing_mm)
    base["patch_size"] = list(plan.patch_size)
    base["batch_size"] = plan.batch_size
    base["batch_dice"] = True
    arch = base["architecture"]["arch_kwargs"]
    arch["n_stages"] = n_stages
    arch["features_per_stage"] = list(plan.features_per_stage)
    arch["kernel_sizes"] = [[3, 3, 3]] * n_stages
    arch["strides"] = [[1, 1, 1]] + [[2, 2, 2]] * (n_stages - 1)
    arch["n_conv_per_stage"] = [2] * n_stages
    arch["n_conv_per_stage_decoder"] = [plan.n_conv_per_stage_decoder] * (n_stages - 1)
    out["configurations"] = {plan.configuration: base}
    out["plans_name"] = plans_name
    out["transpose_forward"] = [0, 1, 2]
    out["transpose_backward"] = [0, 1, 2]
    return out
