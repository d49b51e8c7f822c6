"""nnU-Net's ``DefaultPreprocessor`` for one image, one slab of slices at a time.

nnU-Net prepares an image by cropping it to its nonzero region, normalising it and resizing
it to the network spacing with scikit-image's ``resize`` (``order=3, mode='edge',
anti_aliasing=False``), which is ``scipy.ndimage.zoom(..., grid_mode=True, mode='nearest')``
on the whole float64 volume followed by a clip to the input's range. On a 512x512x300 CT
that is a float64 copy, an edge-padded copy, a B-spline prefilter along each of the three
axes of the full volume, and a binary hole filling of the full nonzero mask: seconds of
memory traffic and about 2.4 GB more memory.

The same result is computed here with less work:

* The bounding box of nnU-Net's nonzero mask is the bounding box of the nonzero voxels:
  ``binary_fill_holes`` only adds voxels enclosed along every axis by nonzero voxels. A CT
  has air (-1000 HU) in its corners, so checking the six faces of the volume usually
  suffices. The mask itself is computed (with nnU-Net's ``crop_to_nonzero``) only when a
  channel's normalisation might use it.
* Spline zooming with ``mode='nearest'`` is separable: the prefilter, the edge padding and
  the interpolation act along one axis at a time, so the zoom is a product of one matrix
  per axis (``n_out x n_in``, taken from ``scipy.ndimage.zoom`` of unit vectors, hence the
  same boundary handling). The volume is read slab by slab along one axis, each slab is
  normalised (pointwise normalisations), resized in-plane by two matrix products, and the
  reduced stack is finally resized along the slab axis. Nothing of full size is copied.
* nnU-Net's anisotropic path (``do_separate_z``: in-plane per slice, each slice clipped to
  its own range, then ``map_coordinates`` with ``order_z`` along the low-resolution axis)
  is the same product with that axis last; with ``order_z=0`` only the slices it selects
  are resized.

Everything is computed in float64 like nnU-Net and rounded to float32 at the end; results
equal nnU-Net's up to the rounding of float64 sums in another order (a float32 result may
differ in its last bit).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

SLAB_VOXELS = 1 << 22
"""Input voxels read, normalised and resized in-plane at a time (32 MiB in float64)."""

HANDLED_KWARGS = frozenset({"is_seg", "order", "order_z", "force_separate_z",
                            "separate_z_anisotropy_threshold"})
"""Keyword arguments of ``resample_data_or_seg_to_shape`` that :func:`resample_data` takes."""

Normalizer = Callable[[NDArray[np.float32]], NDArray[np.float32]]
"""Pointwise normalisation of a float32 block, in place (returns the normalised block)."""


def nonzero_bbox(data: NDArray[Any]) -> list[list[int]]:
    """Bounding box of nnU-Net's nonzero mask, without computing the mask.

    nnU-Net's ``create_nonzero_mask`` marks voxels nonzero in any channel and fills holes
    (``scipy.ndimage.binary_fill_holes``, face connectivity). A filled voxel lies between
    nonzero voxels along every axis (otherwise a straight line of zero voxels would join it
    to the border), so the filled mask has the bounding box of the nonzero voxels.

    Parameters
    ----------
    data : ndarray, shape (c, a, b, d)
        Image channels, any numeric dtype.

    Returns
    -------
    list of [start, stop]
        Half-open voxel ranges per spatial axis, as ``get_bbox_from_mask`` returns them
        (the whole axis where no voxel is nonzero).
    """
    spatial = data.shape[1:]
    faces = [(axis, index) for axis in range(len(spatial)) for index in (0, spatial[axis] - 1)]
    if all(np.any(np.take(data, index, axis=axis + 1)) for axis, index in faces):
        return [[0, n] for n in spatial]    # the usual CT: nonzero on every face
    mask = np.any(data != 0, axis=0)
    bbox = []
    for axis, n in enumerate(spatial):
        hits = np.flatnonzero(np.any(mask, axis=tuple(a for a in range(mask.ndim) if a != axis)))
        bbox.append([int(hits[0]), int(hits[-1]) + 1] if hits.size else [0, n])
    return bbox


@functools.lru_cache(maxsize=64)
def zoom_matrix(n_in: int, n_out: int, order: int) -> NDArray[np.float64]:
    """One axis of scikit-image's ``resize(order, mode='edge', anti_aliasing=False)``.

    Column ``j`` is ``scipy.ndimage.zoom`` of the ``j``-th unit vector with the arguments
    ``resize`` passes (``mode='nearest'``, ``grid_mode=True``, spline prefilter): output
    voxel ``o`` samples input position ``(o + 0.5) * n_in / n_out - 0.5``. The clip to the
    input range that ``resize`` applies afterwards is not included.

    Parameters
    ----------
    n_in, n_out : int
        Input and output length, voxels.
    order : int
        Spline order (0 to 5).

    Returns
    -------
    ndarray of float64, shape (n_out, n_in)
        Read-only.
    """
    from scipy import ndimage

    matrix = np.empty((n_out, n_in))
    unit = np.zeros(n_in)
    for j in range(n_in):
        unit[j] = 1.0
        matrix[:, j] = ndimage.zoom(unit, 1 / (n_in / n_out), order=order, mode="nearest",
                                    grid_mode=True)
        unit[j] = 0.0
    matrix.flags.writeable = False
    return matrix


@functools.lru_cache(maxsize=64)
def map_matrix(n_in: int, n_out: int, order: int) -> NDArray[np.float64]:
    """nnU-Net's resampling along the low-resolution axis of an anisotropic image.

    Column ``j`` is ``scipy.ndimage.map_coordinates`` of the ``j``-th unit vector at the
    positions ``resample_data_or_seg`` computes (``n_in / n_out * (o + 0.5) - 0.5``,
    ``mode='nearest'``); with ``order=0`` each row selects one input slice.

    Parameters
    ----------
    n_in, n_out : int
        Input and output length, voxels (slices).
    order : int
        Spline order ``order_z`` (0 to 5).

    Returns
    -------
    ndarray of float64, shape (n_out, n_in)
        Read-only.
    """
    from scipy import ndimage

    coords = (float(n_in) / n_out * (np.arange(n_out) + 0.5) - 0.5)[None]
    matrix = np.empty((n_out, n_in))
    unit = np.zeros(n_in)
    for j in range(n_in):
        unit[j] = 1.0
        matrix[:, j] = ndimage.map_coordinates(unit, coords, order=order, mode="nearest")
        unit[j] = 0.0
    matrix.flags.writeable = False
    return matrix


def handles(kwargs: dict[str, Any]) -> bool:
    """Whether :func:`resample_data` computes ``resample_data_or_seg_to_shape(**kwargs)``.

    Parameters
    ----------
    kwargs : dict
        The plans' ``resampling_fn_data_kwargs``.

    Returns
    -------
    bool
        True for image data (``is_seg`` false) with spline orders 0 to 5.
    """
    return (set(kwargs) <= HANDLED_KWARGS and not kwargs.get("is_seg", False)
            and kwargs.get("order", 3) in range(6) and kwargs.get("order_z", 0) in range(6))


def _in_plane(block: NDArray[np.float64], m_a: NDArray[np.float64] | None,
              m_b: NDArray[np.float64] | None) -> NDArray[np.float64]:
    """Apply the matrices of axes 1 and 2 to a (k, a, b) block, the cheaper order first."""
    k, a, b = block.shape
    a2 = a if m_a is None else m_a.shape[0]
    b2 = b if m_b is None else m_b.shape[0]
    last_first = a * b * b2 + a2 * a * b2 <= a2 * a * b + a2 * b * b2
    for axis in ((2, 1) if last_first else (1, 2)):
        if axis == 2 and m_b is not None:
            block = (block.reshape(-1, b) @ m_b.T).reshape(k, block.shape[1], b2)
        elif axis == 1 and m_a is not None:
            block = np.matmul(m_a, block)
    return block


def _resample_channel(src: NDArray[Any], dst: NDArray[np.float32], stream: int,
                      separate: bool, order: int, order_z: int,
                      normalize: Normalizer | None) -> None:
    """Resample one (normalised) channel into ``dst``, slab by slab along ``stream``."""
    src_t, dst_t = np.moveaxis(src, stream, 0), np.moveaxis(dst, stream, 0)
    (n_s, a, b), (n_s2, a2, b2) = src_t.shape, dst_t.shape
    m_a = zoom_matrix(a, a2, order) if a != a2 else None
    m_b = zoom_matrix(b, b2, order) if b != b2 else None
    m_s: NDArray[np.float64] | None = None
    if n_s != n_s2:
        m_s = map_matrix(n_s, n_s2, order_z) if separate else zoom_matrix(n_s, n_s2, order)
    needed = (np.arange(n_s) if m_s is None
              else np.flatnonzero(np.any(m_s != 0, axis=0)))   # order_z 0: the selected ones
    stack = np.empty((needed.size, a2, b2))
    low, high = np.inf, -np.inf
    step = max(1, SLAB_VOXELS // max(1, a * b))
    for start in range(0, needed.size, step):
        rows = needed[start:start + step]
        if rows[-1] - rows[0] == rows.size - 1:
            block32 = np.array(src_t[rows[0]:rows[-1] + 1], dtype=np.float32)
        else:
            block32 = np.asarray(src_t[rows], dtype=np.float32)
        if normalize is not None:
            block32 = normalize(block32)
        block = block32.astype(np.float64)
        if separate:   # nnU-Net resizes each slice on its own, clipped to its own range
            lo = block32.min(axis=(1, 2)).astype(np.float64)[:, None, None]
            hi = block32.max(axis=(1, 2)).astype(np.float64)[:, None, None]
            stack[start:start + rows.size] = np.clip(_in_plane(block, m_a, m_b), lo, hi)
        else:
            low, high = min(low, float(block32.min())), max(high, float(block32.max()))
            stack[start:start + rows.size] = _in_plane(block, m_a, m_b)
    if m_s is None and separate:
        dst_t[...] = stack
        return
    m_used = None if m_s is None else np.ascontiguousarray(m_s[:, needed])
    rows_per_chunk = max(1, SLAB_VOXELS // max(1, n_s2 * b2))
    for r0 in range(0, a2, rows_per_chunk):
        part = stack[:, r0:r0 + rows_per_chunk]
        if m_used is not None:
            part = (m_used @ part.reshape(needed.size, -1)).reshape(n_s2, -1, b2)
        if not separate:   # resize clips the whole volume to the input range
            part = np.clip(part, low, high)
        dst_t[:, r0:r0 + rows_per_chunk] = part


def resample_data(data: NDArray[Any], new_shape: Sequence[int],
                  current_spacing: Sequence[float], new_spacing: Sequence[float], *,
                  is_seg: bool = False, order: int = 3, order_z: int = 0,
                  force_separate_z: bool | None = False,
                  separate_z_anisotropy_threshold: float | None = None,
                  normalizers: Sequence[Normalizer | None] | None = None) -> NDArray[Any]:
    """nnU-Net's ``resample_data_or_seg_to_shape`` for image data, separably.

    The separate-z decision is nnU-Net's own (``determine_do_sep_z_and_axis``).

    Parameters
    ----------
    data : ndarray, shape (c, a, b, d)
        Image channels (float; any strides). Not modified.
    new_shape : sequence of 3 int
        Output shape (a', b', d'), voxels.
    current_spacing, new_spacing : sequence of 3 float
        Spacing of ``data`` and of the output, mm.
    is_seg : bool
        Must be false (segmentations are not handled here).
    order, order_z, force_separate_z, separate_z_anisotropy_threshold
        As in nnU-Net (threshold default: ``nnunetv2.configuration.ANISO_THRESHOLD``).
    normalizers : sequence of callable or None, optional
        Per channel, a pointwise normalisation applied to each float32 block read (in
        place) before resampling, so that ``data`` can be the raw image: the same values as
        normalising the channel first.

    Returns
    -------
    ndarray of float32, shape (c, a', b', d')
        Resampled channels (a float32 copy of ``data``, normalised, when the shape does
        not change: nnU-Net then returns its input as it is).
    """
    from nnunetv2.configuration import ANISO_THRESHOLD
    from nnunetv2.preprocessing.resampling.default_resampling import (
        determine_do_sep_z_and_axis,
    )

    if is_seg:
        raise ValueError("resample_data resamples image data only (is_seg=False)")
    if data.ndim != 4 or len(new_shape) != 3:
        raise ValueError(f"data must be (c, a, b, d) and new_shape 3 long, got {data.shape}, "
                         f"{tuple(new_shape)}")
    norms = list(normalizers) if normalizers is not None else [None] * data.shape[0]
    if len(norms) != data.shape[0]:
        raise ValueError(f"{len(norms)} normalizers for {data.shape[0]} channels")
    out_shape = tuple(int(s) for s in new_shape)
    if tuple(data.shape[1:]) == out_shape:   # nnU-Net returns its input unresampled
        same = np.array(data, dtype=np.float32)
        for c, normalize in enumerate(norms):
            if normalize is not None:
                same[c] = normalize(same[c])
        return same
    threshold = (ANISO_THRESHOLD if separate_z_anisotropy_threshold is None
                 else separate_z_anisotropy_threshold)
    separate, axis = determine_do_sep_z_and_axis(force_separate_z, current_spacing,
                                                 new_spacing, threshold)
    stream = int(axis) if separate and axis is not None else 0
    out = np.empty((data.shape[0], *out_shape), np.float32)
    # OpenBLAS threads spin while they wait: on a busy machine two of them took ten times
    # the CPU time of one for these matrix products
    with threadpool_limits(limits=1, user_api="blas"):
        for c in range(data.shape[0]):
            _resample_channel(data[c], out[c], stream, bool(separate), order, order_z,
                              norms[c])
    return out


def _normalizer(scheme: str, use_mask: bool, intensity: dict[str, Any]) -> Any:
    """nnU-Net's normalisation class ``scheme``, looked up as ``_normalize`` does."""
    from os.path import join

    import nnunetv2
    from nnunetv2.utilities.find_class_by_name import recursive_find_python_class

    cls = recursive_find_python_class(join(nnunetv2.__path__[0], "preprocessing",
                                           "normalization"),
                                      scheme, "nnunetv2.preprocessing.normalization")
    if cls is None:
        raise RuntimeError(f"Unable to locate class '{scheme}' for normalization")
    return cls(use_mask_for_norm=use_mask, intensityproperties=intensity)


def network_shape(shape: Sequence[int], original_spacing: Sequence[float],
                  configuration_manager: Any) -> tuple[list[float], list[int]]:
    """Target spacing and shape of the network input, as nnU-Net's preprocessor computes them.

    Parameters
    ----------
    shape : sequence of int
        Spatial shape of the cropped image, in the plans' axis order.
    original_spacing : sequence of float
        Its spacing in mm, same order.
    configuration_manager : nnunetv2 ConfigurationManager
        The configuration run (its ``spacing``; a 2d configuration keeps the slices).

    Returns
    -------
    target_spacing : list of float
        Spacing in mm after resampling.
    new_shape : list of int
        Spatial shape after resampling.
    """
    from nnunetv2.preprocessing.resampling.default_resampling import compute_new_shape

    target_spacing = list(configuration_manager.spacing)
    if len(target_spacing) < len(shape):   # 2d configurations keep the slices
        target_spacing = [original_spacing[0], *target_spacing]
    new_shape = compute_new_shape(shape, original_spacing, target_spacing)
    return target_spacing, [int(n) for n in new_shape]


def run_case(image: NDArray[Any], spacing_mm: Sequence[float], plans_manager: Any,
             configuration_manager: Any) -> tuple[NDArray[np.float32], dict[str, Any]] | None:
    """``DefaultPreprocessor.run_case_npy`` for an image without segmentation.

    The steps and bookkeeping are nnU-Net's (transpose, crop to the nonzero bounding box,
    normalise, resample the data; the nonzero-mask segmentation only training uses is not
    resampled). Pointwise normalisations (``CTNormalization``, ``NoNormalization``) run on
    each slab as it is read, and the crop is a view, so the input is never copied whole;
    other normalisations run on a cropped float32 copy with nnU-Net's own
    ``crop_to_nonzero`` (its mask may be used) before the same resampling.

    Parameters
    ----------
    image : ndarray, shape (c, z, y, x)
        Image channels (cast to float32 like nnU-Net does). Not modified.
    spacing_mm : sequence of 3 float
        Spacing (z, y, x) in mm, in the image's axis order.
    plans_manager : nnunetv2 PlansManager
        The model's plans.
    configuration_manager : nnunetv2 ConfigurationManager
        The configuration run (its preprocessor must be ``DefaultPreprocessor``).

    Returns
    -------
    (data, properties) or None
        Network input of float32, shape (c, z', y', x') in the plans' axis order, and
        nnU-Net's properties (``spacing``, ``shape_before_cropping``,
        ``bbox_used_for_cropping``, ``shape_after_cropping_and_before_resampling``);
        None when the plans resample the data with another function or arguments than
        :func:`resample_data` reproduces.
    """
    from acvl_utils.cropping_and_padding.bounding_boxes import bounding_box_to_slice
    from nnunetv2.preprocessing.cropping.cropping import crop_to_nonzero
    from nnunetv2.preprocessing.normalization.default_normalization_schemes import (
        CTNormalization,
        NoNormalization,
    )
    from nnunetv2.preprocessing.resampling.default_resampling import (
        resample_data_or_seg_to_shape,
    )

    fn = configuration_manager.resampling_fn_data
    if not (isinstance(fn, functools.partial) and fn.func is resample_data_or_seg_to_shape
            and not fn.args and handles(fn.keywords)):
        return None
    image = np.asarray(image, dtype=np.float32)   # no copy for float32 input
    forward = list(plans_manager.transpose_forward)
    properties: dict[str, Any] = {"spacing": [float(s) for s in spacing_mm]}
    data = image.transpose([0, *[i + 1 for i in forward]])
    original_spacing = [properties["spacing"][i] for i in forward]
    properties["shape_before_cropping"] = data.shape[1:]
    intensities = plans_manager.foreground_intensity_properties_per_channel
    normalizers = [_normalizer(configuration_manager.normalization_schemes[c],
                               configuration_manager.use_mask_for_norm[c], intensities[str(c)])
                   for c in range(data.shape[0])]
    pointwise = all(type(n) in (CTNormalization, NoNormalization) for n in normalizers)
    slab_norms: list[Normalizer | None] | None = None
    if pointwise:   # neither reads the mask: the bounding box is enough
        bbox = nonzero_bbox(data)
        data = data[(slice(None), *bounding_box_to_slice(bbox))]
        slab_norms = [functools.partial(n.run, seg=None) for n in normalizers]
    else:
        data = image.astype(np.float32).transpose([0, *[i + 1 for i in forward]])
        data, seg, bbox = crop_to_nonzero(data, None)
        for c, normalizer in enumerate(normalizers):
            data[c] = normalizer.run(data[c], seg[0])
    properties["bbox_used_for_cropping"] = bbox
    properties["shape_after_cropping_and_before_resampling"] = data.shape[1:]
    target_spacing, new_shape = network_shape(data.shape[1:], original_spacing,
                                              configuration_manager)
    out = resample_data(data, new_shape, original_spacing, target_spacing,
                        normalizers=slab_norms, **fn.keywords)
    return np.asarray(out, dtype=np.float32), properties
