"""Network-grid logits -> label map on the CT grid, one output slice at a time.

nnU-Net resamples every class's logits to the full input grid (float64 while it works: about
9 GB and minutes of one core for 14 classes on a 512x512x300 CT) and then takes the argmax.
The same interpolation is separable, so it is done here one output slice at a time:
each needed network slice is resized in-plane (bilinear) once, the two around an output
slice are interpolated along the slice axis, and the argmax is written as uint8. Memory
stays at a few slices of logits; the result is the label map nnU-Net's
``resample_data_or_seg_to_shape`` (order 1, ``order_z`` 0 when the spacing is
anisotropic) gives, up to float rounding at ties. All of it runs on the device of the
logits (a GPU's: the label map too); only the uint8 label map is copied to the host, once.

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

_Support = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]
"""Lower and upper input index of each output index and the upper one's weight."""


def _linear(n_in: int, n_out: int) -> _Support:
    """Lower and upper input index and the upper weight of each output index (linear)."""
    pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1)
    lower = np.floor(pos).astype(np.int64)
    upper = np.minimum(lower + 1, n_in - 1)
    return lower, upper, (pos - lower).astype(np.float32)


def _nearest(n_in: int, n_out: int) -> _Support:
    """Nearest input index of each output index, in the form of :func:`_linear`."""
    pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1)
    index = np.floor(pos + 0.5).astype(np.int64)
    return index, index, np.zeros(n_out, np.float32)


def foreground_box(logits: torch.Tensor) -> tuple[slice, slice, slice] | None:
    """Bounding box of the network voxels whose argmax is not class 0.

    The mask and its per-axis projections are computed where ``logits`` are; only the
    projections (``a + b + d`` booleans) are copied to the host.

    Parameters
    ----------
    logits : torch.Tensor, shape (c, a, b, d)
        Class logits on the network grid, on any device.

    Returns
    -------
    tuple of 3 slice or None
        Index ranges (a, b, d); None where every voxel's first maximum is class 0.
    """
    if logits.shape[0] < 2:
        return None
    with torch.no_grad():
        # argmax (the first maximum) is not 0 exactly where another class is larger
        fg = logits[1:].amax(0) > logits[0]
        plane = fg.any(2)
        along = torch.cat([plane.any(1), plane.any(0), fg.any(1).any(0)]).cpu().numpy()
    a, b = logits.shape[1], logits.shape[2]
    out = []
    for hits in (along[:a], along[a:a + b], along[a + b:]):
        idx = np.flatnonzero(hits)
        if not idx.size:
            return None
        out.append(slice(int(idx[0]), int(idx[-1]) + 1))
    return out[0], out[1], out[2]


def _output_range(support: _Support, needed: slice, n_in: int) -> slice:
    """Output indices whose input support meets ``needed`` grown by one input index (the
    margin covers another rounding of the support's ends)."""
    lower, upper, _ = support
    lo, hi = max(0, needed.start - 1), min(n_in, needed.stop + 1) - 1
    hits = np.flatnonzero((upper >= lo) & (lower <= hi))
    return slice(int(hits[0]), int(hits[-1]) + 1) if hits.size else slice(0, 0)


def _zeros(shape: tuple[int, int, int], device: torch.device) -> torch.Tensor:
    """uint8 zeros on ``device``; on the CPU numpy's (calloc: the kernel zeroes a page when it
    is first touched, where ``torch.zeros`` writes every byte first: about 35 ms for
    300x512x512 on two cores)."""
    if device.type == "cpu":
        return torch.from_numpy(np.zeros(shape, np.uint8))
    return torch.zeros(shape, dtype=torch.uint8, device=device)


def _foreground_window(data: torch.Tensor, stream: _Support, plane: tuple[int, int]
                       ) -> tuple[slice, slice, slice] | None:
    """Output index ranges (streamed axis, plane rows, plane columns) whose interpolation
    support meets the foreground box of ``data`` (c, n, rows, columns); None without
    foreground."""
    found = foreground_box(data)
    if found is None:
        return None
    cols = _output_range(_linear(data.shape[3], plane[1]), found[2], data.shape[3])
    # columns in whole SIMD blocks: every value is computed by the vector code, as on the
    # whole plane (a partial block's scalar code may round the lerp differently); on other
    # devices the wider window changes nothing but a few columns' work
    cols = slice(cols.start - cols.start % _BLOCK,
                 min(plane[1], -(-cols.stop // _BLOCK) * _BLOCK))
    return (_output_range(stream, found[0], data.shape[1]),
            _output_range(_linear(data.shape[2], plane[0]), found[1], data.shape[2]), cols)


def _write_labels(result: torch.Tensor, data: torch.Tensor, stream: _Support,
                  window: tuple[slice, slice, slice]) -> None:
    """Write the argmax of the interpolated ``data`` (c, n, rows, columns) into ``window`` of
    ``result`` (n', rows', columns'), one output slice at a time, on their device.

    Each needed input slice is resized in-plane (bilinear) once; ``stream`` gives each
    output slice's lower and upper input slice and the upper one's weight.
    """
    lower, upper, weight = stream
    plane = (result.shape[1], result.shape[2])
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
            result[o, rows, cols] = torch.max(mixed, 0).indices.to(torch.uint8)


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

    Everything runs on the device of ``logits``, the label map included; what crosses to
    the host is the foreground box's per-axis projections and, once at the end, the uint8
    label map (on the CPU that is no copy at all).

    Parameters
    ----------
    logits : torch.Tensor, shape (c, a, b, d)
        Class logits (or probabilities) on the network grid, float, on any device.
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
        Index of the largest interpolated logit per voxel (host memory).
    """
    out_shape = tuple(int(s) for s in shape)
    stream = 0 if nearest_axis is None else nearest_axis
    order = [stream, *(a for a in range(3) if a != stream)]
    data = logits.float().permute(0, *(a + 1 for a in order)).contiguous()
    n_in = data.shape[1]
    n_out, plane = out_shape[stream], (out_shape[order[1]], out_shape[order[2]])
    lower, upper, weight = (_nearest if nearest_axis is not None else _linear)(n_in, n_out)
    result = _zeros((n_out, *plane), data.device)
    window = (_foreground_window(data, (lower, upper, weight), plane) if foreground_only
              else (slice(0, n_out), slice(0, plane[0]), slice(0, plane[1])))
    if window is not None:
        _write_labels(result, data, (lower, upper, weight), window)
    # the label map's one copy to the host (none on the CPU); numpy's transpose copy is
    # about twice as fast as torch's for uint8 on the CPU, and none for the identity
    return np.ascontiguousarray(result.cpu().numpy().transpose(np.argsort(order)))
