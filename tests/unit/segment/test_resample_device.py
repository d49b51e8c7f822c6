"""The device-aware way back to the CT grid: the same label maps as the host version it
replaced, and only the label map leaves the logits' device."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from scipy import ndimage
from torch.nn import functional
from torch.overrides import TorchFunctionMode

from pipeline.segment.resample import (
    _BLOCK,
    _linear,
    _nearest,
    _output_range,
    foreground_box,
    logits_to_labels,
)

CASES = [
    # network shape, output shape, nearest axis
    ((20, 30, 25), (64, 150, 125), None),   # upsampling
    ((20, 30, 25), (16, 171, 143), 0),      # anisotropic: z nearest
    ((10, 40, 40), (30, 20, 20), None),     # mixed up/down
    ((30, 30, 8), (43, 43, 5), 2),          # low-res last axis
    ((12, 9, 30), (20, 40, 33), 1),         # low-res middle axis
]


def _host_foreground_box(logits: torch.Tensor) -> tuple[slice, slice, slice] | None:
    """The host version's :func:`foreground_box` (the mask as a numpy array)."""
    fg = (logits[1:].amax(0) > logits[0]).numpy() if logits.shape[0] > 1 else None
    if fg is None or not fg.any():
        return None
    out = []
    for axis in range(3):
        idx = np.flatnonzero(fg.any(axis=tuple(a for a in range(3) if a != axis)))
        out.append(slice(int(idx[0]), int(idx[-1]) + 1))
    return out[0], out[1], out[2]


def _host_logits_to_labels(logits: torch.Tensor, shape: Sequence[int],
                           nearest_axis: int | None, foreground_only: bool
                           ) -> NDArray[np.uint8]:
    """The host version of :func:`logits_to_labels` as it was (label map in numpy, each
    slice's argmax copied into it)."""
    out_shape = tuple(int(s) for s in shape)
    stream = 0 if nearest_axis is None else nearest_axis
    order = [stream, *(a for a in range(3) if a != stream)]
    data = logits.float().permute(0, *(a + 1 for a in order)).contiguous()
    n_in = data.shape[1]
    n_out, plane = out_shape[stream], (out_shape[order[1]], out_shape[order[2]])
    lower, upper, weight = (_nearest if nearest_axis is not None else _linear)(n_in, n_out)
    result = np.zeros((n_out, *plane), np.uint8)
    window = (slice(0, n_out), slice(0, plane[0]), slice(0, plane[1]))
    if foreground_only:
        found = _host_foreground_box(data)
        if found is None:
            return np.ascontiguousarray(result.transpose(np.argsort(order)))
        cols = _output_range(_linear(data.shape[3], plane[1]), found[2], data.shape[3])
        cols = slice(cols.start - cols.start % _BLOCK,
                     min(plane[1], -(-cols.stop // _BLOCK) * _BLOCK))
        window = (_output_range((lower, upper, weight), found[0], data.shape[1]),
                  _output_range(_linear(data.shape[2], plane[0]), found[1], data.shape[2]),
                  cols)
    rows, cols = window[1], window[2]
    cache: dict[int, torch.Tensor] = {}
    for o in range(window[0].start, window[0].stop):
        low, high = int(lower[o]), int(upper[o])
        cache = {i: cache[i] for i in (low, high) if i in cache}
        missing = [i for i in dict.fromkeys((low, high)) if i not in cache]
        if missing:
            planes = functional.interpolate(data[:, missing].transpose(0, 1), size=plane,
                                            mode="bilinear", align_corners=False)
            cache.update(zip(missing, planes[:, :, rows, cols].contiguous(), strict=True))
        mixed = cache[low] if high == low or weight[o] == 0.0 else torch.lerp(
            cache[low], cache[high], float(weight[o]))
        result[o, rows, cols] = torch.max(mixed, 0).indices.to(torch.uint8).numpy()
    return np.ascontiguousarray(result.transpose(np.argsort(order)))


def _logits(seed: int, shape: tuple[int, ...], blobs: bool) -> torch.Tensor:
    """Smooth random logits of 5 classes; with ``blobs`` class 0 everywhere but in a box
    off the centre (a foreground window smaller than the grid, not SIMD-block aligned)."""
    rng = np.random.default_rng(seed)
    logits = ndimage.gaussian_filter(rng.normal(size=(5, *shape)), (0, 1, 1, 1))
    if blobs:
        logits[0] += 1.0
        box = tuple(slice(n // 4 + 1, n // 4 + 1 + max(1, n // 3)) for n in shape)
        logits[(int(rng.integers(1, 5)), *box)] += 3.0
    return torch.from_numpy(logits.astype(np.float32))


@pytest.mark.parametrize(("shape_in", "shape_out", "nearest"), CASES)
@pytest.mark.parametrize("blobs", [False, True])
@pytest.mark.parametrize("foreground_only", [False, True])
def test_cpu_labels_equal_the_host_versions(shape_in: tuple[int, ...],
                                            shape_out: tuple[int, ...], nearest: int | None,
                                            blobs: bool, foreground_only: bool) -> None:
    logits = _logits(sum(shape_in), shape_in, blobs)
    reference = _host_logits_to_labels(logits, shape_out, nearest, foreground_only)
    labels = logits_to_labels(logits, shape_out, nearest_axis=nearest,
                              foreground_only=foreground_only)
    assert isinstance(labels, np.ndarray) and labels.dtype == np.uint8
    assert labels.flags.c_contiguous
    assert reference.any() and np.array_equal(labels, reference)


@pytest.mark.parametrize(("shape_in", "shape_out", "nearest"), CASES)
def test_foreground_box_equals_the_host_versions(shape_in: tuple[int, ...],
                                                 shape_out: tuple[int, ...],
                                                 nearest: int | None) -> None:
    for seed in range(3):
        logits = _logits(seed, shape_in, blobs=True)
        assert foreground_box(logits) == _host_foreground_box(logits)
    background = torch.zeros((3, *shape_in))
    background[0] = 1.0
    assert foreground_box(background) is None


class _HostCopies(TorchFunctionMode):
    """Records the tensors the code reads on the host or copies to the CPU: (call, dtype,
    shape)."""

    def __init__(self) -> None:
        super().__init__()
        self.copies: list[tuple[str, torch.dtype, tuple[int, ...]]] = []

    def __torch_function__(self, func: Callable[..., Any], types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        to_cpu = name == "to" and any(
            isinstance(a, str | torch.device) and torch.device(a).type == "cpu"
            for a in (*args[1:], kwargs.get("device")) if a is not None)
        if name in {"numpy", "cpu", "tolist", "item", "__array__"} or to_cpu:
            tensor = args[0]
            self.copies.append((name, tensor.dtype, tuple(tensor.shape)))
        return func(*args, **kwargs)


@pytest.mark.parametrize(("shape_in", "shape_out", "nearest"), CASES)
@pytest.mark.parametrize("foreground_only", [False, True])
def test_only_the_label_map_leaves_the_device(shape_in: tuple[int, ...],
                                              shape_out: tuple[int, ...],
                                              nearest: int | None,
                                              foreground_only: bool) -> None:
    logits = _logits(1, shape_in, blobs=True)
    with _HostCopies() as mode:
        labels = logits_to_labels(logits, shape_out, nearest_axis=nearest,
                                  foreground_only=foreground_only)
    assert labels.any()
    # small: the foreground box's per-axis projections (a + b + d booleans); large: only
    # the uint8 label map (its axes in the order it was built in)
    large = [c for c in mode.copies if int(np.prod(c[2])) > sum(shape_in)]
    assert large and all(c[1] == torch.uint8 and sorted(c[2]) == sorted(shape_out)
                         for c in large), mode.copies
    assert [c[0] for c in large].count("numpy") == 1, mode.copies


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="needs a CUDA device (none here): the device path on a GPU; the "
                           "CPU tests above run the same code on the CPU")
@pytest.mark.parametrize(("shape_in", "shape_out", "nearest"), CASES)
def test_cuda_labels_match_the_cpus(shape_in: tuple[int, ...], shape_out: tuple[int, ...],
                                    nearest: int | None) -> None:
    logits = _logits(sum(shape_out), shape_in, blobs=True)
    on_cpu = logits_to_labels(logits, shape_out, nearest_axis=nearest)
    whole = logits_to_labels(logits.cuda(), shape_out, nearest_axis=nearest,
                             foreground_only=False)
    boxed = logits_to_labels(logits.cuda(), shape_out, nearest_axis=nearest)
    assert isinstance(boxed, np.ndarray) and boxed.dtype == np.uint8
    assert foreground_box(logits.cuda()) == foreground_box(logits)
    # the in-plane interpolation runs on the whole plane, lerp and argmax per voxel: the
    # window changes no value on the device either
    assert np.array_equal(boxed, whole)
    assert (boxed == on_cpu).mean() > 0.9999
