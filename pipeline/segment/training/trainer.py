"""A short nnU-Net v2 trainer for small CPU-trained models.

``nnUNetTrainer`` runs 1000 epochs of 250 iterations with heavy augmentation and test-time
mirroring; this subclass takes its epoch and iteration counts from the caller, keeps a light
augmentation pipeline (rotation/scaling, noise, brightness, contrast) and trains without
mirroring, because mirroring swaps left and right and so Couinaud segments. The network is
built exactly as ``nnUNetTrainer`` builds it, so a checkpoint loads with the stock trainer.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from batchgeneratorsv2.transforms.base.basic_transform import BasicTransform
from batchgeneratorsv2.transforms.intensity.brightness import MultiplicativeBrightnessTransform
from batchgeneratorsv2.transforms.intensity.contrast import BGContrast, ContrastTransform
from batchgeneratorsv2.transforms.intensity.gaussian_noise import GaussianNoiseTransform
from batchgeneratorsv2.transforms.nnunet.seg_to_onehot import MoveSegAsOneHotToDataTransform
from batchgeneratorsv2.transforms.spatial.spatial import SpatialTransform
from batchgeneratorsv2.transforms.utils.compose import ComposeTransforms
from batchgeneratorsv2.transforms.utils.deep_supervision_downsampling import (
    DownsampleSegForDSTransform,
)
from batchgeneratorsv2.transforms.utils.random import RandomTransform
from batchgeneratorsv2.transforms.utils.remove_label import RemoveLabelTansform
from nnunetv2.training.data_augmentation.compute_initial_patch_size import get_patch_size
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

MAX_ROTATION_RAD = 15.0 / 180.0 * np.pi
"""Largest random rotation of the augmentation, radians."""


class nnUNetTrainerDicomnodeShort(nnUNetTrainer):  # noqa: N801 (nnU-Net's naming)
    """nnU-Net trainer with a caller-set schedule, light augmentation and no mirroring.

    Set ``num_epochs``, ``num_iterations_per_epoch``, ``num_val_iterations_per_epoch`` and
    optionally ``time_budget_s`` on the instance before ``run_training``. With a time budget,
    the number of epochs is cut after each epoch to what still fits (mean epoch time so far),
    and the polynomial learning-rate schedule is shortened with it, so training ends annealed
    within the budget.
    """

    time_budget_s: float | None = None
    num_epochs: int

    def __init__(self, plans: dict[str, Any], configuration: str, fold: int,
                 dataset_json: dict[str, Any], device: torch.device | None = None):
        super().__init__(plans, configuration, fold, dataset_json,
                         device if device is not None else torch.device("cpu"))
        self.save_every = 5

    def _fit_to_budget(self, started: float, loop_started: float, requested: int) -> None:
        """Set ``num_epochs`` (and the LR schedule) to what fits in the time budget.

        The estimate is the mean epoch time since the loop started, from the third epoch on;
        the count never exceeds the requested epochs.
        """
        done = self.current_epoch
        if self.time_budget_s is None or done < 3:
            return
        now = time.monotonic()
        per_epoch = (now - loop_started) / done
        remaining = self.time_budget_s - (now - started)
        fits = min(requested, done + max(0, int(remaining // per_epoch)))
        if fits != self.num_epochs:
            self.print_to_log_file(f"time budget: {self.num_epochs} -> {fits} epochs")
            self.num_epochs = fits
            self.lr_scheduler.max_steps = fits

    def run_training(self) -> None:
        """nnU-Net's training loop, with the epoch count re-checked against the budget."""
        started = time.monotonic()
        requested = self.num_epochs
        self.on_train_start()
        loop_started = time.monotonic()
        while self.current_epoch < self.num_epochs:
            self.on_epoch_start()
            self.on_train_epoch_start()
            train_outputs = [self.train_step(next(self.dataloader_train))
                             for _ in range(self.num_iterations_per_epoch)]
            self.on_train_epoch_end(train_outputs)
            with torch.no_grad():
                self.on_validation_epoch_start()
                val_outputs = [self.validation_step(next(self.dataloader_val))
                               for _ in range(self.num_val_iterations_per_epoch)]
                self.on_validation_epoch_end(val_outputs)
            self.on_epoch_end()
            self._fit_to_budget(started, loop_started, requested)
        self.on_train_end()

    def configure_rotation_dummyDA_mirroring_and_inital_patch_size(  # noqa: N802
        self,
    ) -> tuple[tuple[float, float], bool, Any, tuple[int, ...]]:
        """Small rotations, no pseudo-2D augmentation and no mirroring (train or test)."""
        patch_size = self.configuration_manager.patch_size
        rotation = (-MAX_ROTATION_RAD, MAX_ROTATION_RAD)
        initial_patch_size = get_patch_size(patch_size, rotation, rotation, rotation, (0.85, 1.15))
        self.inference_allowed_mirroring_axes = None
        return rotation, False, initial_patch_size, ()

    @staticmethod
    def get_training_transforms(
        patch_size: Any,
        rotation_for_DA: Any,  # noqa: N803 (parent's argument name)
        deep_supervision_scales: Any,
        mirror_axes: Any,
        do_dummy_2d_data_aug: bool,
        use_mask_for_norm: Any = None,
        is_cascaded: bool = False,
        foreground_labels: Any = None,
        regions: Any = None,
        ignore_label: Any = None,
    ) -> BasicTransform:
        """Rotation/scaling, noise, brightness and contrast; nothing else."""
        transforms: list[BasicTransform] = [
            SpatialTransform(
                patch_size, patch_center_dist_from_border=0, random_crop=False,
                p_elastic_deform=0, p_rotation=0.2, rotation=rotation_for_DA, p_scaling=0.2,
                scaling=(0.85, 1.15), p_synchronize_scaling_across_axes=1,
                bg_style_seg_sampling=False, border_mode_seg="constant", padding_value_seg=-1),
            RandomTransform(GaussianNoiseTransform(noise_variance=(0, 0.05), p_per_channel=1,
                                                   synchronize_channels=True),
                            apply_probability=0.1),
            RandomTransform(MultiplicativeBrightnessTransform(
                multiplier_range=BGContrast((0.85, 1.15)), synchronize_channels=False,
                p_per_channel=1), apply_probability=0.15),
            RandomTransform(ContrastTransform(contrast_range=BGContrast((0.85, 1.15)),
                                              preserve_range=True, synchronize_channels=False,
                                              p_per_channel=1), apply_probability=0.15),
            RemoveLabelTansform(-1, 0),
        ]
        if is_cascaded:
            transforms.append(MoveSegAsOneHotToDataTransform(
                source_channel_idx=1, all_labels=foreground_labels,
                remove_channel_from_source=True))
        if deep_supervision_scales is not None:
            transforms.append(DownsampleSegForDSTransform(ds_scales=deep_supervision_scales))
        return ComposeTransforms(transforms)

    def plot_network_architecture(self) -> None:
        """Skipped (needs hiddenlayer/graphviz and time)."""
