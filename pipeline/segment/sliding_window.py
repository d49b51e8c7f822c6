"""nnU-Net's sliding-window prediction, with all folds warm and the work kept on the device.

nnU-Net's ``nnUNetPredictor`` runs one fold at a time: it loads the fold's weights into its
one network, predicts every tile on its own (each mirrored copy in a forward pass of its
own), accumulates the tiles in float16, divides by the summed Gaussian weights, and
:mod:`pipeline.segment.inference` used to copy each fold's logits to the host to take the
argmax and the running sum there. This module computes the same prediction (nnU-Net's
tiles: its ``compute_steps_for_sliding_window``, ``pad_nd_image`` and
``compute_gaussian``) with:

- every fold's network built and loaded once, on the device (``warm``);
- tiles, and their mirrored copies, batched into one forward pass of up to
  ``tile_batch_size`` patches;
- the networks run under autocast in bf16 or fp16 when asked (``precision``); the
  accumulation is float32 whatever the precision;
- the normalisations that cannot change an argmax (the mirror mean, the Gaussian weight sum,
  the fold mean) left out of the per-fold sums and applied once to the folds' sum;
- each fold's argmax taken on the device and only its uint8 label map copied back; the
  folds' mean logits stay on the device for the way back to the CT grid.

>>> predictor = SlidingWindowPredictor(network, folds, (128, 128, 128), 13,
...                                    torch.device("cuda"))  # doctest: +SKIP
>>> result = predictor.predict(data)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

Precision = Literal["auto", "fp32", "bf16", "fp16"]
"""Precision of the networks' forward passes (the sums are float32 in every case)."""

_AUTOCAST: dict[str, torch.dtype | None] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def resolve_precision(setting: Precision, device: torch.device) -> str:
    """The precision a run uses: ``auto`` is fp16 on CUDA, fp32 on the CPU.

    fp16 is nnU-Net's own autocast precision on CUDA, the one its models are trained with
    (mixed precision with a gradient scaler), as fast as bf16 on tensor cores and with three
    more mantissa bits: on the demo model bf16 changed up to 1 % of a thin structure's
    voxels (docs/segmentation-gpu.md).

    Parameters
    ----------
    setting : {'auto', 'fp32', 'bf16', 'fp16'}
        Configured precision.
    device : torch.device
        Device the networks run on.

    Returns
    -------
    str
        ``fp32``, ``bf16`` or ``fp16``.
    """
    if setting != "auto":
        return setting
    return "fp16" if device.type == "cuda" else "fp32"


CPU_BATCH_VOXELS = 4 * 32 * 48 * 64
"""Voxels of the patches of one forward pass on the CPU: four of the demo model's patches."""


def resolve_tile_batch(
    setting: int | None, device: torch.device, patch_size: Sequence[int]
) -> int:
    """Patches per forward pass: the configured number, else 8 on CUDA and on the CPU as many
    as hold :data:`CPU_BATCH_VOXELS` (at most 4, at least 1).

    On the CPU, PyTorch runs a float32 3-D convolution of a single small patch with its slow
    im2col kernel (``aten::slow_conv3d_forward``) and batches of two or more with oneDNN:
    one demo-model patch (32 x 48 x 64) at a time, as nnU-Net runs its tiles, was 3-5 times
    slower than four. A 128^3 patch of a full-size network already takes oneDNN for most of
    its compute at one patch per pass; batching its mirrored copies only moved more memory
    (8 per pass was slower than 1 and 2 on two cores), so it gets one
    (docs/segmentation-gpu.md).

    Parameters
    ----------
    setting : int or None
        Configured patches per pass (``tile_batch_size``); None: the default here.
    device : torch.device
        Where the networks run.
    patch_size : sequence of int
        The configuration's patch, voxels.

    Returns
    -------
    int
        Patches per forward pass, at least 1.
    """
    if setting is not None:
        return max(1, setting)
    if device.type == "cuda":
        return 8
    return max(1, min(4, CPU_BATCH_VOXELS // int(np.prod(patch_size))))


def mirror_flips(axes: Sequence[int]) -> list[tuple[int, ...]]:
    """Flip dimensions of a (n, c, z, y, x) batch for test-time mirroring, in nnU-Net's order.

    Parameters
    ----------
    axes : sequence of int
        Spatial axes the model allows mirroring on (0 = z); empty: no mirroring.

    Returns
    -------
    list of tuple of int
        ``()`` (the unflipped patch) first, then every non-empty combination of the axes
        (shifted by 2 for the batch and channel dimensions) as nnU-Net enumerates them.
    """
    dims = [int(a) + 2 for a in axes]
    return [(), *(c for k in range(1, len(dims) + 1) for c in itertools.combinations(dims, k))]


def tile_starts(shape: Sequence[int], patch: Sequence[int], step: float) -> list[tuple[int, ...]]:
    """Start corner of every tile, in nnU-Net's order (its ``compute_steps_for_sliding_window``).

    Parameters
    ----------
    shape : sequence of int
        Spatial shape of the (padded) image, voxels; at least ``patch`` along every axis.
    patch : sequence of int
        Patch size, voxels.
    step : float
        Step as a fraction of the patch (0 < step <= 1).

    Returns
    -------
    list of tuple of int
    """
    from nnunetv2.inference.sliding_window_prediction import compute_steps_for_sliding_window

    steps = compute_steps_for_sliding_window(tuple(shape), tuple(patch), step)
    return [tuple(int(s) for s in c) for c in itertools.product(*steps)]


def gaussian_weights(patch: Sequence[int], device: torch.device) -> torch.Tensor:
    """nnU-Net's Gaussian importance map of a patch, float32 on ``device``.

    nnU-Net's ``compute_gaussian`` (sigma 1/8 of the patch, peak 10, no zeros), cast to
    float32 instead of its float16.
    """
    from nnunetv2.inference.sliding_window_prediction import compute_gaussian

    return compute_gaussian(
        tuple(int(p) for p in patch),
        sigma_scale=1.0 / 8,
        value_scaling_factor=10,
        dtype=torch.float32,
        device=device,
    ).clone()


@dataclass(frozen=True)
class WindowOptions:
    """How a model's sliding window is run (:class:`~pipeline.segment.config.SegmentationConfig`).

    Parameters
    ----------
    predictor : {'auto', 'dicomnode', 'nnunet'}
        :class:`SlidingWindowPredictor` or nnU-Net's ``nnUNetPredictor``; ``auto``: ours
        for 3-D configurations (the faster on the CPU and on CUDA), nnU-Net's for 2-D.
    precision, tile_batch_size, compile_network
        As :class:`SlidingWindowPredictor`.
    """

    predictor: Literal["auto", "dicomnode", "nnunet"] = "auto"
    precision: Precision = "auto"
    tile_batch_size: int | None = None
    compile_network: bool = False

    def own(self, device: torch.device, patch_size: Sequence[int]) -> bool:
        """Whether :class:`SlidingWindowPredictor` runs a model with ``patch_size`` here."""
        return len(patch_size) == 3 and self.predictor != "nnunet"


@dataclass
class WindowPrediction:
    """What the folds predicted on one network-grid image.

    Parameters
    ----------
    logits : torch.Tensor, shape (classes, z, y, x), float32
        Mean over folds of nnU-Net's sliding-window logits, on the predictor's device.
    fold_labelmaps : list of ndarray of uint8, shape (z, y, x)
        Each fold's argmax (host memory).
    timings_s : dict[str, float]
        ``fold_<k>`` seconds per fold (its forward passes, sums and argmax).
    """

    logits: torch.Tensor
    fold_labelmaps: list[NDArray[np.uint8]]
    timings_s: dict[str, float]


class SlidingWindowPredictor:
    """All folds of one 3-D nnU-Net model, loaded once on a device.

    Parameters
    ----------
    network : torch.nn.Module
        The model's network (nnU-Net's ``build_network_architecture``, without deep
        supervision); copied once per fold, not modified.
    fold_parameters : sequence of dict
        Each fold's ``network_weights`` (state dict); the fold keys name them.
    patch_size : sequence of 3 int
        The configuration's patch size, voxels.
    num_classes : int
        Output channels of the network (nnU-Net's ``num_segmentation_heads``).
    device : torch.device
        Where the networks, the image and the sums live.
    fold_keys : sequence of int or str, optional
        Names of the folds in the timings (default 0, 1, ...).
    mirror_axes : sequence of int
        Spatial axes mirrored at test time (empty: none).
    tile_step_size : float
        Step between tiles as a fraction of the patch (nnU-Net's 0.5 by default).
    tile_batch_size : int, optional
        Patches (tiles times mirrored copies) per forward pass; None:
        :func:`resolve_tile_batch`.
    precision : {'auto', 'fp32', 'bf16', 'fp16'}
        Autocast precision of the forward passes (:func:`resolve_precision`).
    compile_network : bool
        ``torch.compile`` each fold's network (CUDA only; ignored on the CPU). The last,
        short batch is padded to the full batch so that the compiled graphs see one shape.
    """

    def __init__(
        self,
        network: nn.Module,
        fold_parameters: Sequence[dict[str, Any]],
        patch_size: Sequence[int],
        num_classes: int,
        device: torch.device,
        *,
        fold_keys: Sequence[int | str] | None = None,
        mirror_axes: Sequence[int] = (),
        tile_step_size: float = 0.5,
        tile_batch_size: int | None = None,
        precision: Precision = "auto",
        compile_network: bool = False,
    ) -> None:
        if len(patch_size) != 3:
            raise ValueError(f"3-D patches only, got {tuple(patch_size)}")
        if not fold_parameters:
            raise ValueError("no fold parameters")
        self.device = device
        self.patch_size = tuple(int(p) for p in patch_size)
        self.num_classes = int(num_classes)
        self.fold_keys = (
            list(fold_keys) if fold_keys is not None else list(range(len(fold_parameters)))
        )
        self.flips = mirror_flips(mirror_axes)
        self.tile_step_size = tile_step_size
        self.tile_batch_size = resolve_tile_batch(tile_batch_size, device, self.patch_size)
        self.precision = resolve_precision(precision, device)
        self.compiled = compile_network and device.type == "cuda"
        self.networks: list[nn.Module] = []
        for params in fold_parameters:
            net = copy.deepcopy(network)
            net.load_state_dict(params)
            net = net.to(device).eval().requires_grad_(False)
            self.networks.append(cast(nn.Module, torch.compile(net)) if self.compiled else net)
        self.gaussian = gaussian_weights(self.patch_size, device)

    def _forward(self, net: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of patches (float32), under the configured autocast."""
        dtype = _AUTOCAST[self.precision]
        if dtype is None:
            return net(batch)
        with torch.autocast(self.device.type, dtype=dtype):
            return net(batch).float()

    def _fold_sum(
        self, net: nn.Module, data: torch.Tensor, starts: list[tuple[int, ...]], out: torch.Tensor
    ) -> None:
        """Add one fold's Gaussian-weighted, mirror-summed tile logits into ``out``."""
        pz, py, px = self.patch_size
        n_flips = len(self.flips)
        tiles_per_batch = max(1, self.tile_batch_size // n_flips)
        for b0 in range(0, len(starts), tiles_per_batch):
            chunk = starts[b0 : b0 + tiles_per_batch]
            tiles = [data[:, z : z + pz, y : y + py, x : x + px] for z, y, x in chunk]
            x = torch.stack(tiles) if len(tiles) > 1 else tiles[0][None]
            # one patch per forward when the batch cannot hold the mirrored copies together
            groups = [[f] for f in self.flips] if self.tile_batch_size < n_flips else [self.flips]
            summed: torch.Tensor | None = None
            for group in groups:
                batch = torch.cat([x.flip(f) if f else x for f in group])
                if self.compiled and batch.shape[0] < tiles_per_batch * len(group):
                    pad = tiles_per_batch * len(group) - batch.shape[0]
                    batch = torch.cat([batch, batch.new_zeros((pad, *batch.shape[1:]))])
                logits = self._forward(net, batch)
                for i, f in enumerate(group):
                    part = logits[i * len(chunk) : (i + 1) * len(chunk)]
                    part = part.flip(f) if f else part
                    summed = part if summed is None else summed.add_(part)
            assert summed is not None
            summed.mul_(self.gaussian)
            for (z, y, x0), tile in zip(chunk, summed, strict=True):
                out[:, z : z + pz, y : y + py, x0 : x0 + px] += tile

    def _weight_sum(self, shape: Sequence[int], starts: list[tuple[int, ...]]) -> torch.Tensor:
        """Sum of the Gaussian weights of every tile covering each voxel."""
        pz, py, px = self.patch_size
        weight = torch.zeros(tuple(shape), dtype=torch.float32, device=self.device)
        for z, y, x in starts:
            weight[z : z + pz, y : y + py, x : x + px] += self.gaussian
        return weight

    @torch.inference_mode()
    def predict(self, data: torch.Tensor) -> WindowPrediction:
        """Sliding-window logits of every fold on one preprocessed image.

        Parameters
        ----------
        data : torch.Tensor, shape (c, z, y, x)
            Network input (nnU-Net's preprocessing), any device.

        Returns
        -------
        WindowPrediction
            Fold-mean logits (float32, on the device) and each fold's uint8 argmax (host).
        """
        from acvl_utils.cropping_and_padding.padding import pad_nd_image

        if data.ndim != 4:
            raise ValueError(f"data must be (c, z, y, x), got {tuple(data.shape)}")
        data = data.to(self.device, torch.float32)
        padded, revert = pad_nd_image(data, self.patch_size, "constant", {"value": 0}, True, None)
        shape = tuple(int(s) for s in padded.shape[1:])
        starts = tile_starts(shape, self.patch_size, self.tile_step_size)
        crop = (slice(None), *revert[1:])
        total: torch.Tensor | None = None
        fold_acc: torch.Tensor | None = None
        fold_maps: list[NDArray[np.uint8]] = []
        timings: dict[str, float] = {}
        for key, net in zip(self.fold_keys, self.networks, strict=True):
            t0 = time.perf_counter()
            if fold_acc is None:
                fold_acc = torch.zeros(
                    (self.num_classes, *shape), dtype=torch.float32, device=self.device
                )
            else:
                fold_acc.zero_()
            self._fold_sum(net, padded, starts, fold_acc)
            # the weight sum and mirror count are positive per voxel: no effect on the argmax
            fold_maps.append(_argmax_uint8(fold_acc[crop]))
            if len(self.networks) == 1:
                total = fold_acc
            elif total is None:
                total = fold_acc.clone()
            else:
                total += fold_acc
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            timings[f"fold_{key}"] = time.perf_counter() - t0
        assert total is not None
        norm = self._weight_sum(shape, starts).mul_(len(self.flips) * len(self.networks))
        total.div_(norm)
        return WindowPrediction(total[crop], fold_maps, timings)


def _argmax_uint8(logits: torch.Tensor) -> NDArray[np.uint8]:
    """Argmax over classes (the first maximum, as ``argmax``) as uint8, copied to the host."""
    return torch.max(logits, 0).indices.to(torch.uint8).cpu().numpy()
