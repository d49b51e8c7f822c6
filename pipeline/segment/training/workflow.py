"""Plan, preprocess, train and package a small nnU-Net v2 model with nnU-Net's Python API.

The caller sets the environment variables ``nnUNet_raw``, ``nnUNet_preprocessed`` and
``nnUNet_results`` (scratch folders) before calling; the packaged model folder needs none
of them.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from nnunetv2.experiment_planning.plan_and_preprocess_api import (
    extract_fingerprints,
    plan_experiments,
    preprocess,
)

from pipeline.segment.training.export import TrainingCase, dataset_folder_name, write_raw_dataset
from pipeline.segment.training.plans import SmallPlan, apply_small_plan
from pipeline.segment.training.trainer import nnUNetTrainerDicomnodeShort

PLANS_NAME = "nnUNetPlansSmall"
"""Plans identifier of the small configuration."""

_DA_ENV = "nnUNet_n_proc_DA"
"""nnU-Net's environment variable for the number of augmentation worker processes."""

INFERENCE_TRAINER_NAME = "nnUNetTrainer"
"""Trainer name stored in packaged checkpoints: the network is built exactly like the stock
trainer's, and nnU-Net's predictor can only find trainers inside the nnunetv2 package."""


def _env_path(name: str) -> Path:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} must name a scratch folder")
    return Path(value)


def prepare_dataset(
    dataset_id: int,
    name: str,
    cases: Sequence[TrainingCase],
    channel_names: Sequence[str],
    label_names: dict[int, str],
    plan: SmallPlan,
    splits: list[dict[str, list[str]]],
    num_processes: int = 2,
) -> None:
    """Write the raw dataset, extract its fingerprint, plan it small and preprocess it.

    Parameters
    ----------
    dataset_id : int
        nnU-Net dataset id.
    name : str
        Dataset name.
    cases : sequence of TrainingCase
        Training cases (validation cases of every fold included).
    channel_names : sequence of str
        nnU-Net channel names (``"CT"``, ``"noNorm"``).
    label_names : dict[int, str]
        Label value -> name (background excluded).
    plan : SmallPlan
        Network and patch size.
    splits : list of dict
        One ``{"train": [...], "val": [...]}`` per fold (written as ``splits_final.json``).
    num_processes : int
        Worker processes for fingerprinting and preprocessing.
    """
    write_raw_dataset(_env_path("nnUNet_raw"), dataset_id, name, cases, channel_names,
                      label_names)
    extract_fingerprints([dataset_id], num_processes=num_processes, check_dataset_integrity=True,
                         show_progress_bar=False)
    plan_experiments([dataset_id])
    folder = _env_path("nnUNet_preprocessed") / dataset_folder_name(dataset_id, name)
    planned = json.loads((folder / "nnUNetPlans.json").read_text())
    small = apply_small_plan(planned, plan, PLANS_NAME)
    (folder / f"{PLANS_NAME}.json").write_text(json.dumps(small, indent=2))
    preprocess([dataset_id], PLANS_NAME, [plan.configuration], [num_processes],
               show_progress_bar=False)
    (folder / "splits_final.json").write_text(json.dumps(splits, indent=2))


def train_fold(
    dataset_id: int,
    name: str,
    plan: SmallPlan,
    fold: int,
    epochs: int,
    iterations_per_epoch: int,
    val_iterations_per_epoch: int,
    seed: int,
    threads: int = 2,
    augmentation_processes: int = 1,
    time_budget_s: float | None = None,
    init_weights: Path | None = None,
) -> Path:
    """Train one fold on the CPU with :class:`nnUNetTrainerDicomnodeShort`.

    Parameters
    ----------
    dataset_id, name : int, str
        The prepared dataset.
    plan : SmallPlan
        The plan it was prepared with.
    fold : int
        Fold index into ``splits_final.json``.
    epochs, iterations_per_epoch, val_iterations_per_epoch : int
        Training schedule (iterations are batches).
    seed : int
        Seed of Python, NumPy and torch (augmentation in worker processes is not seeded
        by nnU-Net, so multi-process runs are not bit-reproducible).
    threads : int
        torch CPU threads.
    augmentation_processes : int
        Data-augmentation worker processes (0 runs augmentation in this process).
    time_budget_s : float, optional
        Wall-clock budget of the fold; fewer epochs are run where they would not fit.
    init_weights : Path, optional
        A checkpoint of the same network (e.g. this fold of the packaged model) whose
        weights, segmentation layers included, start the training instead of a random
        initialisation (the learning-rate schedule starts afresh).

    Returns
    -------
    Path
        The trainer's output folder (holding ``plans.json``, ``dataset.json``, ``fold_*``).
    """
    previous_da = os.environ.get(_DA_ENV)
    os.environ[_DA_ENV] = str(augmentation_processes)
    torch.set_num_threads(threads)
    random.seed(seed + fold)
    np.random.seed(seed + fold)
    torch.manual_seed(seed + fold)
    folder = _env_path("nnUNet_preprocessed") / dataset_folder_name(dataset_id, name)
    plans = json.loads((folder / f"{PLANS_NAME}.json").read_text())
    plans["continue_training"] = False
    dataset_json = json.loads((folder / "dataset.json").read_text())
    trainer = nnUNetTrainerDicomnodeShort(plans, plan.configuration, fold, dataset_json,
                                          device=torch.device("cpu"))
    trainer.num_epochs = epochs
    trainer.num_iterations_per_epoch = iterations_per_epoch
    trainer.num_val_iterations_per_epoch = val_iterations_per_epoch
    trainer.time_budget_s = time_budget_s
    if init_weights is not None:
        trainer.initialize()
        checkpoint = torch.load(init_weights, map_location="cpu", weights_only=False)
        trainer.network.load_state_dict(checkpoint["network_weights"])
    try:
        trainer.run_training()
    finally:
        if previous_da is None:
            os.environ.pop(_DA_ENV, None)
        else:
            os.environ[_DA_ENV] = previous_da
    return Path(trainer.output_folder_base)


def package_model(results: Path, folds: Sequence[int], dest: Path,
                  metadata: dict[str, Any]) -> None:
    """Copy a trained model into a self-contained nnU-Net model folder.

    Each fold keeps only ``checkpoint_final.pth`` with the optimizer and grad-scaler state
    removed and the trainer name set to :data:`INFERENCE_TRAINER_NAME`; ``dicomnode.json``
    (name, version, demo flag, description, label mapping, training record) is written
    beside ``dataset.json``.

    Parameters
    ----------
    results : Path
        Trainer output folder.
    folds : sequence of int
        Folds to package.
    dest : Path
        Destination model folder (replaced).
    metadata : dict
        Content of ``dicomnode.json``.
    """
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for fname in ("dataset.json", "plans.json", "dataset_fingerprint.json"):
        shutil.copy2(results / fname, dest / fname)
    for fold in folds:
        src = results / f"fold_{fold}"
        (dest / f"fold_{fold}").mkdir()
        checkpoint = torch.load(src / "checkpoint_final.pth", map_location="cpu",
                                weights_only=False)
        checkpoint["optimizer_state"] = None
        checkpoint["grad_scaler_state"] = None
        checkpoint["trainer_name"] = INFERENCE_TRAINER_NAME
        torch.save(checkpoint, dest / f"fold_{fold}" / "checkpoint_final.pth")
        for log in sorted(src.glob("training_log_*.txt"))[-1:]:
            shutil.copy2(log, dest / f"fold_{fold}" / "training_log.txt")
    (dest / "dicomnode.json").write_text(json.dumps(metadata, indent=2) + "\n")
