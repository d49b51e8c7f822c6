"""Network-grid logits -> label map on the CT grid, one output slice at a time.

nnU-Net resamples every class's logits to the full input grid (float64 while it works: about
9 GB and minutes of one core for 14 classes on a 512x512x300 CT) and then takes the argmax.
The same interpolation is separable, so it is done here one output slice at a time:
each needed network slice is resized in-plane (bilinear) once, the two around an output
slice are interpolated along the slice axis, and the argmax is written as uint8. Memory
stays at a few slices of logits; the result is the label map nnU-Net's
``resample_data_or_seg_to_shape`` (order 1, ``order_z`` 0 when the spacing is
anisotropic) gives, up to float rounding at ties.

Coordinates follow nnU-Net and scikit-image (``align_corners=False``): output voxel ``o``
samples input position ``(o + 0.5) * n_in / n_out - 0.5``, clamped to the edge.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import NDArray
from torch.nn import functional

_BLOCK = 16
"""float32 lanes of the widest SIMD register torch uses on a CPU (AVX-512)."""


def _linear(n_in: int, n_out: int) -> tuple[NDArray[np.int64], NDArray[np.int64],
                                             NDArray[np.float32]]:
    """Lower and upper input index and the upper weight of each output index (linear)."""
    pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1)
    lower = np.floor(pos).astype(np.int64)
    upper = np.minimum(lower + 1, n_in - 1)
    return lower, upper, (pos - lower).astype(np.float32)


def _nearest(n_in: int, n_out: int) -> tuple[NDArray[np.int64], NDArray[np.int64],
                                              NDArray[np.float32]]:
    """Nearest input index of each output index, in the form of :func:`_linear`."""
    pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1)
    index = np.floor(pos + 0.5).astype(np.int64)
    return index, index, np.zeros(n_out, np.float32)


def foreground_box(logits: torch.Tensor) -> tuple[slice, slice, slice] | None:
    """Bounding box of the network voxels whose argmax is not class 0.

    Parameters
    ----------
    logits : torch.Tensor, shape (c, a, b, d)
        Class logits on the network grid.

    Returns
    -------
    tuple of 3 slice or None
        Index ranges (a, b, d); None where every voxel's first maximum is class 0.
    """
    with torch.no_grad():
        # argmax (the first maximum) is not 0 exactly where another class is larger
        fg = (logits[1:].amax(0) > logits[0]).numpy() if logits.shape[0] > 1 else None
    if fg is None or not fg.any():
        return None
    out = []
    for axis in range(3):
        idx = np.flatnonzero(fg.any(axis=tuple(a for a in range(3) if a != axis)))
        out.append(slice(int(idx[0]), int(idx[-1]) + 1))
    return out[0], out[1], out[2]


def _output_range(support: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]],
                  needed: slice, n_in: int) -> slice:
    """Output indices whose input support meets ``needed`` grown by one input index (the
    margin covers another rounding of the support's ends)."""
    lower, upper, _ = support
    lo, hi = max(0, needed.start - 1), min(n_in, needed.stop + 1) - 1
    hits = np.flatnonzero((upper >= lo) & (lower <= hi))
    return slice(int(hits[0]), int(hits[-1]) + 1) if hits.size else slice(0, 0)


def logits_to_labels(logits: torch.Tensor, shape: Sequence[int], *,
                     nearest_axis: int | None = None,
                     foreground_only: bool = True) -> NDArray[np.uint8]:
    """Resample class logits linearly to ``shape`` and return their argmax.

    With ``foreground_only`` the interpolation and the argmax run only on the output voxels
    whose interpolation support meets the box of the network voxels whose argmax is not
    class 0 (:func:`foreground_box`); the others are 0. This is the whole grid's result:
    an output voxel's logits are a weighted mean with non-negative weights of its support's
    logits, and where class 0 is a largest logit at every support voxel it is one of the
    mean too. The voxels inside are computed by the same operations as on the whole grid.

    Parameters
    ----------
    logits : torch.Tensor, shape (c, a, b, d)
        Class logits (or probabilities) on the network grid, float.
    shape : sequence of 3 int
        Output shape (a', b', d').
    nearest_axis : int, optional
        Spatial axis (0, 1 or 2) interpolated by nearest neighbour instead of linearly:
        nnU-Net's ``order_z=0`` along the low-resolution axis of an anisotropic image.
    foreground_only : bool
        Work only where the foreground can be (default), or on the whole output grid.

    Returns
    -------
    ndarray of uint8, shape ``shape``
        Index of the largest interpolated logit per voxel.
    """
    out_shape = tuple(int(s) for s in shape)
    stream = 0 if nearest_axis is None else nearest_axis
    order = [stream, *(a for a in range(3) if a != stream)]
    data = logits.float().permute(0, *(a + 1 for a in order)).contiguous()
    n_in = data.shape[1]
    n_out, plane = out_shape[stream], (out_shape[order[1]], out_shape[order[2]])
    lower, upper, weight = (_nearest if nearest_axis is not None else _linear)(n_in, n_out)
    result = np.zeros((n_out, *plane), np.uint8)
    window: tuple[slice, slice, slice] = (slice(0, n_out), slice(0, plane[0]),
                                          slice(0, plane[1]))
    if foreground_only:
        found = foreground_box(data)
        if found is None:
            return np.ascontiguousarray(result.transpose(np.argsort(order)))
        supports = [(lower, upper, weight), _linear(data.shape[2], plane[0]),
                    _linear(data.shape[3], plane[1])]
        cols = _output_range(supports[2], found[2], data.shape[3])
        # columns in whole SIMD blocks: every value is computed by the vector code, as on
        # the whole plane (a partial block's scalar code may round the lerp differently)
        cols = slice(cols.start - cols.start % _BLOCK,
                     min(plane[1], -(-cols.stop // _BLOCK) * _BLOCK))
        window = (_output_range(supports[0], found[0], data.shape[1]),
                  _output_range(supports[1], found[1], data.shape[2]), cols)
    rows, cols = window[1], window[2]
    cache: dict[int, torch.Tensor] = {}
    with torch.no_grad():
        for o in range(window[0].start, window[0].stop):
            low, high = int(lower[o]), int(upper[o])
            cache = {i: cache[i] for i in (low, high) if i in cache}
            missing = [i for i in dict.fromkeys((low, high)) if i not in cache]
            if missing:  # bilinear in-plane: (k, c, b, d) -> (k, c, b', d')
                planes = functional.interpolate(data[:, missing].transpose(0, 1), size=plane,
                                                mode="bilinear", align_corners=False)
                cache.update(zip(missing, planes[:, :, rows, cols].contiguous(), strict=True))
            mixed = cache[low] if high == low or weight[o] == 0.0 else torch.lerp(
                cache[low], cache[high], float(weight[o]))
            # torch.max's indices: the first maximum, like argmax, and several times faster
            result[o, rows, cols] = torch.max(mixed, 0).indices.to(torch.uint8).numpy()
    return np.ascontiguousarray(result.transpose(np.argsort(order)))
