"""Segmentation presets: whole model registries and stage lists named by one word.

``pipeline.segmentation.preset: totalsegmentator`` runs the liver cascade of
TotalSegmentator's public nnU-Net v2 weights from the folders a site installed with
TotalSegmentator's own tools (``totalseg_download_weights``, ``totalseg_import_weights``).
Nothing is downloaded here. The facts below were read from TotalSegmentator's repository
(``totalsegmentator/python_api.py``, ``map_tasks_config.py``, ``map_to_binary.py``,
``config.py``, ``nnunet.py``); ``docs/totalsegmentator.md`` says which were verified there
and which are assumed.

A preset is configuration data (the same keys a YAML file would give), so that
``dicomnode config show`` prints what it expands to and a site may override any part.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

TOTALSEGMENTATOR = "totalsegmentator"
"""Name of the TotalSegmentator preset."""

TOTALSEG_WEIGHTS_ENV = "TOTALSEG_WEIGHTS_PATH"
"""TotalSegmentator's variable naming its nnU-Net results folder directly."""

TOTALSEG_HOME_ENV = "TOTALSEG_HOME_DIR"
"""TotalSegmentator's home folder variable (weights under ``nnunet/results``)."""


def totalsegmentator_weights_dir() -> Path:
    """Where TotalSegmentator's tools put their weights, as TotalSegmentator finds them.

    ``$TOTALSEG_WEIGHTS_PATH``; else ``$TOTALSEG_HOME_DIR/nnunet/results``; else
    ``~/.totalsegmentator/nnunet/results`` (``/tmp/.totalsegmentator/...`` when the home
    folder is ``/``, as in TotalSegmentator's containers).

    Returns
    -------
    Path
        The nnU-Net results folder holding one ``DatasetNNN_Name`` folder per task.
    """
    weights = os.environ.get(TOTALSEG_WEIGHTS_ENV)
    if weights:
        return Path(weights)
    home_env = os.environ.get(TOTALSEG_HOME_ENV)
    if home_env:
        home = Path(home_env)
    else:
        user_home = Path.home()
        home = (Path("/tmp") if str(user_home) == "/" else user_home) / ".totalsegmentator"
    return home / "nnunet" / "results"


def _folder(dataset: str, trainer: str) -> str:
    """nnU-Net's trained-model folder ``Dataset/trainer__plans__configuration``."""
    return f"{dataset}/{trainer}__nnUNetPlans__3d_fullres"


def _model(
    dataset: str,
    trainer: str,
    name: str,
    version: str,
    labels: dict[int, str],
    label_names: dict[int, str],
    description: str,
) -> dict[str, Any]:
    return {
        "folder": _folder(dataset, trainer),
        "folds": [0],
        "name": name,
        "version": version,
        "trainer": trainer,
        "plans": "nnUNetPlans",
        "configuration": "3d_fullres",
        "use_mirroring": False,
        "labels": labels,
        "unmapped_labels": "background",
        "label_names": label_names,
        "description": description,
    }


_LUNG_LOBES = {
    10: "lung_upper_lobe_left",
    11: "lung_lower_lobe_left",
    12: "lung_upper_lobe_right",
    13: "lung_middle_lobe_right",
    14: "lung_lower_lobe_right",
}

TOTALSEGMENTATOR_MODELS: dict[str, dict[str, Any]] = {
    "total_organs": _model(
        "Dataset291_TotalSegmentator_part1_organs_1559subj",
        "nnUNetTrainerNoMirroring",
        "TotalSeg-291",
        "v2.0.0-weights",
        {5: "liver", **dict.fromkeys(_LUNG_LOBES, "lung")},
        {5: "liver", **_LUNG_LOBES},
        "TotalSegmentator 'total' part 1 (organs, 24 classes): liver = class 5, lung = the "
        "five lobes 10-14; its other 18 classes are background here.",
    ),
    "total_vessels": _model(
        "Dataset293_TotalSegmentator_part3_cardiac_1559subj",
        "nnUNetTrainerNoMirroring",
        "TotalSeg-293",
        "v2.0.0-weights",
        {13: "ivc", 14: "portal_vein"},
        {13: "inferior_vena_cava", 14: "portal_vein_and_splenic_vein"},
        "TotalSegmentator 'total' part 3 (cardiac, 18 classes): IVC = class 13; class 14 is "
        "the portal AND splenic vein, reported as portal vein after clipping to 30 mm from "
        "the liver; its other 16 classes are background here.",
    ),
    "liver_segments": _model(
        "Dataset570_ct_liver_segments",
        "nnUNetTrainerNoMirroring",
        "TotalSeg-570",
        "v2.5.0-weights",
        {k: f"couinaud_{k}" for k in range(1, 9)},
        {k: f"liver_segment_{k}" for k in range(1, 9)},
        "TotalSegmentator 'liver_segments' (task 570): Couinaud segments 1-8, run on the CT "
        "cropped to the liver + 10 mm; trained without mirroring.",
    ),
    "liver_vessels": _model(
        "Dataset008_HepaticVessel",
        "nnUNetTrainer",
        "TotalSeg-008",
        "v2.4.0-weights",
        {2: "metastasis"},
        {1: "liver_vessels", 2: "liver_tumor"},
        "TotalSegmentator 'liver_vessels' (task 8, Medical Segmentation Decathlon hepatic "
        "vessel data): liver tumour (any liver tumour, not only metastases) reported as "
        "metastasis; its vessel class mixes portal and hepatic veins and is not reported "
        "(those voxels stay liver / segment). Run on the CT cropped to the liver + 20 mm.",
    ),
}
"""The four TotalSegmentator models of the cascade (registry keys -> ModelConfig data).

Class numbers are those of TotalSegmentator v2's ``map_to_binary.class_map_5_parts`` and
``class_map``; v1's single-model numbering (IVC 8, portal vein 9) does not apply."""

TOTALSEGMENTATOR_STAGES: list[dict[str, Any]] = [
    {"model": "total_organs"},
    {"model": "total_vessels", "crop_to": ["liver"], "crop_margin_mm": 30.0},
    {"model": "liver_segments", "crop_to": ["liver"], "crop_margin_mm": 10.0},
    {"model": "liver_vessels", "crop_to": ["liver"], "crop_margin_mm": 20.0},
]
"""Stage order: the organs part on the whole CT finds the liver, the others run on crops
around it (the cardiac part within 30 mm, the distance the portal vein is clipped to)."""


def preset_fields(name: str) -> dict[str, Any]:
    """The segmentation fields a preset sets (configuration data, not yet validated).

    Parameters
    ----------
    name : str
        Preset name (only ``totalsegmentator`` exists).

    Returns
    -------
    dict
        ``models`` and ``stages`` as a YAML file would give them.

    Raises
    ------
    ValueError
        Unknown preset.
    """
    if name != TOTALSEGMENTATOR:
        raise ValueError(f"unknown segmentation preset {name!r} (known: {TOTALSEGMENTATOR})")
    return {
        "models": {k: dict(v) for k, v in TOTALSEGMENTATOR_MODELS.items()},
        "stages": [dict(s) for s in TOTALSEGMENTATOR_STAGES],
    }
