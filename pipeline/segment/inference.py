"""Running one nnU-Net v2 model in-process, fold by fold, on one image.

nnU-Net averages the logits of all folds inside ``predict_logits_from_preprocessed_data``;
to compare folds we preprocess once, run each fold's weights on the same preprocessed data
(``predict_sliding_window_return_logits``), keep each fold's label map on the network grid
for the agreement, and average the logits ourselves (as nnU-Net does) before resampling
once to the input grid. No process pools are started: the multiprocess file/array entry
points are never used.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from pipeline.segment.model_folders import ModelError, ModelInfo
from pipeline.segment.prepare import network_shape, run_case
from pipeline.segment.resample import logits_to_labels
from pipeline.segment.sliding_window import SlidingWindowPredictor, WindowOptions

_NNUNET_ENV = ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results")


def _quiet_nnunet_env() -> None:
    """nnU-Net warns when its folders are unset; inference needs none of them."""
    for var in _NNUNET_ENV:
        os.environ.setdefault(var, os.devnull)


@dataclass(frozen=True)
class FoldPrediction:
    """What one model produced for one image.

    Parameters
    ----------
    labelmap : ndarray of uint8, shape (z, y, x)
        Model label values on the input grid (fold logits averaged).
    fold_labelmaps : list of ndarray
        Each fold's argmax on the network (preprocessed) grid, for agreement.
    timings_s : dict[str, float]
        ``preprocess``, ``inference.fold_<k>``, ``resample`` in seconds.
    fold_voxel_ml : float
        Volume of one voxel of ``fold_labelmaps``, mL (the cropped input's volume over
        their voxel count).
    """

    labelmap: NDArray[np.uint8]
    fold_labelmaps: list[NDArray[np.uint8]]
    timings_s: dict[str, float]
    fold_voxel_ml: float


class ModelRunner:
    """A loaded nnU-Net v2 model whose folds can be run one at a time.

    Parameters
    ----------
    info : ModelInfo
        The verified model.
    device : torch.device
        Inference device.
    use_mirroring : bool
        Test-time mirroring on the axes the model allows.
    tile_step_size : float
        Sliding-window step as a fraction of the patch.
    window : WindowOptions, optional
        Who runs the sliding window and how (default: :class:`WindowOptions`'s defaults).
    """

    def __init__(self, info: ModelInfo, device: torch.device, use_mirroring: bool,
                 tile_step_size: float, window: WindowOptions | None = None) -> None:
        _quiet_nnunet_env()
        from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

        self.info = info
        self.device = device
        with contextlib.redirect_stdout(sys.stderr):  # nnU-Net prints notices to stdout
            self._predictor = nnUNetPredictor(
                tile_step_size=tile_step_size, use_gaussian=True, use_mirroring=use_mirroring,
                perform_everything_on_device=device.type == "cuda", device=device,
                verbose=False, verbose_preprocessing=False, allow_tqdm=False)
        try:
            self._predictor.initialize_from_trained_model_folder(
                str(Path(info.folder)), use_folds=info.folds, checkpoint_name=info.checkpoint)
        except Exception as exc:  # nnU-Net raises many kinds; all mean "cannot load"
            raise ModelError(f"model '{info.key}': nnU-Net cannot load {info.folder}: "
                             f"{type(exc).__name__}: {exc}") from exc
        self._parameters: list[dict[str, Any]] = list(self._predictor.list_of_parameters)
        self._window: SlidingWindowPredictor | None = None
        window = window or WindowOptions()
        cm = self._predictor.configuration_manager
        if window.own(device, cm.patch_size):
            self._window = SlidingWindowPredictor(
                self._predictor.network, self._parameters, cm.patch_size,
                self._predictor.label_manager.num_segmentation_heads, device,
                fold_keys=info.folds, mirror_axes=self.mirror_axes,
                tile_step_size=tile_step_size, tile_batch_size=window.tile_batch_size,
                precision=window.precision, compile_network=window.compile_network)

    @property
    def sliding_window(self) -> str:
        """Who runs the sliding window: ``dicomnode-<precision>`` or ``nnunet``."""
        return "nnunet" if self._window is None else f"dicomnode-{self._window.precision}"

    @property
    def network_spacing_mm(self) -> list[float]:
        """Spacing the network runs at (the plans' configuration), mm, in the plans' axis
        order (the input's when the plans do not transpose)."""
        return [float(v) for v in self._predictor.configuration_manager.spacing]

    @property
    def mirror_axes(self) -> list[int]:
        """Axes test-time mirroring flips: those the checkpoint allows, when mirroring is on
        (empty for models trained without mirroring or run without it)."""
        p = self._predictor
        return [int(a) for a in p.allowed_mirroring_axes or ()] if p.use_mirroring else []

    def preprocess(self, image: NDArray[np.float32],
                   spacing_mm: tuple[float, float, float]) -> tuple[torch.Tensor, dict[str, Any]]:
        """Crop, resample and normalise as nnU-Net did in training.

        With nnU-Net's ``DefaultPreprocessor`` and plans that resample the data with
        nnU-Net's ``resample_data_or_seg_to_shape`` this is :func:`prepare.run_case
        <pipeline.segment.prepare.run_case>`: the steps of its ``run_case_npy`` for an image
        without segmentation, one slab of slices at a time, with a separable spline resize
        (the same values up to float rounding, without nnU-Net's full-size float64 copies).
        It leaves out the resampling of the nonzero-mask segmentation that only training
        uses. Other resampling functions take nnU-Net's steps and function, other
        preprocessor classes their own ``run_case_npy``.

        Parameters
        ----------
        image : ndarray of float32, shape (c, z, y, x)
            Channel 0 CT in HU, further channels binary masks (not modified).
        spacing_mm : tuple of float
            Spacing (z, y, x) in mm, the order the model was trained with.

        Returns
        -------
        data : torch.Tensor, shape (c, z', y', x')
            Network input.
        properties : dict
            nnU-Net's bookkeeping for the way back to the input grid.
        """
        from nnunetv2.preprocessing.cropping.cropping import crop_to_nonzero
        from nnunetv2.preprocessing.preprocessors.default_preprocessor import (
            DefaultPreprocessor,
        )

        p = self._predictor
        cm, plans = p.configuration_manager, p.plans_manager
        preprocessor = cm.preprocessor_class(verbose=False)
        properties: dict[str, Any] = {"spacing": [float(s) for s in spacing_mm]}
        if type(preprocessor) is not DefaultPreprocessor:
            data, _, properties = preprocessor.run_case_npy(
                image, None, properties, plans, cm, p.dataset_json)
            return torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32)), properties
        prepared = run_case(image, spacing_mm, plans, cm)
        if prepared is not None:
            return torch.from_numpy(prepared[0]), prepared[1]
        data = image.astype(np.float32)  # a copy: normalisation works in place
        data = data.transpose([0, *[i + 1 for i in plans.transpose_forward]])
        original_spacing = [properties["spacing"][i] for i in plans.transpose_forward]
        properties["shape_before_cropping"] = data.shape[1:]
        data, seg, bbox = crop_to_nonzero(data, None)
        properties["bbox_used_for_cropping"] = bbox
        properties["shape_after_cropping_and_before_resampling"] = data.shape[1:]
        target_spacing, new_shape = network_shape(data.shape[1:], original_spacing, cm)
        data = preprocessor._normalize(data, seg, cm,
                                       plans.foreground_intensity_properties_per_channel)
        data = cm.resampling_fn_data(data, new_shape, original_spacing, target_spacing)
        return torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32)), properties

    def predict(self, image: NDArray[np.float32],
                spacing_mm: tuple[float, float, float]) -> FoldPrediction:
        """Run every fold on one image and return the averaged label map on its grid.

        Parameters
        ----------
        image : ndarray of float32, shape (c, z, y, x)
            Model input (see :meth:`preprocess`).
        spacing_mm : tuple of float
            Spacing (z, y, x) in mm.

        Returns
        -------
        FoldPrediction
            Label map in the model's label values, per-fold maps and timings.
        """
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        data, properties = self.preprocess(image, spacing_mm)
        timings["preprocess"] = time.perf_counter() - t0
        if self._window is not None:
            window = self._window.predict(data)
            timings.update({f"inference.{k}": v for k, v in window.timings_s.items()})
            total, fold_maps = window.logits, window.fold_labelmaps
        else:
            total, fold_maps = self._nnunet_folds(data, timings)
        t0 = time.perf_counter()
        labelmap = self._to_input_grid(total, properties)
        timings["resample"] = time.perf_counter() - t0
        if labelmap.shape != image.shape[1:]:
            raise ModelError(f"model '{self.info.key}': output shape {labelmap.shape} differs "
                             f"from input {image.shape[1:]}")
        cropped = properties["shape_after_cropping_and_before_resampling"]
        cropped_ml = float(np.prod(cropped)) * float(np.prod(spacing_mm)) / 1000.0
        return FoldPrediction(labelmap, fold_maps, timings,
                              cropped_ml / float(np.prod(fold_maps[0].shape)))

    def _nnunet_folds(self, data: torch.Tensor, timings: dict[str, float]
                      ) -> tuple[torch.Tensor, list[NDArray[np.uint8]]]:
        """nnU-Net's own sliding window, fold by fold: the folds' mean logits (host) and
        each fold's argmax."""
        p = self._predictor
        total: torch.Tensor | None = None
        fold_maps: list[NDArray[np.uint8]] = []
        for fold, params in zip(self.info.folds, self._parameters, strict=True):
            t0 = time.perf_counter()
            p.network.load_state_dict(params)
            logits = p.predict_sliding_window_return_logits(data).to("cpu", torch.float32)
            fold_maps.append(logits.argmax(0).numpy().astype(np.uint8))
            total = logits if total is None else total + logits
            timings[f"inference.fold_{fold}"] = time.perf_counter() - t0
        assert total is not None
        total /= len(self._parameters)
        return total, fold_maps

    def _to_input_grid(self, logits: torch.Tensor,
                       properties: dict[str, Any]) -> NDArray[np.uint8]:
        """Averaged logits on the network grid -> label map on the input grid.

        Plans that resample probabilities nnU-Net's default way (linear, nearest along the
        low-resolution axis of an anisotropic image) take :func:`logits_to_labels`, slice
        by slice on the device of ``logits`` (only the label map comes to the host); other
        plans take nnU-Net's own function, on a host copy of ``logits``.
        """
        from acvl_utils.cropping_and_padding.bounding_boxes import insert_crop_into_image
        from nnunetv2.configuration import ANISO_THRESHOLD
        from nnunetv2.inference.export_prediction import (
            convert_predicted_logits_to_segmentation_with_correct_shape,
        )
        from nnunetv2.preprocessing.resampling.default_resampling import (
            determine_do_sep_z_and_axis,
        )

        p = self._predictor
        configuration = p.configuration_manager.configuration
        kwargs = configuration.get("resampling_fn_probabilities_kwargs", {})
        if (configuration.get("resampling_fn_probabilities") != "resample_data_or_seg_to_shape"
                or kwargs.get("order", 3) != 1 or kwargs.get("order_z", 0) != 0
                or p.label_manager.has_regions):
            seg = convert_predicted_logits_to_segmentation_with_correct_shape(
                logits.to("cpu"), p.plans_manager, p.configuration_manager, p.label_manager,
                properties, return_probabilities=False, num_threads_torch=torch.get_num_threads())
            return np.asarray(seg, dtype=np.uint8)
        forward = p.plans_manager.transpose_forward
        separate_z, axis = determine_do_sep_z_and_axis(
            kwargs.get("force_separate_z"), p.configuration_manager.spacing,
            [properties["spacing"][i] for i in forward],
            kwargs.get("separate_z_anisotropy_threshold", ANISO_THRESHOLD))
        cropped = logits_to_labels(logits, properties["shape_after_cropping_and_before_resampling"],
                                   nearest_axis=axis if separate_z else None)
        full = np.zeros(properties["shape_before_cropping"], dtype=np.uint8)
        full = insert_crop_into_image(full, cropped, properties["bbox_used_for_cropping"])
        return np.asarray(full, dtype=np.uint8).transpose(p.plans_manager.transpose_backward)
